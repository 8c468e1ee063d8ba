"""Which output error the ``auto`` calibrator's on / off decisions read,
and how: the one rule bias correction, cross-layer equalization and
unsigned activations share (run.py, unsigned_form.py), and the paired
tests every "clearly below" of auto reads (:func:`paired_below`; the
choice of thresholds, auto_choice step 3, too).

auto_choice.Scorer judges an engine by two errors against float32 on the
same samples (auto_choice._Errors): the *centred* one (class scores and
maps after subtracting each side's mean over the samples, with the gain
fit), which ranks threshold sets by what depends on the input, so that
an output collapsed to its mean cannot pass; and the *uncentred* one
(``_Errors.plain``, log-probabilities still), which also sees an offset
shared by every sample. A change of the engine is kept where

- one of the two errors is lower by the decision's test and the other is
  not clearly higher (``_Errors.clearly_below`` read the other way: margin
  and the paired tests): the centred one, or, where the decision reads the
  uncentred error (:func:`reads_uncentred`), the uncentred one. So an
  offset is not bought with input-dependent error the samples show clearly
  (PP-OCR cls on 1024 lines: bias correction's centred 0.0502 -> 0.0648),
  and input-dependent error is not bought with an offset the samples show
  clearly: PESTO's pitch logits (RESULTS_accuracy.md acc51 / acc53), bias
  correction centred 0.02641 -> 0.02609 (-1.2 %), uncentred 0.01840 ->
  0.01921 (+4.4 %), kept by the centred reading alone (until 2026-12-07)
  and 0.0177 -> 0.0186 relative L2 on the evaluation frames. Where the
  decision does not read the uncentred error, the centred one alone.

Which decisions read the uncentred error: bias correction always (its
whole effect is a per-channel mean shift, which centring hides: collapse
model, evaluation relative L2 0.134 -> 0.082 while the centred held-out
error moved 0.8%; RESULTS_accuracy.md, acc20); the decisions made before
it (the float stem, quiet_positions.py; unsigned activations,
equalization) only where no bias correction follows
(``BuilderConfig(bias_correction=False)``), since an offset they add or
remove is otherwise bias correction's to remove. Measured on the
collapse model over 16 weight seeds (RESULTS_accuracy.md, acc25): read
uncentred, equalization is kept on 5 more seeds; with bias correction
following, the final engines' relative L2 summed over those 5 is the same
(0.3195 either way) and the held-out errors after bias correction equal
(seed 0: 0.0849 / 0.0847 centred); without it, 8% lower (0.480 -> 0.442).

What differs between the decisions is the test, each argued where the
decision is made: ``"lower"`` (strictly: unsigned activations, the same
thresholds on a finer grid), ``"margin"`` (by ``MIN_GAIN``:
bias correction, equalization with thresholds from the whole pass, the
float stem: quiet_positions.py),
``"clearly"`` (margin and the paired tests, :func:`paired_below`:
equalization with thresholds from the kept samples only, and the choice
of a threshold set over the default, auto_choice step 3, through
``_Errors.clearly_below``). Where the judged batches carry their
recordings (recordings.py), every test is recordings.below at its margin
(none for ``"lower"``): lower overall and on the worst recording, of at
least three; with fewer, the change is not taken.

The paired tests (:func:`paired_below`) read the per-sample errors of the
two engines on the same samples: Student's one-sided t-test on their
differences, *or* Wilcoxon's signed-rank test, each at ``T_LEVEL``. The
t-test alone is outlier-sensitive the wrong way: a challenger lower on
every one of 16 lines is not clearly below a default with one bad line,
whose difference inflates the spread (t about -1 whatever the other 15
say; RESULTS_accuracy.md acc36 / acc38). The ranks read that as the
strongest evidence there is (p = 2^-16), and read one large difference
as one rank, so neither test lets a single sample carry a change (a
challenger lower on 1 of 16 lines is below by neither). Either suffices:
each errs at 2.5% where the engines do not differ, so the pair at 5% at
most; every change the t-test took is still taken.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from . import recordings

__all__ = ["DECISIONS", "MIN_GAIN", "T_LEVEL", "TESTS", "describe", "keeps", "paired_below", "rank_below",
           "reads_uncentred", "report_errors", "t_below"]

DECISIONS = ("float stem", "float products", "unsigned activations", "equalization", "bias correction")

# A change of the engine (a threshold set other than the default, a
# correction kept) must lower the output error by this share at least:
# below it, a few dozen samples cannot tell two engines apart ...
MIN_GAIN = 0.01
# ... and, where the test is "clearly", be lower by a paired one-sided
# test at this level (paired_below).
T_LEVEL = 0.975
# Samples up to which the signed-rank test's null distribution is computed
# exactly; past it, the normal approximation (relative error of the tail
# probability near 2.5% below 2% from 100 samples on).
RANK_EXACT_MAX = 100

# One-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom;
# past 30 the Cornish-Fisher expansion around the normal 1.95996 (error < 1e-3).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def _t_quantile(df: int) -> float:
    """Student t's 97.5% quantile (``T_LEVEL``) for ``df`` degrees of freedom."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def t_below(diff: np.ndarray) -> bool:
    """Paired one-sided Student t-test at ``T_LEVEL``: is the mean of
    ``diff`` (a's per-sample errors less b's, two or more) below zero?
    No spread: below where every difference is negative."""
    spread = float(np.std(diff, ddof=1))
    if spread == 0.0:
        return float(np.mean(diff)) < 0.0
    return float(np.mean(diff)) / (spread / math.sqrt(len(diff))) < -_t_quantile(len(diff) - 1)


