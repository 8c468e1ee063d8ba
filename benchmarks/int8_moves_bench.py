"""Data movement in int8 (issue 14, "int8 all the way through"): how many
Quantize / Dequantize an INT8 engine still inserts, and its latency, before
and after data-movement layers (Transpose, Slice, Split, Pad, Reshape,
Flatten, Squeeze, Unsqueeze, DepthToSpace, SpaceToDepth, Concat on any axis,
bilinear Resize)
run in int8, on real networks, in one process.

"before": the same calibration and build with those layers kept in float32
(``layer_precisions``), which lowers them as int8rt did before: Dequantize,
the float op, Quantize. (Channel Concat of rank-4 tensors and Flatten of
[N, C, 1, 1] were already int8 and stay so in "before".) "after": the default
build. Both engines come from one calibration (the cache of the first is
handed to the second), so they differ only in these layers.

Networks: PP-OCRv4 det and rec and PP-OCR v2.0 cls (rapidocr-onnxruntime
wheel, realnets/ocr_models.py static_input_model), ResNet-18-like,
MobileNetV2-like and ShuffleNetV2-like (e2e_models.py, random weights,
torch.onnx.export opset 17).
Calibration: minmax (--algorithm) on rendered text lines (rec, cls; det: random
uniform [-1, 1] images), standard normal images for the torchvision-like
nets. Accuracy: the realnets task score (rec, cls) on an evaluation split,
and agreement with the FP32 engine (max |diff| of the output) for every net.
Latency: 1 thread, batch 1 and 8, one execution context per engine, medians
of rounds alternated between the two engines (realnets/timing.py), measured
in both orders and averaged.

Usage: PYTHONPATH=python python3 benchmarks/int8_moves_bench.py [--models det,rec,cls,resnet18,mobilenet_v2,shufflenet_v2]
       [--rounds 15] [--det-size 320]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realnets.timing import alternating_medians  # noqa: E402

MOVES = {"Transpose", "Slice", "Split", "Pad", "Reshape", "Squeeze", "Unsqueeze", "DepthToSpace", "SpaceToDepth"}


def newly_int8_nodes(model_bytes: bytes) -> list[str]:
    """The nodes this change moves into int8 (what "before" keeps in float32)."""
    from int8rt.onnx import import_model

    net = import_model(model_bytes)
    tensors = net.tensors()
    out = []
    for n in net.nodes():
        shape = tensors[n["outputs"][0]]["shape"] if n["outputs"] else []
        if n["op"] in MOVES:
            out.append(n["name"])
        elif n["op"] == "Concat" and not (len(shape) == 4 and n["attrs"].get("axis") in (1, -3)):
            out.append(n["name"])
        elif n["op"] == "Resize" and n["attrs"].get("mode") in ("linear", "bilinear"):
            out.append(n["name"])
        elif n["op"] == "Flatten":
            xs = tensors[n["inputs"][0]]["shape"]
            if not (len(xs) == 4 and xs[2] == 1 and xs[3] == 1 and n["attrs"].get("axis", 1) == 1):
                out.append(n["name"])
    return out


def subjects(names: list[str], det_size: int, tmp: str):
    """(name, model bytes, calibration batch, evaluation batch, task or None) per network."""
    from realnets.ocr_models import cls_task, models_dir, rec_task, static_input_model
    from realnets.text_images import text_lines

    folder = models_dir()
    for name in names:
        if name in ("rec", "cls"):
            if folder is None:
                print(f"skipping {name}: pip install rapidocr-onnxruntime --no-deps")
                continue
            task = (rec_task if name == "rec" else cls_task)(folder)
            model = static_input_model(task.onnx_file, task.chw).SerializeToString()
            xc, _ = task.make_inputs(text_lines(32, seed=1), 101)
            xe, labels = task.make_inputs(text_lines(64, seed=2), 102)
            yield task.name, model, xc, (xe, labels), task
        elif name == "det":
            if folder is None:
                continue
            chw = (3, det_size, det_size)
            model = static_input_model(os.path.join(folder, "ch_PP-OCRv4_det_infer.onnx"), chw).SerializeToString()
            rng = np.random.default_rng(1)
            yield "ppocrv4_det", model, rng.uniform(-1, 1, (8,) + chw).astype(np.float32), \
                (rng.uniform(-1, 1, (4,) + chw).astype(np.float32), None), None
        else:
            import torch
            from e2e_models import make_model
            path = os.path.join(tmp, f"{name}.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(make_model(name), torch.zeros(1, 3, 224, 224), path, dynamo=False,
                                  input_names=["input"], output_names=["logits"], opset_version=17,
                                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
            rng = np.random.default_rng(0)
            with open(path, "rb") as f:
                yield name, f.read(), rng.standard_normal((16, 3, 224, 224), dtype=np.float32), \
                    (rng.standard_normal((4, 3, 224, 224), dtype=np.float32), None), None


def build_pair(model: bytes, xc: np.ndarray, cache: str, algorithm: str):
    """(before, after, fp32) engines from one calibration (written to and read from `cache`)."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from int8rt.onnx import import_model

    net = import_model(model)
    name = net.tensors()[net.inputs()[0]]["name"]
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    after = int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=make_calibrator({name: xc}, algorithm=algorithm, batch_size=8, cache_file=cache)))
    nodes = newly_int8_nodes(model)
    before = int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=make_calibrator({name: xc}, algorithm=algorithm, batch_size=8, cache_file=cache),
        layer_precisions={n: "fp32" for n in nodes}))
    return before, after, fp32, name, nodes


