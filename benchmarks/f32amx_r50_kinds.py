"""int8rt FP32 ResNet-50's conv time by kernel kind (1x1 pointwise, dense
KxK, the rest), from the engine's per-layer profile (thread CPU time, the
per-layer minimum over 4 x 3 runs, 1 thread). Run it alternately under two
builds (PYTHONPATH) to A/B a kernel change: RESULTS.md section 180.

Usage: PYTHONPATH=python python benchmarks/f32amx_r50_kinds.py [BATCH] [--model /tmp/e2eamx/models/resnet50.onnx]
"""
from __future__ import annotations

import argparse
import collections

import numpy as np

import int8rt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("batch", type=int, nargs="?", default=1)
    ap.add_argument("--model", default="/tmp/e2eamx/models/resnet50.onnx")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    ctx = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = {"input": np.random.default_rng(1).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)}
    best: dict = {}
    for _ in range(4):
        for r in ctx.profile(x, runs=3, clock="thread_cpu"):
            best[r["name"]] = (min(best.get(r["name"], (np.inf,))[0], r["ms"]), r["detail"])
    agg: dict = collections.defaultdict(float)
    for ms, detail in best.values():
        agg["1x1" if "1x1" in detail else "dense" if "dense" in detail else "other"] += ms
    print(" ".join(f"{k} {v:.2f}" for k, v in sorted(agg.items())))


if __name__ == "__main__":
    main()
