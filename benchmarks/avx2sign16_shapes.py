"""The AVX2 gap convs on signed int8 inputs (RESULTS.md section 235): the
stems on signed image codes (EfficientNet-Lite0 3 -> 32, MobileNetV3
3 -> 16, 3x3 stride 2 at 224), Lite0's last 1x1 320 -> 1280 at 7 x 7 and
PP-OCR det's FPN 3x3 96 -> 24 (at 160 x 160 for a 640 input, and 80 x 80),
each timed alone through the packed-conv test hook by two int8rt trees
(base and branch) in alternated worker processes, 1 thread, thread CPU
time. Inputs uniform int8 in [-128, 127]; weights "bell"
(signed_conv_shapes.bell). Each worker prints per shape the best of
--repeats means of repeated runs (--min-time CPU seconds each) and the
kernel the conv chose; the driver prints per round both trees' times and,
at the end, per shape the median over rounds of each and of branch / base,
with the load average.

Usage: python benchmarks/avx2sign16_shapes.py --base /tmp/base/python --branch python [--rounds 5] [--batch 8]
           [--only stem 1x1 80x80]
       PYTHONPATH=python python benchmarks/avx2sign16_shapes.py --worker   # one tree, one pass
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
    ("stem 3x3/2 224 3->32", 224, 3, 32, 3, 2, 1),
    ("stem 3x3/2 224 3->16", 224, 3, 16, 3, 2, 1),
    ("1x1 7x7 320->1280", 7, 320, 1280, 1, 1, 0),
    ("FPN 3x3 160x160 96->24", 160, 96, 24, 3, 1, 1),
    ("FPN 3x3 80x80 96->24", 80, 96, 24, 3, 1, 1),
]


def worker(min_time: float, repeats: int, batch: int, only: list[str]) -> dict[str, dict]:
    """Times every shape (those whose name contains a word of `only`, when
    given) in this tree; returns {name: {ms, kernel}}."""
    shapes = [sh for sh in SHAPES if not only or any(word in sh[0] for word in only)]
    return time_shapes(shapes, min_time, repeats, batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="the base tree's python/ folder")
    ap.add_argument("--branch", type=Path, help="the branch tree's python/ folder")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="timed means per shape and worker (the best is kept)")
    ap.add_argument("--min-time", type=float, default=0.1, help="CPU seconds per timed mean")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=[], help="shapes whose name contains one of these words")
    ap.add_argument("--worker", action="store_true", help="time this tree once, print JSON")
    args = ap.parse_args()
    wargs = ["--min-time", str(args.min_time), "--repeats", str(args.repeats), "--batch", str(args.batch),
             "--only", *args.only]
    if args.worker:
        print(json.dumps(worker(args.min_time, args.repeats, args.batch, args.only)))
        return
    trees = {"base": args.base.resolve(), "branch": args.branch.resolve()}
    times, kernels = alternate_trees(__file__, trees, wargs, args.rounds)
    print(f"batch {args.batch}; kernels: " + "; ".join(f"{n}: {kernels['base'][n]} -> {kernels['branch'][n]}"
                                                    for n in kernels["base"]))
    print_ab(times, args.rounds)


if __name__ == "__main__":
    main()
