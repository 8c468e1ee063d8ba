"""Which int8 tensors carry the gap between two calibrators on one of issue
11's image classifier rows (benchmarks/realnets/issue11_rows.py): the
first calibrator's cache with one group of tensors given the second's
thresholds, one engine per group, each scored on the row's evaluation
images (the row's metric and centred cosine against ONNX Runtime FP32) and
on its calibration images. Groups: the network input, the input's linear
image (int8rt.accuracy.input_range.linear_image), the tensors between consecutive
downsampling layers (stages), tensors grouped by the op that produces them,
and everything but the input's image.

``--compare`` also prints each int8 tensor's SQNR in both engines (
int8rt.accuracy.compare) on the evaluation images whose per-image standard
deviation is above ``--extreme-std`` (acc15: crops of the silhouette
photograph) and on 8 others.

    PYTHONPATH=python python benchmarks/threshold_group_ablation.py convnext_hf mse minmax --dir /tmp/acc15/models
    PYTHONPATH=python python benchmarks/threshold_group_ablation.py convnext_hf mse minmax --calib-seed 4
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from issue11_gap_probe import load_row  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402


def _cache(row, algo: str, folder: str) -> tuple[str, dict[str, str]]:
    """``algo``'s calibration cache of ``row``: its header, tensor -> scale's hex."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    path = os.path.join(folder, f"{algo}.cache")
    int8rt.build_engine(row.path, int8rt.BuilderConfig(calibrator=make_calibrator(
        list(row.calib), algorithm=algo, cache_file=path), accuracy_check=False))
    lines = open(path).read().splitlines()
    return lines[0], dict(line.split(": ") for line in lines[1:])


def _engine(row, algo: str, header: str, scales: dict[str, str], folder: str):
    """The engine of a cache holding ``scales`` under ``algo``'s header (read, so no calibration runs)."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    path = os.path.join(folder, "mixed.cache")
    with open(path, "w") as f:
        f.write("\n".join([header] + [f"{k}: {v}" for k, v in scales.items()]) + "\n")
    return int8rt.build_engine(row.path, int8rt.BuilderConfig(calibrator=make_calibrator(
        list(row.calib), algorithm=algo, cache_file=path), accuracy_check=False))


def _groups(row, names: list[str]) -> dict[str, list[str]]:
    """Named groups of the cache's tensors, in the optimized network's run order."""
    from int8rt import _core
    from int8rt.accuracy import input_range
    from int8rt.builder import _to_network

    network = _core.Builder(_to_network(row.path, None), "int8").optimized_network()
    tensors = network.tensors()
    produced: dict[str, str] = {}
    for node in network.nodes():
        for o in node["outputs"]:
            produced[tensors[o]["name"]] = node["op"]
    inputs = {tensors[i]["name"] for i in network.inputs()}
    ordered = [n for n in inputs if n in names] + [n for n in produced if n in names]
    image = input_range.linear_image(network)
    out = {"input": sorted(inputs & set(names)), "input's linear image": [n for n in ordered if n in image]}
    # stages: split at every strided Conv after the first (the downsampling layers)
    stage, cuts = [], []
    for node in network.nodes():
        if node["op"] == "Conv" and max(node["attrs"].get("strides", [1])) > 1:
            cuts.append(tensors[node["outputs"][0]]["name"])
    for n in ordered:
        if n in image:
            continue
        if n in cuts[1:] and stage:
            out[f"stage {len([k for k in out if k.startswith('stage')]) + 1}"] = stage
            stage = []
        stage.append(n)
    out[f"stage {len([k for k in out if k.startswith('stage')]) + 1}"] = stage
    for op in sorted({produced[n] for n in ordered if n in produced}):
        members = [n for n in ordered if produced.get(n) == op and n not in image]
        if members:
            out[f"made by {op}"] = members
    out["all but the input's image"] = [n for n in ordered if n not in image]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("row", choices=["vit_hf", "convnext_hf"])
    ap.add_argument("base", help="the calibrator whose cache is changed (mse)")
    ap.add_argument("other", help="the calibrator whose thresholds a group gets (minmax)")
    ap.add_argument("--dir", default="/tmp/issue11_verify")
    ap.add_argument("--calib-seed", type=int, help="calibrate on 32 crops of this seed instead of the row's")
    ap.add_argument("--compare", action="store_true", help="per-tensor SQNR of both engines")
    ap.add_argument("--extreme-std", type=float, default=1.7)
    args = ap.parse_args()
    from int8rt.accuracy.metrics import centred_cosine

    row = load_row(args.row, args.dir, args.calib_seed)
    fp32 = ort_session(row.path)
    refs = {k: np.concatenate([fp32.run([row.output], f)[0] for f in v])
            for k, v in (("evaluation", row.evaluation), ("calibration", row.calib))}
    with tempfile.TemporaryDirectory() as folder:
        header, base = _cache(row, args.base, folder)
        _, other = _cache(row, args.other, folder)

        def score(scales: dict[str, str]) -> str:
            ctx = _engine(row, args.base, header, scales, folder).create_execution_context()
            out = {k: np.concatenate([ctx.run(f)[row.output] for f in v])
                   for k, v in (("evaluation", row.evaluation), ("calibration", row.calib))}
            metric = row.metric([out["evaluation"]], [refs["evaluation"]], row.evaluation)
            return (f"evaluation ccos {centred_cosine(refs['evaluation'], out['evaluation']):.5f}, "
                    f"{', '.join(f'{k} {v:.3f}' for k, v in metric.items() if k != 'ccos')}; calibration ccos "
                    f"{centred_cosine(refs['calibration'], out['calibration']):.6f}")

        print(f"{args.base}: {score(base)}", flush=True)
        print(f"{args.other}: {score(other)}", flush=True)
        for name, members in _groups(row, list(base)).items():
            print(f"{args.base} with {args.other} on {name} ({len(members)} tensors): "
                  f"{score({**base, **{n: other[n] for n in members}})}", flush=True)
        if args.compare:
            _compare(row, args, header, base, other, folder)
    return 0


def _compare(row, args, header: str, base: dict[str, str], other: dict[str, str], folder: str) -> None:
    from int8rt.accuracy.compare import compare

    name = next(iter(row.evaluation[0]))
    images = np.concatenate([f[name] for f in row.evaluation])
    std = images.reshape(len(images), -1).std(axis=1)
    extreme = np.where(std > args.extreme_std)[0]
    rest = np.setdiff1d(np.arange(len(images)), extreme)[:8]
    print(f"evaluation images with std > {args.extreme_std}: {extreme.tolist()}", flush=True)
    rows = {}
    for tag, scales in ((args.base, base), (args.other, other)):
        engine = _engine(row, args.base, header, scales, folder)
        for part, idx in (("extreme", extreme), ("others", rest)):
            rows[tag, part] = {r.name: r for r in compare(row.path, engine, {name: images[idx]})}
    print(f"tensor (op, precision): SQNR dB {args.base} / {args.other} on the extreme images | on 8 others")
    for n, r in rows[args.base, "extreme"].items():
        cells = [f"{rows[t, p][n].sqnr_db:.1f}" if n in rows[t, p] else "-"
                 for p in ("extreme", "others") for t in (args.base, args.other)]
        print(f"{n} ({r.op}, {r.precision}): {cells[0]} / {cells[1]} | {cells[2]} / {cells[3]}")


if __name__ == "__main__":
    sys.exit(main())
