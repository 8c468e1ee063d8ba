"""Activation histograms for calibration: ``int8rt.calib.Histogram``.

A thin layer over the C++ ``_core.Histogram`` (csrc/calib/histogram.cc holds
the definition of bins, range policies, NaN handling and merging). Streaming:
each batch is binned and dropped, so memory does not grow with the data set.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._errors import InvalidArgumentError

__all__ = ["Histogram"]

_POLICIES = ("extend", "power_of_two", "two_pass")
_NONFINITE = ("error", "skip")


class Histogram:
    """Histogram of ``|x|`` over ``[0, range)`` with uint64 counts.

    Args:
        num_bins: number of bins (2048, TensorRT's default); under
            ``policy="extend"`` bins are appended as larger values arrive.
        policy: how the range is set and grown: ``"extend"`` (first batch sets
            ``[0, max|x|]``, later larger values append bins of the same
            width), ``"power_of_two"`` (range is a power of two, growth merges
            bins exactly) or ``"two_pass"`` (``observe_range`` over all data
            first, then ``collect``; independent of batch order).
        nonfinite: ``"error"`` raises ``InvalidArgumentError`` on NaN/Inf and
            leaves the histogram unchanged; ``"skip"`` leaves them out and
            counts them in ``nonfinite_skipped``.

    A bin index is ``min(num_bins - 1, int(|x| * (1 / bin_width)))`` in float32.
    Not safe for concurrent mutation from several threads.
    """

    def __init__(self, num_bins: int = 2048, policy: str = "extend",
                 nonfinite: str = "error") -> None:
        self._native = _core.Histogram(int(num_bins), policy, nonfinite)

    @classmethod
    def _wrap(cls, native: Any) -> Histogram:
        self = cls.__new__(cls)
        self._native = native
        return self

    @classmethod
    def from_counts(cls, counts: Any, bin_width: float, max_abs: float | None = None,
                    policy: str = "extend") -> Histogram:
        """A histogram built by hand from bin counts (golden tests, imports).

        Args:
            counts: non-negative integer counts, one per bin of ``bin_width``.
            bin_width: width of every bin (> 0, or 0 with all counts zero).
            max_abs: the largest ``|x|``; defaults to the upper edge of the
                last non-empty bin (0 if all bins are empty).
            policy: the range policy later ``collect`` calls follow.
        """
        c = np.asarray(counts)
        if c.ndim != 1 or c.dtype.kind not in "iu" or (c.size and c.min() < 0):
            raise InvalidArgumentError(
                "Histogram.from_counts: counts must be a 1-d array of non-negative integers")
        if max_abs is None:
            nonzero = np.flatnonzero(c)
            top = int(nonzero[-1]) + 1 if nonzero.size else 0
            max_abs = float(np.float32(top) * np.float32(bin_width))
        native = _core.Histogram.from_state(c.astype(np.uint64), float(bin_width),
                                            float(max_abs), policy, len(c))
        return cls._wrap(native)

    def collect(self, array: Any) -> None:
        """Adds ``|x|`` of every element of a float32/float16 array (any shape, strides)."""
        self._native.collect(_as_array(array))

    def observe_range(self, array: Any) -> None:
        """``policy="two_pass"`` only: first pass, records ``max|x|`` without binning."""
        self._native.observe_range(_as_array(array))

    def merge(self, other: Histogram) -> None:
        """Adds another histogram (same policy and num_bins) to this one.

        Exact for power_of_two, for two_pass with equal ranges and for extend
        with equal bin widths; extend histograms of different widths are
        re-binned by bin centre (approximate).
        """
        if not isinstance(other, Histogram):
            raise TypeError(f"Histogram.merge: expected a Histogram, got {type(other).__name__}")
        self._native.merge(other._native)

    def compute_amax(self, method: str = "entropy", **options: Any) -> float:
        """The clipping threshold by a calibration method ("entropy", "minmax", ...).

        ``options`` are the method's keyword options (``num_bits``,
        ``is_unsigned``, ``start_bin``, ``stride``, ``percentile``,
        ``reference_order``).
        """
        return float(_core.compute_amax(self._native, method, **options))

    @property
    def counts(self) -> np.ndarray:
        """Per-bin counts (a uint64 copy)."""
        return self._native.counts

    @property
    def edges(self) -> np.ndarray:
        """``num_bins + 1`` float32 bin edges, ``edges[i] = i * bin_width`` (all 0 before a range)."""
        return self._native.edges

    @property
    def bin_width(self) -> float:
        """Width of every bin; 0 until a non-zero ``|x|`` has been seen."""
        return self._native.bin_width

    @property
    def max_abs(self) -> float:
        """The exact largest finite ``|x|`` seen."""
        return self._native.max_abs

    @property
    def total_count(self) -> int:
        """Number of values binned, zeros seen before any range included."""
        return self._native.total_count

    @property
    def nonfinite_skipped(self) -> int:
        """NaN/Inf values left out by ``collect`` under ``nonfinite="skip"``."""
        return self._native.nonfinite_skipped

    @property
    def num_bins(self) -> int:
        """Current number of bins (can grow under ``policy="extend"``)."""
        return self._native.num_bins

    @property
    def policy(self) -> str:
        """The range policy: "extend", "power_of_two" or "two_pass"."""
        return self._native.policy

    @property
    def nonfinite(self) -> str:
        """The NaN/Inf policy: "error" or "skip"."""
        return self._native.nonfinite

    def __copy__(self) -> Histogram:
        return self._wrap(self._native.copy())

    def __deepcopy__(self, memo: dict) -> Histogram:
        return self._wrap(self._native.copy())

    def __getstate__(self) -> tuple:
        return self._native.state()

    def __setstate__(self, state: tuple) -> None:
        self._native = _core.Histogram.from_state(*state)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        a, b = self._native.state(), other._native.state()
        return bool(np.array_equal(a[0], b[0])) and a[1:] == b[1:]

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return (f"Histogram(num_bins={self.num_bins}, policy={self.policy!r}, "
                f"nonfinite={self.nonfinite!r}, bin_width={self.bin_width:g}, "
                f"max_abs={self.max_abs:g}, total_count={self.total_count})")


def _as_array(array: Any) -> np.ndarray:
    """NumPy arrays pass through untouched (no copy); other array-likes via np.asarray."""
    return array if isinstance(array, np.ndarray) else np.asarray(array)
