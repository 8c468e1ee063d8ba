"""Which output error the ``auto`` calibrator's on / off decisions read,
and how: the one rule bias correction, cross-layer equalization and
unsigned activations share (run.py, unsigned_form.py).

auto_choice.Scorer judges an engine by two errors against float32 on the
same samples (auto_choice._Errors): the *centred* one (class scores and
maps after subtracting each side's mean over the samples, with the gain
fit), which ranks threshold sets by what depends on the input, so that
an output collapsed to its mean cannot pass; and the *uncentred* one
(``_Errors.plain``, log-probabilities still), which also sees an offset
shared by every sample. A change of the engine is kept where

- the centred error is lower by the decision's test, or
- where the decision reads the uncentred error (:func:`reads_uncentred`),
  that error is lower by the test and the centred one is not clearly
  higher (``_Errors.clearly_below`` read the other way: margin and paired
  t-test), so that an offset is not bought with input-dependent error the
  samples show clearly (PP-OCR cls on 1024 lines: bias correction's
  centred 0.0502 -> 0.0648).

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
thresholds on a finer grid), ``"margin"`` (by ``auto_choice.MIN_GAIN``:
bias correction, equalization with thresholds from the whole pass, the
float stem: quiet_positions.py),
``"clearly"`` (margin and t-test: equalization with thresholds from the
kept samples only). Where the judged batches carry their recordings
(recordings.py), every test is recordings.below at its margin (none for
``"lower"``): lower overall and on the worst recording, of at least
three; with fewer, the change is not taken.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import recordings
from .auto_choice import MIN_GAIN

__all__ = ["DECISIONS", "TESTS", "describe", "keeps", "reads_uncentred", "report_errors"]

DECISIONS = ("float stem", "unsigned activations", "equalization", "bias correction")


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
    (:func:`reads_uncentred`), uncentred with the centred error not clearly
    higher (module docstring). Where either has no uncentred errors, the
    centred reading alone."""
    below = TESTS[test]
    if below(with_, without):
        return True
    if not uncentred or with_.plain is None or without.plain is None:
        return False
    return below(with_.plain, without.plain) and not without.clearly_below(with_)


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
