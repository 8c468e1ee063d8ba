"""Runs a benchmark script with auto's per-part choice on
(``BuilderConfig(auto_parts=K)``, int8rt/accuracy/auto_parts.py, RESULTS_accuracy.md
acc40): every auto build the script makes gets ``K`` parts, whatever
config it passes. At exit prints, per auto build, each part's trials
(relative L2 of each candidate on the judging samples, the choice's before)
and what it took, and the per-part step's seconds beside the whole auto
choice's (build report ``seconds``). Where no part of any build switched,
every engine the script built is the one it builds without the option (the
step returns the choice unchanged), so its figures are the base's.

``--gain G``: a part switches only where its candidate is also G lower in
relative L2 (auto_parts.PART_GAIN, default that constant). Where the judged
samples carry recordings (recordings.py), each trial's relative L2 per
recording is printed beside the current engine's (``recordings`` lines).

Usage (from /tmp): PYTHONPATH=<repo>/python:<repo>/benchmarks[:<repo>/tests] python3 <repo>/benchmarks/acc40_parts.py [--parts K] [--gain G] <script> <its arguments>
"""
from __future__ import annotations

import atexit
import runpy
import sys
import time

from int8rt.accuracy import auto_choice, auto_parts, recordings, run

builds: list[dict] = []
# per trial inside the per-part step, where the samples carry recordings:
# (current engine's, trial's) relative L2 per recording
trials: list[tuple[dict[int, float], dict[int, float]]] = []


def _with_parts(parts: int, gain: float) -> None:
    init, choose = run.CalibrationRun.__init__, auto_parts.choose_parts

    def __init__(self, *args, **kwargs) -> None:
        init(self, *args, **{**kwargs, "parts": parts})

    below = auto_choice._Errors.clearly_below

    def recorded(self, other) -> bool:
        if self.groups is not None and other.groups is not None:
            trials.append((recordings.group_errors(other), recordings.group_errors(self)))
        return below(self, other)

    def choose_parts(*args, **kwargs):
        t0 = time.process_time()
        auto_choice._Errors.clearly_below = recorded
        try:
            out = choose(*args, **{**kwargs, "gain": gain})
        finally:
            auto_choice._Errors.clearly_below = below
        builds.append({"label": args[3], "cpu_s": time.process_time() - t0, "trials": out.report(),
                       "after": out.errors.relative_l2, "recordings": list(trials)})
        trials.clear()
        return out

    run.CalibrationRun.__init__ = __init__
    auto_parts.choose_parts = choose_parts


def _summary() -> None:
    for i, b in enumerate(builds):
        print(f"acc40 build {i}: whole-network choice {b['label']}, per-part step {b['cpu_s']:.2f} s CPU, "
              f"relative L2 after {b['after']:.4g}", flush=True)
        for j, t in enumerate(b["trials"]):
            tried = ", ".join(f"{k} {v:.4g}" for k, v in t["tried"].items()) or "none (alike)"
            print(f"  part {j + 1} ({t['tensors']} tensors, {t['from']} .. {t['to']}): {t['before']:.4g}; "
                  f"tried {tried}; {t['taken']}", flush=True)
        for current, trial in b["recordings"]:
            lower = sum(trial[g] < current[g] for g in current)
            print(f"  recordings: current {_fmt(current)}; trial {_fmt(trial)}; lower on {lower} of {len(current)}",
                  flush=True)
    switched = sum(any(t["taken"] != "kept" for t in b["trials"]) for b in builds)
    print(f"acc40: {len(builds)} auto build(s), {switched} with a part switched"
          + ("" if switched else " (every engine is the base's)"), flush=True)


def _fmt(per: dict[int, float]) -> str:
    return " ".join(f"{v:.4g}" for _, v in sorted(per.items()))


if __name__ == "__main__":
    options = {"--parts": 3.0, "--gain": auto_parts.PART_GAIN}
    while sys.argv[1] in options:
        options[sys.argv[1]], sys.argv = float(sys.argv[2]), sys.argv[:1] + sys.argv[3:]
    _with_parts(int(options["--parts"]), options["--gain"])
    atexit.register(_summary)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
