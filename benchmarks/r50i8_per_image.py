"""ResNet-50 INT8, layer by layer: one batch-8 run against eight batch-1 runs
(RESULTS.md section 218), to judge running the network's first stages image by
image as the BF16 region's chain does (int8rt.Bf16ImageChain, section 215).

The engine and input are r50i8_layers.save()'s (built here into --dir if it is
empty: e2e_bench's build, --calibrator as there); int8rt's profiler on the
calling thread's CPU clock (1 thread), medians of --runs runs per batch, two
alternated passes (the second printed). Per layer: the batch-8 time, eight
times the batch-1 time, their ratio and both running sums, so the cut where
image-by-image stops paying can be read off.

Usage: PYTHONPATH=python python benchmarks/r50i8_per_image.py --dir /tmp/r50i8/auto [--runs 7]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import r50i8_layers as L  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True, help="r50i8_layers.save()'s layout (built here when empty)")
    ap.add_argument("--models-dir", type=Path, default=None, help="e2e_bench's --models-dir (peers' cached models)")
    ap.add_argument("--calibrator", default="auto")
    ap.add_argument("--runs", type=int, default=7, help="profiled runs at batch 8 (twice as many at batch 1)")
    args = ap.parse_args()
    if not (args.dir / "engine.i8rt").exists():
        L.save(args.dir, args.models_dir, args.calibrator)
    x8, name, ctx, _ = L.load_saved(args.dir, 8)
    x1 = np.ascontiguousarray(x8[:1])
    print(f"load {os.getloadavg()[0]:.2f}; profiles: {args.runs} runs at batch 8, {2 * args.runs} at batch 1, "
          "thread CPU medians, second of two alternated passes")
    for _ in range(2):
        p8 = ctx.profile({name: x8}, runs=args.runs, clock="thread_cpu")
        p1 = {r["name"]: r["ms"] for r in ctx.profile({name: x1}, runs=2 * args.runs, clock="thread_cpu")}
    print("| layer | op | b8 ms | 8 x b1 ms | ratio | sum b8 | sum 8 x b1 |")
    print("|---|---|---|---|---|---|---|")
    s8 = s1 = 0.0
    for r in p8:
        a, b = r["ms"], 8 * p1.get(r["name"], float("nan"))
        s8, s1 = s8 + a, s1 + b
        print(f"| {r['name']} | {r['op']} | {a:.3f} | {b:.3f} | {b / a:.2f} | {s8:.2f} | {s1:.2f} |")
    print(f"(after: load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
