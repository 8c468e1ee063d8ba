"""int8rt's default FP32 engine against ONNX Runtime FP32, two int8rt trees
(base and branch) compared (RESULTS.md section 148, issue 14 §3: GoogLeNet's
Inception blocks in the channel-blocked region).

Each pass starts one process per tree, the trees alternated (base, branch,
base, ...); in a process, per model and batch, the int8rt engine and the ORT
session run alternately round by round, 1 thread each, and the medians of
thread CPU ms per run are printed with their ratio, the engine's
channel-blocked report line, its largest output difference from ORT relative
to the output's largest magnitude, and the 1-minute load. A summary table of
the ratios per pass follows, and whether each model's outputs (seeded
feeds, first pass) are the same bytes in every tree.

Usage: cd /tmp && python3 <repo>/benchmarks/f32goog_ab.py --trees base=/copy/of/base/python \\
         branch=/copy/of/branch/python --models /tmp/lead/models/googlenet.onnx --batches 1 8 --passes 4
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def child(models: list[str], batches: list[int], rounds: int, save: str) -> None:
    sys.path.insert(0, str(HERE))
    import int8rt
    from fp32_onnx_ab import alternate, seeded_feeds
    from fp32_peer_bench import ort_session

    int8rt.set_num_threads(1)
    for model in models:
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
        region = "; ".join(line for line in engine.report() if line.startswith("channel-blocked")) or "no region"
        ctx, sess = engine.create_execution_context(), ort_session(Path(model))
        for b in batches:
            feeds = seeded_feeds(model, b)
            ours, ref = list(ctx.run(feeds).values())[0], sess.run(None, feeds)[0].astype(np.float64)
            if save:
                np.save(f"{save}/{Path(model).stem}_b{b}.npy", ours)
            m = alternate({"int8rt": lambda: ctx.run(feeds), "ORT": lambda: sess.run(None, feeds)}, rounds)
            print("ROW " + json.dumps({
                "model": Path(model).stem, "batch": b, "int8rt_ms": m["int8rt"][1], "ort_ms": m["ORT"][1],
                "ratio": m["int8rt"][1] / m["ORT"][1], "region": region, "load": os.getloadavg()[0],
                "max_rel": float(np.abs(ours - ref).max() / np.abs(ref).max())}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", nargs="+", default=[], help="label=PYTHONPATH (a copy of a built tree's python/)")
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--passes", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=9, help="alternating rounds per model and batch")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--save", default="", help=argparse.SUPPRESS)  # child: where its outputs go
    args = ap.parse_args()
    if args.child:
        child(args.models, args.batches, args.rounds, args.save)
        return 0
    trees = dict(t.split("=", 1) for t in args.trees)
    ratios: dict = {}
    outputs = tempfile.TemporaryDirectory()
    for p in range(args.passes):
        for label, path in trees.items():
            env = dict(os.environ, PYTHONPATH=path, OPENBLAS_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
            save = os.path.join(outputs.name, label) if p == 0 else ""
            if save:
                os.makedirs(save)
            out = subprocess.run([sys.executable, __file__, "--child", "--models", *args.models, "--batches",
                                  *map(str, args.batches), "--rounds", str(args.rounds), "--save", save],
                                 env=env, capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                if not line.startswith("ROW "):
                    continue
                r = json.loads(line[4:])
                print(f"pass {p + 1} {label}: {r['model']} b{r['batch']} int8rt {r['int8rt_ms']:.2f} / ORT "
                      f"{r['ort_ms']:.2f} ms = {r['ratio']:.3f} (max rel {r['max_rel']:.1e}, load "
                      f"{r['load']:.1f}; {r['region']})", flush=True)
                ratios.setdefault((r["model"], r["batch"], label), []).append(r["ratio"])
    print("\n| model | batch | tree | int8rt ÷ ORT per pass | median |\n|---|---|---|---|---:|")
    for (model, b, label), v in ratios.items():
        print(f"| {model} | {b} | {label} | {' '.join(f'{x:.3f}' for x in v)} | {float(np.median(v)):.3f} |")
    labels = list(trees)
    for name in sorted(os.listdir(os.path.join(outputs.name, labels[0]))):
        ys = [np.load(os.path.join(outputs.name, label, name)) for label in labels]
        same = all(np.array_equal(ys[0], y) for y in ys[1:])
        print(f"{name[:-4]}: outputs {'the same bytes' if same else 'differ'} in {', '.join(labels)}")
    outputs.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
