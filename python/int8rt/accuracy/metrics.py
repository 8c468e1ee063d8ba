"""Error metrics between a float32 reference and its INT8 approximation.

One home for the numbers the build report, ``int8rt compare``, the tests and
the accuracy benchmark print. Each is chosen so that an engine producing the
same output for every input cannot score well:

* ``centred_cosine``: cosine after subtracting, from each side, its own mean
  output over the inputs (sample axis 0), so only what depends on the input
  counts; a constant output scores 0.
* ``relative_l2``: ``||ref - test|| / ||ref||``.
* ``top1_agreement`` with ``constant_baseline``: the share of inputs whose
  arg-max class is the same, beside the share the most frequent reference
  class has (what a constant output would score).
* ``sqnr_db``: signal to quantization-noise ratio, ``10 log10(sum ref^2 /
  sum (ref - test)^2)``.

Fake quantization follows the engine's numerics (DESIGN.md): symmetric,
``q = clamp(round_half_even(x / scale), -128, 127)``, value ``q * scale``
(with a zero point z: ``q = clamp(rint(x / scale) + z)``, value ``(q - z) *
scale``). A per-channel grid (``BuilderConfig.channel_activations``) has one
scale per channel of axis 1 (:func:`per_channel`); each value is measured on
its own channel's grid.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np

__all__ = ["SumSquares", "sum_squares", "centred_cosine", "clipped_fraction", "constant_baseline", "cosine", "fake_quantize",
           "looks_like_class_scores", "per_channel", "relative_l2", "sqnr_db", "top1_agreement"]

Scale = Union[float, np.ndarray]  # one scale, or an array broadcasting against the values (per_channel)


def per_channel(scales: Sequence[float], ndim: int) -> np.ndarray:
    """One float32 scale per channel of axis 1 (NCHW: the innermost axis of
    the engine's NHWC bytes), shaped to broadcast against values of rank
    ``ndim``: ``[1, C, 1, ...]``."""
    s = np.asarray(scales, np.float64).astype(np.float32)
    return s.reshape((1, -1) + (1,) * (ndim - 2))


def fake_quantize(x: np.ndarray, scale: Scale, zero_point: int = 0) -> np.ndarray:
    """``x`` rounded to the int8 grid of ``scale`` and ``zero_point``
    (``q = clip(rint(x / scale) + zero_point, -128, 127)``, kernels/ref/requantize.h)
    and back to float32 (``(q - zero_point) * scale``); ``scale`` may be an
    array of positive scales broadcasting against ``x`` (:func:`per_channel`)."""
    if np.ndim(scale) == 0 and not scale > 0:
        return np.zeros_like(x, dtype=np.float32)
    s = np.asarray(scale, np.float32)
    # One new array, the steps in place: the auto search quantizes every
    # activation at several thresholds, and temporaries doubled its time.
    q = np.divide(np.asarray(x, np.float32), s, dtype=np.float32)
    np.rint(q, out=q)
    if zero_point:
        q += np.float32(zero_point)
    np.clip(q, -128, 127, out=q)
    if zero_point:
        q -= np.float32(zero_point)
    q *= s
    return q


def _saturated(x: np.ndarray, scale: Scale, zero_point: int = 0) -> int:
    # Beyond the rounding range of the end codes: x / scale + zero_point > 127.5 or < -128.5.
    s = np.asarray(scale, np.float64)
    return int(np.count_nonzero(x > (127.5 - zero_point) * s) + np.count_nonzero(x < (-128.5 - zero_point) * s))


def _saturated_per_channel(x: np.ndarray, scale: np.ndarray, zero_point: int = 0) -> np.ndarray:
    """:func:`_saturated` counted per channel of axis 1 (``scale`` broadcasting: :func:`per_channel`)."""
    s = np.asarray(scale, np.float64)
    out = (x > (127.5 - zero_point) * s) | (x < (-128.5 - zero_point) * s)
    return np.count_nonzero(out, axis=tuple(a for a in range(x.ndim) if a != 1)).astype(np.int64)


def clipped_fraction(x: np.ndarray, scale: float) -> float:
    """Share of the values of ``x`` that int8 at ``scale`` saturates: beyond
    the rounding range of the end codes (``x / scale > 127.5`` or
    ``< -128.5``), so more than rounding is lost."""
    x = np.asarray(x)
    return _saturated(x, scale) / max(1, x.size)


def sum_squares(x: np.ndarray) -> float:
    """``sum(x^2)`` of a float32 array: float32 sums over blocks of 64K
    values, float64 across blocks, accurate to about 1e-6 relative, which
    ranking and dB figures need, without a float64 copy of large activations."""
    x = np.asarray(x, np.float32).ravel()
    step = 1 << 16
    full = x.size - x.size % step
    blocks = x[:full].reshape(-1, step)
    total = float(np.einsum("ij,ij->i", blocks, blocks).astype(np.float64).sum()) if full else 0.0
    tail = x[full:]
    return total + float(np.dot(tail, tail))


def _db(signal: float, noise: float) -> float:
    if noise <= 0.0:
        return math.inf if signal > 0.0 else math.nan
    if signal <= 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


class SumSquares:
    """Running sums for SQNR and clipping over several batches of one tensor."""

    def __init__(self) -> None:
        self.signal = 0.0
        self.noise = 0.0
        self.clipped = 0
        self.count = 0
        self.max_abs = 0.0
        self.min = math.inf   # smallest and largest value (a zero-point grid clips each side apart)
        self.max = -math.inf
        self.channel_clipped: Optional[np.ndarray] = None  # on a per-channel grid: clipped values per channel
        self.channel_max: Optional[np.ndarray] = None  # on a per-channel grid: each channel's largest value
        self.channel_max_abs: Optional[np.ndarray] = None  # ... and largest |x|

    def add(self, x: np.ndarray, scale: Scale, zero_point: int = 0) -> None:
        """Adds the values ``x`` measured on the grid of ``scale`` (a number,
        or an array broadcasting against ``x``: :func:`per_channel`) and
        ``zero_point``."""
        x = np.asarray(x, np.float32)
        d = x - fake_quantize(x, scale, zero_point)
        if np.ndim(scale) and x.ndim >= 2:  # per channel (axis 1): which channels clip
            per = _saturated_per_channel(x, scale, zero_point)
            self.channel_clipped = per if self.channel_clipped is None else self.channel_clipped + per
            self.clipped += int(per.sum())
            self._channel_extremes(x)
        else:
            self.clipped += _saturated(x, scale, zero_point)
        x = x.ravel()
        self.signal += sum_squares(x)
        self.noise += sum_squares(d)
        self.count += x.size
        if x.size:
            lo, hi = float(x.min()), float(x.max())
            self.min, self.max = min(self.min, lo), max(self.max, hi)
            self.max_abs = max(self.max_abs, -self.min, self.max)

    def _channel_extremes(self, x: np.ndarray) -> None:
        """Each channel's (axis 1) largest value and largest |x| so far."""
        if x.size == 0:
            return
        per = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
        hi, top = per.max(axis=1).astype(np.float64), np.abs(per).max(axis=1).astype(np.float64)
        self.channel_max = hi if self.channel_max is None else np.maximum(self.channel_max, hi)
        self.channel_max_abs = top if self.channel_max_abs is None else np.maximum(self.channel_max_abs, top)

    @property
    def sqnr_db(self) -> float:
        return _db(self.signal, self.noise)

    @property
    def clipped_fraction(self) -> float:
        return self.clipped / max(1, self.count)


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """``10 log10(sum ref^2 / sum (ref - test)^2)`` (inf when equal)."""
    r = np.asarray(reference, np.float64).ravel()
    d = r - np.asarray(test, np.float64).ravel()
    return _db(float(np.dot(r, r)), float(np.dot(d, d)))


def _flat(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a.reshape(a.shape[0], -1) if a.ndim >= 1 and a.shape[0] > 0 else a.reshape(1, -1)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0:
        return math.nan  # the reference carries nothing to compare against
    if nb == 0.0:
        return 0.0
    return float(np.dot(a.ravel(), b.ravel()) / (na * nb))


def cosine(reference: np.ndarray, test: np.ndarray) -> float:
    """Plain cosine similarity of the flattened arrays."""
    return _cos(np.asarray(reference, np.float64), np.asarray(test, np.float64))


def centred_cosine(reference: np.ndarray, test: np.ndarray) -> float:
    """Cosine after subtracting each side's mean over the sample axis (axis 0).

    NaN with fewer than two samples or a reference that does not vary with
    the input; 0 for a test output that does not vary."""
    r, t = _flat(reference), _flat(test)
    if r.shape[0] < 2:
        return math.nan
    return _cos(r - r.mean(axis=0), t - t.mean(axis=0))


def relative_l2(reference: np.ndarray, test: np.ndarray) -> float:
    """``||ref - test|| / ||ref||`` (inf when the reference is all zeros and test is not)."""
    r = np.asarray(reference, np.float64)
    n = float(np.linalg.norm(r))
    e = float(np.linalg.norm(r - np.asarray(test, np.float64)))
    if n == 0.0:
        return 0.0 if e == 0.0 else math.inf
    return e / n


def looks_like_class_scores(shape: tuple[int, ...]) -> bool:
    """A ``[N, C]`` output with at least two classes."""
    return len(shape) == 2 and shape[1] >= 2


def top1_agreement(reference: np.ndarray, test: np.ndarray) -> float:
    """Share of rows whose arg-max is the same (``[N, C]`` scores)."""
    r, t = np.asarray(reference), np.asarray(test)
    return float(np.mean(np.argmax(r, axis=1) == np.argmax(t, axis=1))) if len(r) else math.nan


def constant_baseline(reference: np.ndarray) -> Optional[float]:
    """The top-1 agreement a constant output would reach: the share of the
    most frequent reference class."""
    r = np.asarray(reference)
    if not len(r):
        return None
    counts = np.bincount(np.argmax(r, axis=1))
    return float(counts.max() / len(r))
