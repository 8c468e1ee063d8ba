"""Runs a benchmark script with auto's default threshold set
(int8rt.accuracy.auto_choice.DEFAULT_METHOD, the set another must be
clearly below to be chosen, and the set auto's earlier decisions are taken
at) replaced for the run; the library is not changed. acc67 (issue 12):
would a prior toward the widest ranges (minmax as the default, a "prior
toward minmax under distribution shift" that acc41 left untested) close
nets17's regnet_x_400mf gap without losing elsewhere?

Usage (from /tmp or the worktree):
    PYTHONPATH=<wt>/python:<wt>/benchmarks python3 <wt>/benchmarks/regnet20_default.py minmax \
        <wt>/benchmarks/regnet20_draws.py regnet_x_400mf --methods auto --calib-seeds 2,3
    PYTHONPATH=python:benchmarks python benchmarks/regnet20_default.py minmax \
        benchmarks/issue11_gap_probe.py ppocr_det auto --dir /tmp/regnet20/m11
"""
from __future__ import annotations

import sys

from bench_util import run_script_with


def main() -> int:
    default, script, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    from int8rt.accuracy import auto_choice

    print(f"regnet20_default: auto_choice.DEFAULT_METHOD {auto_choice.DEFAULT_METHOD} -> {default}", flush=True)
    return run_script_with(auto_choice, "DEFAULT_METHOD", default, script, rest)


if __name__ == "__main__":
    sys.exit(main())
