"""Signed-input convs of 24 output channels on the AVX2 tier (RESULTS.md
section 242): PP-OCR det's FPN / head 3x3 96 -> 24 (at 80 x 80 and 40 x 40
for its 320 input, 160 x 160 for a 640 one), and, as controls of the 3 x 24
tile's rule (every sign-trick conv of 24 channels per group), 1x1 convs into
24 channels with long and short reductions (MobileNetV2's 144 -> 24 at
56 x 56; 24 -> 24, 16 -> 24), each timed alone through the packed-conv test
hook by two int8rt trees (base and branch) in alternated worker processes,
1 thread, thread CPU time: signed_conv_shapes.alternate_trees, inputs
uniform int8 in [-128, 127] (the sign tile's case), bell weights.

Usage: python benchmarks/avx2det17_shapes.py --base /tmp/base/python --branch python [--rounds 5] [--batch 1]
       PYTHONPATH=python python benchmarks/avx2det17_shapes.py --worker   # one tree, one pass
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from signed_conv_shapes import alternate_trees, print_ab, time_shapes  # noqa: E402

# (name, H = W, C, K, R = S, stride, pad).
SHAPES: list[tuple[str, int, int, int, int, int, int]] = [
    ("FPN 3x3 80x80 96->24", 80, 96, 24, 3, 1, 1),
    ("FPN 3x3 40x40 96->24", 40, 96, 24, 3, 1, 1),
    ("FPN 3x3 160x160 96->24", 160, 96, 24, 3, 1, 1),
    ("1x1 56x56 144->24", 56, 144, 24, 1, 1, 0),
    ("1x1 56x56 24->24", 56, 24, 24, 1, 1, 0),
    ("1x1 80x80 16->24", 80, 16, 24, 1, 1, 0),
]


def worker(min_time: float, repeats: int, batch: int) -> dict[str, dict]:
    """Times every shape in this tree; returns {name: {ms, kernel}}."""
    return time_shapes(SHAPES, min_time, repeats, batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="the base tree's python/ folder")
    ap.add_argument("--branch", type=Path, help="the branch tree's python/ folder")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="timed means per shape and worker (the best is kept)")
    ap.add_argument("--min-time", type=float, default=0.05, help="CPU seconds per timed mean")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--worker", action="store_true", help="time this tree once, print JSON")
    args = ap.parse_args()
    wargs = ["--min-time", str(args.min_time), "--repeats", str(args.repeats), "--batch", str(args.batch)]
    if args.worker:
        print(json.dumps(worker(args.min_time, args.repeats, args.batch)))
        return
    trees = {"base": args.base.resolve(), "branch": args.branch.resolve()}
    times, _ = alternate_trees(__file__, trees, wargs, args.rounds)
    print(f"batch {args.batch}, load {open('/proc/loadavg').read().split()[:3]}")
    print_ab(times, args.rounds)


if __name__ == "__main__":
    main()
