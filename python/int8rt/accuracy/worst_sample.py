"""auto's step 5 (auto_choice.choose): among the sets the held-out samples
cannot tell from the choice, the one that serves the hardest calibration
sample best.

Why. The held-out slice (holdout.py: every 4th sample, at most
auto_choice.CHOICE_SAMPLES) estimates a set's error on samples like most of
the calibration data. A sample type that is rare in it (one silhouette
photograph among twenty, its crops at both ends of the normalised range)
may sit among the samples the thresholds come from and never in the slice;
the clipping sets (mse, percentile 99.99) then give up its extremes for
finer steps on the rest, and where the deployment data holds such samples a
sum of squares over a batch is carried by them. On issue 11's LRASPP row
(torchvision lraspp_mobilenet_v3_large, one horse crop among 16 calibration
samples, none of the 4 held out) the horse crops carried 54-78% of every
engine's error (benchmarks/RESULTS_accuracy.md, acc15). Between sets that
are level on the held-out slice, that slice has no reason to prefer one;
the samples it does not hold do.

The rule. A *tier*: the choice of steps 3-4 and every set it is not clearly
below on the held-out slice (``_Errors.clearly_below``: ``MIN_GAIN`` and the
paired t-test, the rule a set must pass to displace the default). Each
member of the tier is run on every calibration sample auto holds (the
held-out ones and the kept ones, bias_correction.SAMPLES at most: the kept
ones are in-sample, as the final engine, whose thresholds come from every
sample, sees them too). Its *worst-sample error* is the largest per-sample
relative L2 there (:func:`worst_sample_error`). The member with the lowest
worst-sample error replaces the choice where that is lower than the
choice's by ``auto_choice.FOLD_GAIN`` (step 4's margin, for the same
reason: what it shows is carried by a few samples) and the choice is not
clearly below it over all those samples either.

What it cannot do: a sample type absent from the calibration data (issue
11's ConvNeXt row: no horse crop among its 32 calibration crops) is seen
by no rule made from that data. What it leaves alone by construction: a
set clearly worse on the held-out slice is never in the tier, so a rare
outlier among the kept samples cannot buy a set that is worse on the
samples like the rest (tests/accuracy_models.overfit_case: minmax, mse and
percentile keep the outlier's range and are over twice entropy's error on
the held-out samples).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np

__all__ = ["Guard", "guard", "worst_sample_error"]

logger = logging.getLogger("int8rt")


def worst_sample_error(errors: Any) -> float:
    """The largest per-sample relative L2 of ``errors`` (auto_choice._Errors:
    squared errors and float32 energies per sample): each sample's squared
    error over its own energy, or over the mean energy where its own is
    below that (a class-score output centred over the samples leaves a
    sample near the mean with almost none, and its relative error would
    then be noise)."""
    err, ref = np.asarray(errors.err, np.float64), np.asarray(errors.ref, np.float64)
    if not len(err):
        return 0.0
    floor = max(float(ref.mean()), 1e-30)
    return float(np.sqrt(np.max(err / np.maximum(ref, floor))))


@dataclass
class Guard:
    """Step 5's outcome: the label chosen (the given one where nothing
    displaced it), each tier member's worst-sample error (label -> relative
    L2) and the number of samples they were measured on."""

    label: str
    worst: dict[str, float] = field(default_factory=dict)
    samples: int = 0


def guard(label: str, errors: Mapping[str, Any], engines: Mapping[str, Any],
          pool: Callable[[], Any], gain: float) -> Guard:
    """Step 5 (module docstring) for the choice ``label``.

    ``errors``: each set's held-out errors (a set scored as another's twin
    holds the same object); ``engines``: the sets lowered (label ->
    ``_core.Engine``; a twin is run through its twin's); ``pool()``: the
    auto_choice.Scorer over every calibration sample auto holds, made only
    where the tier has more than the choice; ``gain``: the margin."""
    chosen = errors[label]
    tier = [k for k in errors if k == label or not chosen.clearly_below(errors[k])]
    runnable = {k: engines.get(k) or next((engines[t] for t in errors if errors[t] is errors[k] and t in engines),
                                          None) for k in tier}
    tier = [k for k in tier if runnable[k] is not None]
    if len({id(errors[k]) for k in tier}) < 2 or label not in tier:
        return Guard(label)
    scorer = pool()
    scored: dict[int, Any] = {}
    for k in tier:
        if id(errors[k]) not in scored:
            scored[id(errors[k])] = scorer(runnable[k])
    on_pool = {k: scored[id(errors[k])] for k in tier}
    worst = {k: worst_sample_error(e) for k, e in on_pool.items()}
    best = min(tier, key=lambda k: (worst[k], k != label))
    samples = len(on_pool[label].err)
    if worst[best] < (1.0 - gain) * worst[label] and not on_pool[label].clearly_below(on_pool[best]):
        return Guard(best, worst, samples)
    return Guard(label, worst, samples)