def remaining(engine) -> str:
    """What the Dequantizes feed and the Quantizes follow (lowered op types), most frequent first."""
    import collections

    ops = {layer["name"]: layer["op"] for layer in engine.layers()}
    c = collections.Counter()
    for cv in engine.int8_plan().converts:
        kind = "Q after" if cv.op == "int8rt.Quantize" else "DQ into"
        c.update(f"{kind} {ops.get(r, r)}" for r in cv.readers) if kind == "DQ into" else c.update([kind])
        if cv.network_output:
            c.update(["DQ: network output"])
    return ", ".join(f"{k} x{v}" for k, v in c.most_common(6))


def counts(engine) -> str:
    plan = engine.int8_plan()
    q = sum(c.op == "int8rt.Quantize" for c in plan.converts)
    dq = sum(c.op == "int8rt.Dequantize" for c in plan.converts)
    fp32 = sum(layer["precision"] == "fp32" for layer in engine.layers())
    return f"{q} Q + {dq} DQ, {fp32} fp32 layers"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="det,rec,cls,resnet18,mobilenet_v2,shufflenet_v2")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--det-size", type=int, default=320)
    ap.add_argument("--algorithm", default="minmax", help="calibrator (entropy2 zeroes rec's accuracy, RESULTS_realnets.md)")
    args = ap.parse_args()
    import int8rt

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, xc, (xe, labels), task in subjects(args.models.split(","), args.det_size, tmp):
            int8rt.set_num_threads(2)
            before, after, fp32, input_name, nodes = build_pair(model, xc, os.path.join(tmp, name + '.cache'), args.algorithm)
            out = {k: e.run({input_name: xe})[e.output_names[0]] for k, e in
                   (("before", before), ("after", after), ("fp32", fp32))}
            acc = {k: float(np.abs(out[k] - out["fp32"]).max()) for k in ("before", "after")}
            score = {k: task.score(out[k], labels) for k in ("before", "after", "fp32")} if task else {}
            int8rt.set_num_threads(1)
            lat = {}
            for b in (1, 8):
                x = np.random.default_rng(b).uniform(-1, 1, (b,) + xe.shape[1:]).astype(np.float32)
                ctx = {"before": before.create_execution_context(), "after": after.create_execution_context()}
                run = {k: (lambda c: (lambda v: c.run({input_name: v})))(c) for k, c in ctx.items()}
                # Both orders (the second engine of a round may inherit the first's cache state), averaged.
                m1 = alternating_medians({"before": run["before"], "after": run["after"]}, x, rounds=args.rounds,
                                         budget_s=120)
                m2 = alternating_medians({"after": run["after"], "before": run["before"]}, x, rounds=args.rounds,
                                         budget_s=120)
                lat[b] = {k: (m1[k] + m2[k]) / 2 for k in m1}
            rows.append((name, len(nodes), counts(before), counts(after), acc, score, lat))
            print(f"{name}: the Q/DQ left: {remaining(after)}")
            print(f"{name}: {len(nodes)} layers newly int8; before {counts(before)}; after {counts(after)}; "
                  f"max|y - fp32| before {acc['before']:.4g} after {acc['after']:.4g}; {score}; "
                  f"latency ms {lat}", flush=True)
    print("\n| network | layers moved to int8 | before: Q/DQ | after: Q/DQ | b1 before / after (ms) "
          "| b8 before / after (ms) | max abs diff to FP32 before / after |")
    print("|---|---|---|---|---|---|---|")
    for name, n, cb, ca, acc, score, lat in rows:
        print(f"| {name} | {n} | {cb} | {ca} | {lat[1]['before']:.2f} / {lat[1]['after']:.2f} "
              f"| {lat[8]['before']:.2f} / {lat[8]['after']:.2f} | {acc['before']:.4g} / {acc['after']:.4g} |")
    for name, n, cb, ca, acc, score, lat in rows:
        if score:
            print(f"\n{name} task score: " + "; ".join(f"{k}: {v}" for k, v in score.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