def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    sx = x[order]
    start = 0
    for end in range(1, len(x) + 1):
        if end == len(x) or sx[end] != sx[start]:
            ranks[order[start:end]] = 0.5 * (start + 1 + end)
            start = end
    return ranks


def rank_tail(ranks: np.ndarray, w: float) -> float:
    """P(W <= ``w``) where W is the sum of the ``ranks`` whose signs are
    positive and each sign is + or - with probability 1/2 (the signed-rank
    statistic's null distribution given the ranks, ties as midranks):
    exact up to ``RANK_EXACT_MAX`` ranks, by counting over doubled (so
    integral) ranks; past it, normal with the continuity correction."""
    n = len(ranks)
    if n > RANK_EXACT_MAX:
        mean, var = float(ranks.sum()) / 2.0, float(np.square(ranks).sum()) / 4.0
        return 0.5 * math.erfc(-(w + 0.5 - mean) / math.sqrt(2.0 * var))
    doubled = np.rint(2.0 * ranks).astype(np.int64)
    prob = np.zeros(int(doubled.sum()) + 1)
    prob[0] = 1.0
    for r in doubled:  # each rank's sign: - (keeps W) or + (adds it), 1/2 each
        shifted = np.zeros_like(prob)
        shifted[r:] = prob[:-r]
        prob = 0.5 * (prob + shifted)
    return float(prob[:int(round(2.0 * w)) + 1].sum())


def rank_below(diff: np.ndarray) -> bool:
    """Paired one-sided Wilcoxon signed-rank test at ``T_LEVEL``: are the
    differences ``diff`` (a's per-sample errors less b's) centred below
    zero? Zero differences are dropped (Wilcoxon's convention), ties share
    their ranks; below where the sum of the positive differences' ranks is
    this small with probability ``1 - T_LEVEL`` at most."""
    d = diff[diff != 0.0]
    if len(d) == 0:
        return False
    ranks = _midranks(np.abs(d))
    return rank_tail(ranks, float(ranks[d > 0.0].sum())) <= 1.0 - T_LEVEL


def paired_below(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the per-sample errors ``a`` are below ``b`` (the same
    samples) by the paired tests (module docstring): the t-test or the
    signed-rank test. A single sample says nothing of its spread: then the
    lower error counts."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if len(diff) < 2:
        return bool(diff.sum() < 0.0)
    return t_below(diff) or rank_below(diff)


def _lower(a: Any, b: Any) -> bool:
    grouped = recordings.below(a, b, 0.0)
    return a.relative_l2 < b.relative_l2 if grouped is None else grouped


def _margin(a: Any, b: Any) -> bool:
    grouped = recordings.below(a, b, MIN_GAIN)
    return a.relative_l2 < (1.0 - MIN_GAIN) * b.relative_l2 if grouped is None else grouped


def _clearly(a: Any, b: Any) -> bool:
    return a.clearly_below(b)


# test name -> whether errors a are below errors b by it (auto_choice._Errors)
TESTS: dict[str, Callable[[Any, Any], bool]] = {"lower": _lower, "margin": _margin, "clearly": _clearly}


def reads_uncentred(decision: str, bias_correction: Optional[bool]) -> bool:
    """Whether ``decision`` (one of :data:`DECISIONS`) reads the uncentred
    error too, given ``BuilderConfig.bias_correction`` (None: auto decides
    it after the others): module docstring."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}; one of {DECISIONS}")
    return decision == "bias correction" or bias_correction is False


def keeps(with_: Any, without: Any, *, test: str, uncentred: bool = True) -> bool:
    """Whether the engine judged ``with_`` (auto_choice._Errors) replaces
    the one judged ``without`` (the same samples): below it by ``test``
    (a key of :data:`TESTS`) centred, or, with ``uncentred``
    (:func:`reads_uncentred`), uncentred; in either case with the other
    error not clearly higher (module docstring). Where either has no
    uncentred errors, the centred reading alone."""
    below = TESTS[test]
    plain = uncentred and with_.plain is not None and without.plain is not None
    if below(with_, without):
        return not (plain and without.plain.clearly_below(with_.plain))
    return plain and below(with_.plain, without.plain) and not without.clearly_below(with_)


def report_errors(name: str, without: Any, with_: Any, off: str = "off", on: str = "on") -> dict[str, float]:
    """The build report's ``errors`` entries of one decision: ``"<name>
    off"`` / ``"<name> on"`` (centred) and, where measured, the same with
    ``", uncentred"``."""
    out = {f"{name} {off}": round(without.relative_l2, 6), f"{name} {on}": round(with_.relative_l2, 6)}
    if with_.plain is not None and without.plain is not None:
        out.update({f"{name} {off}, uncentred": round(without.plain.relative_l2, 6),
                    f"{name} {on}, uncentred": round(with_.plain.relative_l2, 6)})
    return out


def describe(without: Any, with_: Any) -> str:
    """Both readings for the log: ``"<a> without, <b> with; uncentred <c>
    without, <d> with"`` (relative L2)."""
    plain = (f"{without.plain.relative_l2:.4g} without, {with_.plain.relative_l2:.4g} with"
             if with_.plain is not None and without.plain is not None else "not measured")
    return f"{without.relative_l2:.4g} without, {with_.relative_l2:.4g} with; uncentred {plain}"
