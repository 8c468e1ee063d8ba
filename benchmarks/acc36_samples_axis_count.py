"""Runs a benchmark script with auto's judge counting how often it reads
an output's samples on axis 1 (auto_choice._samples_axis: a time-major
``[T, N, C]`` output, acc36), and prints the count at exit: where it is 0
the judging took the code path it took before acc36, so the script's
figures cannot have moved by that change.

Usage (from /tmp): PYTHONPATH=<repo>/python:<repo>/benchmarks python3 <repo>/benchmarks/acc36_samples_axis_count.py <script> <its arguments>
"""
from __future__ import annotations

import atexit
import runpy
import sys

from int8rt.accuracy import auto_choice

counts = {"calls": 0, "axis 1": 0}
_read = auto_choice._samples_axis


def _counted(value, rows):
    axis = _read(value, rows)
    counts["calls"] += 1
    counts["axis 1"] += axis == 1
    return axis


if __name__ == "__main__":
    auto_choice._samples_axis = _counted
    atexit.register(lambda: print(f"acc36: _samples_axis calls {counts['calls']}, time-major (axis 1) "
                                  f"{counts['axis 1']}", flush=True))
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
