"""RESULTS.md section 272: the layers the scalar-Mul change touches in NFNet-L0's first region (node_mul_108 ..
node_mul_114 and the region's exit conversions), per-layer thread CPU (ExecutionContext.profile, medians of --runs
profiled runs) for the tree on PYTHONPATH; run it with the base tree's python/ and this tree's, alternated.

Usage: PYTHONPATH=python python benchmarks/region24_layers.py --dir /tmp/region24/models [--batch 8] [--runs 5]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8rt  # noqa: E402
from realnets import new_families2  # noqa: E402,F401 - adds the nets17 architectures
from realnets import new_models as M  # noqa: E402

WATCH = ("node_mul_108", "node_mul_111", "node_mul_114", "silu_3::to_nchw", "mul_108::to_nchw", "mul_114::to_nchw")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    print("command:", " ".join(sys.argv), "| int8rt", os.path.dirname(int8rt.__file__))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load:", os.getloadavg())
    net, path = M.exported("nfnet_l0", a.dir)
    with contextlib.redirect_stdout(io.StringIO()):
        eng = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    feed = {k: np.ascontiguousarray(v[:a.batch]) for k, v in net.feeds(8, 1).items()}
    ms = defaultdict(list)
    ctx = eng.create_execution_context()
    for _ in range(a.runs):
        for la in ctx.profile(feed, 1, clock="thread_cpu"):
            ms[(la["name"], la["op"].removeprefix("int8rt."))].append(la["ms"])
    total = sum(float(np.median(v)) for v in ms.values())
    watched = 0.0
    for (name, op), v in ms.items():
        if name in WATCH:
            watched += float(np.median(v))
            print(f"  {name:20s} {op:24s} {np.median(v):7.3f} ms")
    print(f"batch {a.batch}: watched layers {watched:.3f} ms of {total:.2f} ms (medians of {a.runs}, thread CPU)")


if __name__ == "__main__":
    main()
