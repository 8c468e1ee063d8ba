"""Which output error the ``auto`` calibrator's on / off decisions read:
the one rule that bias correction, cross-layer equalization and unsigned
activations share (run.py, unsigned_form.py).

auto_choice.Scorer judges an engine by two errors against float32 on the
same samples (auto_choice._Errors): the *centred* one (class scores and
maps after subtracting each side's mean over the samples, with the gain
fit), which ranks threshold sets by what depends on the input, so that
an output collapsed to its mean cannot pass; and the *uncentred* one
(``_Errors.plain``, log-probabilities still), which also sees an offset
shared by every sample. A change of the engine is kept where

- the centred error is lower by the decision's test, or
- the uncentred error is lower by that test and the centred one is not
  clearly higher (``_Errors.clearly_below`` read the other way: margin and
  paired t-test).

Uncentred as well because a change whose effect is partly a mean shift
is invisible to the centred error: bias correction removes exactly that
(collapse model: evaluation relative L2 0.134 -> 0.082 while the centred
held-out error moved 0.8%; RESULTS_accuracy.md, acc20); equalization's
rescaled weights and the unsigned grid change each channel's rounding and
so its mean error too, which reaches class scores as an offset alike
(RESULTS_accuracy.md, acc25). The centred bound keeps off a change that
buys the offset with input-dependent error the samples show clearly
(PP-OCR cls on 1024 lines: bias correction's centred 0.0502 -> 0.0648).

What differs between the decisions is the test, each argued where the
decision is made: ``"lower"`` (strictly: unsigned activations, the same
thresholds on a finer grid), ``"margin"`` (by ``auto_choice.MIN_GAIN``:
bias correction, equalization with thresholds from the whole pass),
``"clearly"`` (margin and t-test: equalization with thresholds from the
kept samples only).
"""
from __future__ import annotations

from typing import Any, Callable

from .auto_choice import MIN_GAIN

__all__ = ["TESTS", "describe", "keeps", "report_errors"]


def _lower(a: Any, b: Any) -> bool:
    return a.relative_l2 < b.relative_l2


def _margin(a: Any, b: Any) -> bool:
    return a.relative_l2 < (1.0 - MIN_GAIN) * b.relative_l2


def _clearly(a: Any, b: Any) -> bool:
    return a.clearly_below(b)


# test name -> whether errors a are below errors b by it (auto_choice._Errors)
TESTS: dict[str, Callable[[Any, Any], bool]] = {"lower": _lower, "margin": _margin, "clearly": _clearly}


def keeps(with_: Any, without: Any, *, test: str) -> bool:
    """Whether the engine judged ``with_`` (auto_choice._Errors) replaces
    the one judged ``without`` (the same samples): below it by ``test``
    (a key of :data:`TESTS`) centred, or uncentred with the centred error
    not clearly higher (module docstring). Where either has no uncentred
    errors, the centred reading alone."""
    below = TESTS[test]
    if below(with_, without):
        return True
    if with_.plain is None or without.plain is None:
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
