"""ResNet-50's BF16 convs of the 14 x 14 / 7 x 7 stages and the strided
transitions into them, one at a time (RESULTS.md section 221): per shape
bf16conv_layers.py's 4-conv BF16 region around the conv under test, batch
8; ROUNDS rounds over the shapes, per shape the median over rounds of the
thread-CPU time of the conv under test (median of ExecutionContext.profile
calls within MIN_TIME), and a SHA-256 of the network's output bytes (so two
trees that claim the same arithmetic can be compared bit for bit).
Run it once per tree, two trees started together, and compare the ratios.

Usage: PYTHONPATH=<tree>/python python3 benchmarks/bf16r50c_layers.py [--batch 8] [--rounds 5]
       [--min-time 0.3] [--threads 1] [--only 3x3/2 ...]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16conv_layers import SHAPES, bf16_conv_engine, conv_times  # noqa: E402
from bf16r50c_knobs import EXTRA  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="+", default=None, help="labels containing one of these strings")
    args = ap.parse_args()
    int8rt.set_num_threads(args.threads)
    print(machine_line())
    print(f"int8rt {os.path.dirname(int8rt.__file__)}, batch {args.batch}, {args.threads} thread(s), {load_line()}")
    shapes = [s for s in SHAPES["r50"] + EXTRA if not args.only or any(o in s[0] for o in args.only)]
    runs, keep = [], []
    for label, C, M, hw, k, stride, res in shapes:
        eng = bf16_conv_engine(C, M, hw, k, stride, res)
        feed = {"x": np.random.default_rng(1).standard_normal((args.batch, 16, hw, hw)).astype(np.float32)}
        ctx = eng.create_execution_context()
        out = ctx.run(feed)
        digest = hashlib.sha256(b"".join(np.ascontiguousarray(out[k]).tobytes() for k in sorted(out))).hexdigest()
        keep.append(eng)
        runs.append((label, ctx, feed, digest[:16]))
    times = conv_times(runs, args.rounds, args.min_time)
    print("| conv | median thread-CPU ms | output sha256 |")
    print("|---|---:|---|")
    for label, _, _, digest in runs:
        print(f"| {label} | {np.median(times[label]):.3f} | {digest} |")
    print(f"end: {load_line()}")


if __name__ == "__main__":
    main()
