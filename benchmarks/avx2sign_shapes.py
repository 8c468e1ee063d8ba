"""The AVX2 convs that read signed inputs (RESULTS.md section 227): each
shape timed one at a time through the packed-conv test hook by two int8rt
trees (base and branch) in alternated worker processes, 1 thread, process
CPU time. The shapes are MobileNetV2's (benchmarks/signed_conv_shapes.py:
the 1x1 expansions after a linear bottleneck, the stem) and its last 1x1
320 -> 1280, the first expansion 16 -> 96 at 112 x 112, and PP-OCRv4 det's
FPN 3x3 96 -> 24 at 80 x 80 and 40 x 40 (signed Add inputs). Inputs uniform
int8 in [-128, 127] (--low -3: in [-3, 127], a hard-swish's output), weights "bell" (signed_conv_shapes.bell). Each worker
prints per shape the mean time of repeated runs (--min-time CPU seconds);
the driver prints per round both trees' times and, at the end, per shape the
median over rounds of each and of branch / base, with the load average.

Usage: python benchmarks/avx2sign_shapes.py --base /work/main/python --branch python [--rounds 5]
       PYTHONPATH=python python benchmarks/avx2sign_shapes.py --worker   # one tree, one pass
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from signed_conv_shapes import SHAPES, alternate_trees, print_ab, time_shapes  # noqa: E402

# (name, H = W, C, K, R = S, stride, pad), batch 1.
EXTRA: list[tuple[str, int, int, int, int, int, int]] = [
    ("exp 112x112 16->96", 112, 16, 96, 1, 1, 0),
    ("1x1 7x7 320->1280", 7, 320, 1280, 1, 1, 0),
    ("det FPN 3x3 80x80 96->24", 80, 96, 24, 3, 1, 1),
    ("det FPN 3x3 40x40 96->24", 40, 96, 24, 3, 1, 1),
]


def worker(min_time: float, low: int) -> dict[str, dict]:
    """Times every shape once in this tree (process CPU time); returns {name: {ms, kernel}}."""
    return time_shapes(SHAPES + EXTRA, min_time, low=low, clock=time.process_time)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="the base tree's python/ folder")
    ap.add_argument("--branch", type=Path, help="the branch tree's python/ folder")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2, help="CPU seconds per shape and worker")
    ap.add_argument("--low", type=int, default=-128, help="inputs uniform in [LOW, 127]")
    ap.add_argument("--worker", action="store_true", help="time this tree once, print JSON")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.min_time, args.low)))
        return
    trees = {"base": args.base.resolve(), "branch": args.branch.resolve()}
    times, _ = alternate_trees(__file__, trees, ["--min-time", str(args.min_time), "--low", str(args.low)],
                               args.rounds)
    print_ab(times, args.rounds, width=28)


if __name__ == "__main__":
    main()
