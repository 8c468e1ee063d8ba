"""Per-channel histograms of the tensors SmoothQuant divides, gathered
during the calibration pass, and the histogram of a divided tensor rebuilt
from them once the factors are known (smoothquant.py).

SmoothQuant's factors s_j come from each channel's max |X_j| over the whole
calibration stream, and the tensor calibration must give a threshold to is
X' = X * f (f_j = 1 / s_j, along the last axis): neither is known until the
stream has ended, and TensorRT's ``get_batch`` stream is read once. So the
pass keeps, for each such X, per channel j:

- the exact max |X_j| (float32), which the factors read, and
- a histogram of |X_j| with ``BINS`` bins over [0, R_j), R_j the smallest
  power of two above every value seen so far: when a larger value arrives
  R_j doubles and pairs of bins merge exactly (the ``power_of_two`` policy
  of calib/histogram.cc, per channel).

Memory is channels x ``BINS`` x 2 bytes per tensor whatever the stream's
length, plus a few bytes per 65536 values that fall in one bin: the counts
are held as uint16, and a bin's multiples of 2^16 go into a sparse carry
(:class:`_Counts`: exact, any stream length). MiniLM-L6's 18 sites, 13824
channels: 57 MB at 2048 bins, what 1024 bins of int32 held
(RESULTS_accuracy.md, acc25: at 256 bins the rebuilt 4096-bin histograms of
the auto calibrator moved entropy's thresholds by up to 28%, at 1024 by up
to 11%, on one tensor of 18, and auto + SmoothQuant on MiniLM lost
0.0006 / 0.0014 of centred cosine against 2048 bins; acc28: 2048 bins at
1024's memory, not fewer bins over a tighter range: the counts' width,
not the bins', was the waste). The histogram of X' is then rebuilt (:meth:`ChannelHistograms.scaled`):
channel j's bin [i, i+1) R_j / BINS holds values that X' carries in
[i, i+1) R_j f_j / BINS (capped at max |X_j| f_j), spread uniformly over that
interval onto the grid a histogram of X' fed the same batches would have
(:func:`_grid`: under ``extend``, the width max_j first_j f_j / num_bins that
the first batch's per-channel maxima first_j set, and bins appended up to
max_j max |X_j| f_j; under ``two_pass`` and ``power_of_two`` the range from
that max), up to the spread within one source bin (at most
2 x num_bins / BINS target bins wide, for the widest channel of X').
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

__all__ = ["BINS", "ChannelHistograms"]

BINS = 2048


class _Counts:
    """Exact non-negative counts [channels, BINS] held in 2 bytes a bin: the
    low 16 bits in a uint16 array, each bin's multiples of 2^16 in a sparse
    carry (flat bin index -> count / 2^16), which only bins that reached
    65536 values have."""

    def __init__(self, channels: int) -> None:
        self.low = np.zeros((channels, BINS), np.uint16)
        self.carry: dict[int, int] = {}

    def add(self, more: np.ndarray) -> None:
        """Adds ``more`` (int64 [channels, BINS], used as scratch: its
        values are lost)."""
        more += self.low
        self._store(more.reshape(-1), 0)

    def merge(self, j: int, group: int) -> None:
        """Channel ``j``'s bins summed in groups of ``group`` into its first
        ``BINS / group`` bins (its range multiplied by ``group``), exactly."""
        mine = [b for b in self.carry if b // BINS == j] if self.carry else []
        row = self.low[j].astype(np.int64)
        for b in mine:
            row[b % BINS] += self.carry.pop(b) << 16
        merged = np.zeros(BINS, np.int64)
        merged[:max(1, BINS // group)] = row.reshape(-1, group).sum(axis=1) if group < BINS else row.sum()
        self._store(merged, j * BINS)

    def full(self) -> np.ndarray:
        """Every count (int64 [channels, BINS])."""
        out = self.low.astype(np.int64)
        flat = out.reshape(-1)
        for b, c in self.carry.items():
            flat[b] += c << 16
        return out

    def _store(self, flat: np.ndarray, base: int) -> None:
        """``flat`` (int64, the low bits of the bins from ``base`` on plus
        any carry already moved out) split into low 16 bits and carry."""
        if flat.max(initial=0) >> 16:  # rare: a bin past 65535 values
            for k in np.flatnonzero(flat >> 16):
                self.carry[base + int(k)] = self.carry.get(base + int(k), 0) + int(flat[k] >> 16)
        # the low 16 bits: an int64 -> uint16 cast keeps them (modulo 2^16)
        np.copyto(self.low.reshape(-1)[base:base + flat.size], flat, casting="unsafe")

    # bytes a carried bin costs in CPython (a dict slot and two int objects)
    CARRY_BYTES = 96

    @property
    def nbytes(self) -> int:
        return self.low.nbytes + self.CARRY_BYTES * len(self.carry)


class _Channels:
    """One tensor's per-channel maxima and power-of-two-range histograms."""

    def __init__(self, channels: int) -> None:
        self.amax = np.zeros(channels, np.float32)
        self.top = np.zeros(channels, np.float64)  # R_j; 0 until channel j shows a non-zero value
        self.store = _Counts(channels)
        self.first: Optional[np.ndarray] = None  # max |x| per channel of the first batch with a non-zero value

    @property
    def counts(self) -> np.ndarray:
        """The per-channel counts, int64 [channels, BINS] (a copy)."""
        return self.store.full()

    def observe(self, v: np.ndarray) -> None:
        a = np.abs(v.reshape(-1, v.shape[-1]).astype(np.float32, copy=False))
        if not a.size:
            return
        m = a.max(axis=0)
        if self.first is None and m.max() > 0:
            self.first = m.copy()
        self.amax = np.maximum(self.amax, m)
        for j in np.flatnonzero(m >= self.top):
            self._grow(j, float(m[j]))
        width = np.where(self.top > 0, self.top / BINS, 1.0)
        idx = np.minimum((a / width).astype(np.int64), BINS - 1)
        idx += np.arange(a.shape[1], dtype=np.int64) * BINS
        self.store.add(np.bincount(idx.ravel(), minlength=self.store.low.size).reshape(self.store.low.shape))

    def _grow(self, j: int, m: float) -> None:
        """R_j raised to the smallest power of two above ``m`` (> m, so
        that m falls inside the last bin); bins merged in groups."""
        if m <= 0.0:
            return
        top = 2.0 ** (np.floor(np.log2(m)) + 1.0)
        if self.top[j] == 0.0:
            self.top[j] = top
            return
        group = int(round(top / self.top[j]))
        if group > 1:
            self.store.merge(j, group)
            self.top[j] = top

    def scaled(self, factors: np.ndarray, num_bins: int, policy: str) -> tuple[np.ndarray, float, float]:
        """Counts of |X * factors| on the grid a histogram of ``num_bins``
        bins under ``policy`` would have after the whole stream (module
        docstring), the bin width and the max."""
        f = np.asarray(factors, np.float32)
        top_value = float(np.max(self.amax * f)) if self.amax.size else 0.0
        counts = self.counts
        total = int(counts.sum())
        if top_value <= 0.0:  # only zeros: no range yet, as a histogram that saw only zeros
            return np.zeros(num_bins, np.uint64), 0.0, 0.0
        width, bins = _grid(top_value, float(np.max(self.first * f)), num_bins, policy)
        num_bins = bins
        edges = np.arange(BINS + 1, dtype=np.float64) / BINS
        # each source bin's interval in target bins, capped at the channel's max
        cap = (self.amax.astype(np.float64) * f)[:, None] / width
        span = (self.top * f.astype(np.float64))[:, None] / width
        lo = np.minimum(edges[None, :-1] * span, cap)
        hi = np.minimum(edges[None, 1:] * span, cap)
        mass = counts.astype(np.float64)
        keep = mass > 0
        lo, hi, mass = lo[keep], hi[keep], mass[keep]
        cdf = np.zeros(num_bins + 2, np.float64)  # mass per target bin, then accumulated
        ia = np.minimum(np.floor(lo).astype(np.int64), num_bins - 1)
        ib = np.minimum(np.floor(hi).astype(np.int64), num_bins - 1)
        point = hi <= lo  # a bin whose values all sit at one point (the cap)
        same = (ia == ib) | point
        np.add.at(cdf, ia[same], mass[same])
        d = ~same
        density = mass[d] / (hi[d] - lo[d])
        np.add.at(cdf, ia[d], density * (ia[d] + 1 - lo[d]))
        np.add.at(cdf, ib[d], density * (hi[d] - ib[d]))
        inner = np.zeros(num_bins + 1, np.float64)  # whole bins ia+1 .. ib-1: a difference array
        np.add.at(inner, ia[d] + 1, density)
        np.add.at(inner, ib[d], -density)
        per_bin = cdf[:num_bins] + np.cumsum(inner)[:num_bins]
        # integer counts with the total kept: differences of the rounded cumulative mass
        cum = np.rint(np.concatenate([[0.0], np.cumsum(per_bin)]))
        cum[-1] = total
        counts = np.maximum(np.diff(cum), 0).astype(np.uint64)
        return counts, width, top_value


