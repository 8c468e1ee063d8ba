"""Samples of a calibration stream kept at a stride that doubles as the
stream grows, so that a bounded buffer spans the whole stream.

TensorRT's ``get_batch`` stream can be read once and its length is not
known in advance. The ``auto`` calibrator keeps some samples for later
steps (holdout.SampleRouter: the held-out samples its choice is judged on,
the kept ones its folds and bias correction run on). Until 2026-12-04 it
kept the first ones, so a sample kind that appears only later in a long
stream reached none of them (RESULTS_accuracy.md, acc16 and acc17).

Rule (a systematic sample with a doubling interval, as a decimating
recorder keeps a fixed-size history): counting the samples offered to one
buffer from 0 (ordinal ``k``), sample ``k`` is kept while ``k % stride ==
0``; ``stride`` starts at 1 and doubles whenever more than ``cap`` samples
are kept, dropping those no longer on the stride. After ``T`` samples the
buffer holds ordinals ``0, s, 2s, ...`` with ``s`` the least power of two
for which ``ceil(T / s) <= cap``: at most ``cap`` samples, more than
``cap / 2`` once ``T > cap``, spread evenly over the whole stream, and the
same however the stream is cut into batches (a function of ``T`` alone),
so builds from one stream are reproducible.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["Strided", "thin"]


class Strided:
    """A buffer of parts (one batch's rows each) kept at a doubling stride
    (module docstring).

    Args:
        cap: most samples kept (>= 1).
        cut: ``cut(part, rows)`` -> the part with only ``rows`` (indices
            into its axis 0) left.
    """

    def __init__(self, cap: int, cut: Callable[[Any, np.ndarray], Any]) -> None:
        if cap < 1:
            raise ValueError(f"a strided buffer needs room for a sample, got cap {cap}")
        self.cap, self._cut = cap, cut
        self.stride = 1
        self.offered = 0   # samples offered so far: the next one's ordinal
        self.parts: list[tuple[np.ndarray, Any]] = []  # (ordinals of its rows, part)

    def __len__(self) -> int:
        return sum(len(o) for o, _ in self.parts)

    def admit(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` samples of the stream offered: which of them
        (indices ``0 .. n-1``) are on the stride now, and their ordinals.
        The caller then :meth:`add` s them (or lets them go)."""
        ordinals = self.offered + np.arange(n, dtype=np.int64)
        self.offered += n
        on = ordinals % self.stride == 0
        return np.flatnonzero(on), ordinals[on]

    def add(self, ordinals: np.ndarray, part: Any) -> None:
        """Keeps ``part`` (the admitted rows, ordinals ``ordinals``), then
        doubles the stride while more than ``cap`` samples are kept."""
        if len(ordinals):
            self.parts.append((np.asarray(ordinals, np.int64), part))
        while len(self) > self.cap:
            self.stride *= 2
            self.parts = thin(self.parts, self.stride, self._cut)

    def values(self) -> list[Any]:
        """The parts kept, in stream order."""
        return [p for _, p in self.parts]


def thin(parts: list[tuple[np.ndarray, Any]], stride: int,
         cut: Callable[[Any, np.ndarray], Any]) -> list[tuple[np.ndarray, Any]]:
    """``parts`` ((ordinals, part) pairs) with only the rows whose ordinal is
    a multiple of ``stride``; a part left empty goes. Another buffer that
    follows a :class:`Strided` (values of the same rows, kept beside it:
    pass_values.py) thins by the same call."""
    out = []
    for ordinals, part in parts:
        on = ordinals % stride == 0
        if on.all():
            out.append((ordinals, part))
        elif on.any():
            out.append((ordinals[on], cut(part, np.flatnonzero(on))))
    return out
