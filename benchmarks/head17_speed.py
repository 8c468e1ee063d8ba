"""acc64: per-layer CPU time of MTCNN PNet with its box regression conv
(conv4_2) writing float32 (the build of commit 2c9b0f1c: QConv float32 NHWC ->
float32 Transpose to NCHW) against the int8 head main's build makes (QConv int8
-> Dequantize), both engine files run by one build in one process (any build
since acc56 runs both forms), alternated (a, b, a, b, ...):
per layer the minimum thread CPU time over the rounds (ExecutionContext.profile,
2 runs each, 1 thread), the changed layers' sum and the whole engine's.

PNet (head17_mtcnn_heads.stage_model: box regression and logits as outputs) at
its 12 x 12 training size and at 96 x 96 / 240 x 240, sizes of a detector's
image pyramid (the box output [N, 4, 43, 43] / [N, 4, 115, 115]); minmax
calibration on calib15_mtcnn.py's draw-1 crops resized to the size.

Usage:
  PYTHONPATH=<main's build>/python python benchmarks/head17_speed.py --save DIR_BEFORE
  PYTHONPATH=<2c9b0f1c's build>/python python benchmarks/head17_speed.py --save DIR_AFTER
  PYTHONPATH=python python benchmarks/head17_speed.py --time DIR_BEFORE DIR_AFTER [--rounds 40]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib15_mtcnn as M
import head17_mtcnn_heads as H

SIZES = (12, 96, 240)
BATCHES = (1, 8)


def save(wheel: str, out: Path) -> None:
    """One engine per size (minmax, draw-1 crops) and its inputs, into ``out``."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    x, labels = M.lfw_subset()
    calib, evaluation = M.split(labels, 1)
    out.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        xs = M.stage_inputs(x, size)
        cfg = int8rt.BuilderConfig(calibrator=make_calibrator({"x": xs[calib]}, algorithm="minmax", batch_size=16),
                                   accuracy_check=False)
        int8rt.build_engine(H.stage_model(wheel, "pnet", size), cfg).save(str(out / f"pnet{size}.i8rt"))
        for b in BATCHES:
            np.save(out / f"pnet{size}_x{b}.npy", xs[evaluation[:b]])


def changed(name: str) -> bool:
    """The box conv and what follows it to the output: its Dequantize (int8 head) or Transpose (float32 head)."""
    return "conv4_2" in name or name.startswith("bbox")


def time_pair(before: Path, after: Path, rounds: int) -> None:
    import int8rt

    int8rt.set_num_threads(1)
    print("load", Path("/proc/loadavg").read_text().split()[:3])
    print("| size | batch | changed layers, int8 head (us) | float32 head (us) | float ÷ int8 | whole engine, int8 head "
          "(us) | float32 head (us) | float ÷ int8 |")
    print("|---|---|---|---|---|---|---|---|")
    for size in SIZES:
        engines = [int8rt.Engine.load(str(d / f"pnet{size}.i8rt")) for d in (before, after)]
        for b in BATCHES:
            feed = {"x": np.load(before / f"pnet{size}_x{b}.npy")}
            ctxs = [e.create_execution_context() for e in engines]
            outs = [e.run(feed)["bbox"] for e in engines]
            assert outs[1].dtype == np.float32 and outs[0].shape == outs[1].shape
            profs: list[list[list[dict]]] = [[], []]
            for _ in range(rounds):
                for i in (0, 1):
                    profs[i].append(ctxs[i].profile(feed, 2, clock="thread_cpu"))
            minima = [{row["name"]: min(p[j]["ms"] for p in profs[i]) for j, row in enumerate(profs[i][0])}
                      for i in (0, 1)]
            head = [1e3 * sum(v for k, v in m.items() if changed(k)) for m in minima]
            whole = [1e3 * sum(m.values()) for m in minima]
            print(f"| {size} | {b} | {head[0]:.1f} | {head[1]:.1f} | {head[1] / head[0]:.3f} | {whole[0]:.1f} | "
                  f"{whole[1]:.1f} | {whole[1] / whole[0]:.3f} |", flush=True)
            for i, tag in ((0, "int8 head"), (1, "float32 head")):
                rows = ", ".join(f"{k} {1e3 * v:.1f}" for k, v in minima[i].items() if changed(k))
                print(f"    {tag}: {rows}")
    print("load", Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", default="/tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl")
    ap.add_argument("--save", type=Path)
    ap.add_argument("--time", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    if args.save:
        save(args.wheel, args.save)
    if args.time:
        time_pair(*args.time, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
