"""Runs a benchmark script with auto's choice of thresholds (auto_choice.choose)
followed by a tail judge, to see what such a judge moves (acc38): each
set's per-sample errors on the held-out slice and on every other
cross-validation fold (each calibration sample scored by thresholds
fitted without it; the held-out slice alone where there are no folds),
each sample's relative L2 as auto's judge weighs it; a set replaces auto's
choice where its ``--q`` quantile of them is lower than the choice's by
``auto_choice.FOLD_GAIN`` (the lowest such). ``--q 1`` is the worst
sample (as step 4 reads the worst fold); acc38 section 2 found 0.9 the
quantile that picks minmax on the CRNNs, so this script checks it on
other networks. Each replacement is printed with both sets' quantiles.
``--after-folds`` (after ``--q Q``): a choice step 4's folds made (not the
held-out slice's) is never replaced.

Usage (from /tmp): PYTHONPATH=<repo>/python:<repo>/benchmarks python3 <repo>/benchmarks/acc38_quantile_judge.py --q 0.9 [--after-folds] <script> <its arguments>
"""
from __future__ import annotations

import dataclasses
import runpy
import sys

import numpy as np

from int8rt.accuracy import auto_choice


def line_errors(errors) -> np.ndarray:
    """Each judged sample's relative L2 as auto's judge weighs it (auto_choice._Errors)."""
    return np.sqrt(errors.err / np.maximum(errors.ref, 1e-30))


def tail(errors: list, q: float) -> float:
    """The ``q`` quantile of the samples' relative L2 over ``errors``."""
    return float(np.quantile(np.concatenate([line_errors(e) for e in errors]), q))


def tail_judged(choose, q: float, after_folds: bool):
    """``choose`` (auto_choice.choose) followed by the tail judge at quantile ``q`` (module docstring)."""

    def judged(build, sets, names, judge, engines=None, folds=None):
        choice = choose(build, sets, names, judge, engines, folds)
        score = {k: tail([choice.errors[k]] + (folds.errors(k) if folds is not None else []), q) for k in sets}
        best = min(score, key=score.__getitem__)
        print(f"acc38 tail judge (q {q}): " + ", ".join(f"{k} {v:.4f}" for k, v in score.items())
              + f"; auto chose {choice.label} (held-out slice alone: {choice.held_label})", flush=True)
        if best == choice.label or not score[best] < (1.0 - auto_choice.FOLD_GAIN) * score[choice.label]:
            return choice
        if after_folds and choice.label != choice.held_label:
            print(f"acc38 tail judge: {best} would replace {choice.label}, which the folds chose: kept", flush=True)
            return choice
        print(f"acc38 tail judge: {best} replaces {choice.label}", flush=True)
        return dataclasses.replace(choice, label=best, amaxes=dict(sets[best][0]), methods=dict(sets[best][1]))

    return judged


def main() -> None:
    q = float(sys.argv[2])
    # --after-folds: the tail judge may replace step 3's choice, never one step 4's folds made
    after_folds = sys.argv[3] == "--after-folds"
    auto_choice.choose = tail_judged(auto_choice.choose, q, after_folds)
    sys.argv = sys.argv[4:] if after_folds else sys.argv[3:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