def _grid(top: float, first: float, num_bins: int, policy: str) -> tuple[float, int]:
    """Bin width and count of a histogram of ``num_bins`` bins under
    ``policy`` (calib/histogram.cc) whose data's max is ``top`` and whose
    first batch's max was ``first``: ``extend``, width first / num_bins
    (float32) and bins appended to hold ``top``; ``power_of_two``, the
    smallest power of two above ``top``; ``two_pass``, [0, top]."""
    if policy == "power_of_two":
        return float(2.0 ** (np.floor(np.log2(top)) + 1.0) / num_bins), num_bins
    if policy == "extend" and 0.0 < first < top:
        width = float(max(np.float32(first) / np.float32(num_bins), np.finfo(np.float32).tiny))
        return width, max(num_bins, int(top / width) + 1)
    return float(max(np.float32(top) / np.float32(num_bins), np.finfo(np.float32).tiny)), num_bins


class ChannelHistograms:
    """Per-channel maxima and histograms of named tensors (last axis: the
    channels), fed batch by batch; bounded memory (module docstring)."""

    def __init__(self, names: Any) -> None:
        self.names = list(names)
        self._tensors: dict[str, _Channels] = {}
        self.batches = 0

    def observe(self, values: Mapping[str, np.ndarray]) -> None:
        """One batch: tensor name -> its float32 value (any leading shape)."""
        for name in self.names:
            v = np.asarray(values[name])
            t = self._tensors.get(name)
            if t is None:
                t = self._tensors[name] = _Channels(v.shape[-1])
            t.observe(v)
        self.batches += 1

    def maxima(self) -> dict[str, np.ndarray]:
        """max |x| per channel of each tensor seen."""
        return {n: t.amax.copy() for n, t in self._tensors.items()}

    def scaled(self, name: str, factors: np.ndarray, num_bins: int, policy: str = "extend") -> Any:
        """The histogram (``int8rt.calib.Histogram``) of ``|x * factors|``
        for tensor ``name``, as a collector of ``num_bins`` bins and
        ``policy`` holds one."""
        from .. import _core
        from ..calib import Histogram

        counts, width, top = self._tensors[name].scaled(factors, num_bins, policy)
        # num_bins as the initial bin count, as a histogram grown under "extend" keeps it
        return Histogram._wrap(_core.Histogram.from_state(counts, float(width), float(top), policy, num_bins))

    @property
    def nbytes(self) -> int:
        return sum(t.store.nbytes + t.amax.nbytes + t.top.nbytes for t in self._tensors.values())
