"""RESULTS.md section 272's A/B: bf16n24_nets20.py (int8rt bf16, OpenVINO bf16 and int8rt fp32 alternated in one
process, medians of process CPU time, OV ÷ int8rt) run alternately with a base tree's python/ (main's, copied aside
before the change) and this tree's, --pairs times, each run's output printed whole under its label.

Usage: python benchmarks/region24_ab.py --base /tmp/region24/base_python --nets nfnet_l0 --dir /tmp/region24/models \
           [--batches 1 8] [--rounds 3] [--pairs 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from bench_util import alternate_trees

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the base tree's python/ directory")
    ap.add_argument("--nets", nargs="+", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--batches", nargs="+", default=["1", "8"])
    ap.add_argument("--rounds", default="3")
    ap.add_argument("--pairs", type=int, default=2)
    a = ap.parse_args()
    print("command:", " ".join(sys.argv))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load:", os.getloadavg())
    trees = {"base": a.base, "new": os.path.join(os.path.dirname(HERE), "python")}
    cmd = [sys.executable, os.path.join(HERE, "bf16n24_nets20.py"), "--nets", *a.nets, "--dir", a.dir,
           "--batches", *a.batches, "--rounds", a.rounds]
    alternate_trees(cmd, trees, a.pairs)


if __name__ == "__main__":
    main()
