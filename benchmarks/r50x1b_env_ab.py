"""One tree, two environments, layer by layer (RESULTS.md section 206): the
saved ResNet-50 engine of r50i8_ab.py's --dir profiled in child processes
run in turn under environment A (as this process has it) and environment B
(A plus the --b-env settings, e.g. INT8RT_U8_CODES=0: every int8 tensor
int8-coded, so the AMX 1x1s take tdpbssd with no -128 * sum(w) and store no
xor), the order swapped every pair. Per shape label (r50i8_layers.py's) the
medians over the pairs of each environment's per-process minima and B / A
(< 1: B faster), then the layer sums.

Usage:
    PYTHONPATH=python python benchmarks/r50x1b_env_ab.py --dir /tmp/r50x1b/r50auto --b-env INT8RT_U8_CODES=0 \\
        --pairs 4 --rounds 5 --batch 8
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import r50i8_ab  # noqa: E402  (its alternation of --json child processes and its table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--b-env", nargs="+", required=True, help="NAME=VALUE settings of environment B")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    envs = {"A": dict(os.environ), "B": dict(os.environ, **dict(s.split("=", 1) for s in args.b_env))}
    res = r50i8_ab.alternate(envs, args.dir, args.batch, args.rounds, args.pairs)
    print(f"batch {args.batch}, {args.pairs} pairs of {args.rounds} profiled runs; B = A + {' '.join(args.b_env)}; "
          f"load {os.getloadavg()[0]:.1f}")
    r50i8_ab.print_ab_table(res, ("A", "A ms"), ("B", "B ms"), "B / A")

if __name__ == "__main__":
    main()
