"""Runs a benchmark script with auto's "clearly below" decisions counted
(auto_choice._Errors.clearly_below -> decision_rule.paired_below, acc38),
and prints at exit how many paired tests ran and on how many the
signed-rank test said "below" where the t-test did not: where that count
is 0, every decision of the run is the one the t-test alone made before
acc38, so the script's figures cannot have moved by that change.
``--t-only`` (first argument) runs the script with the t-test alone (the
rule before acc38), for a before / after pair where the count is not 0.

Usage (from /tmp): PYTHONPATH=<repo>/python:<repo>/benchmarks python3 <repo>/benchmarks/acc38_rule_count.py [--t-only] <script> <its arguments>
"""
from __future__ import annotations

import atexit
import runpy
import sys

import numpy as np

from int8rt.accuracy import auto_choice, decision_rule

tally = {"paired tests": 0, "ranks only": 0}


def _tallied(a, b, t_only: bool) -> bool:
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if len(diff) < 2:
        return decision_rule.paired_below(a, b)
    by_t, by_ranks = decision_rule.t_below(diff), decision_rule.rank_below(diff)
    tally["paired tests"] += 1
    tally["ranks only"] += by_ranks and not by_t
    return by_t if t_only else by_t or by_ranks


if __name__ == "__main__":
    t_only = sys.argv[1] == "--t-only"
    auto_choice.paired_below = lambda a, b: _tallied(a, b, t_only)
    atexit.register(lambda: print(f"acc38{' (t-test only)' if t_only else ''}: paired tests {tally['paired tests']}, "
                                  f"below by the ranks only {tally['ranks only']}", flush=True))
    sys.argv = sys.argv[2:] if t_only else sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
