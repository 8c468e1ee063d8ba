"""auto's judge reads a time-major output (``[T, N, C]``: a CRNN's logits
per column, PyTorch's default sequence layout) per sample, along axis 1
(python/int8rt/accuracy/auto_choice.py, ``_samples_axis``), as it reads a
batch-first output along axis 0. Until acc36 such an output counted one
sample per chunk: the paired t-test of ``_Errors.clearly_below`` then had
no spread to read and the lower error counted, so one sample could carry a
challenger past the default. Oracle: the per-sample sums of squares
written out in NumPy."""
from __future__ import annotations

import numpy as np

from int8rt.accuracy.auto_choice import Scorer
from test_auto_probability_outputs import _Engine

T, N, C, CHUNK = 5, 8, 4, 16


class _Columns:
    """A time-major output whose slices are taken along axis 1 (the
    samples), as the stand-in engine of test_auto_probability_outputs
    slices its outputs along axis 0."""

    def __init__(self, out: np.ndarray) -> None:
        self.out = out

    def __getitem__(self, at: slice) -> np.ndarray:
        return self.out[:, at]


def _engine(out: np.ndarray) -> _Engine:
    return _Engine(_Columns(out))


def _scorer(ref: np.ndarray) -> Scorer:
    data = {"x": np.zeros((ref.shape[1], 1), np.float32)}
    return Scorer(None, data, CHUNK, [{"y": ref[:, i:i + CHUNK]} for i in range(0, ref.shape[1], CHUNK)])


def _ref() -> np.ndarray:
    return np.random.default_rng(0).normal(0, 1, (T, 2 * N, C)).astype(np.float32)


def test_time_major_errors_are_per_sample() -> None:
    ref = _ref()
    got = ref + np.random.default_rng(1).normal(0, 0.1, ref.shape).astype(np.float32)
    errors = _scorer(ref)(_engine(got))
    weight = 1.0 / float(np.square(ref.astype(np.float64)).sum())
    want = np.square((got - ref).astype(np.float64)).sum(axis=(0, 2)) * weight
    assert errors.err.shape == (2 * N,)
    np.testing.assert_allclose(errors.err, want, rtol=1e-12)
    np.testing.assert_allclose(errors.ref, np.square(ref.astype(np.float64)).sum(axis=(0, 2)) * weight, rtol=1e-12)
    assert errors.relative_l2 == np.float64(np.sqrt(want.sum() / (weight * np.square(ref.astype(np.float64)).sum())))


def test_one_sample_does_not_carry_a_challenger() -> None:
    """The challenger is far closer on one sample and slightly further on
    every other: lower overall by more than MIN_GAIN, not by the t-test, so
    not clearly below; against a default without the bad sample, a set
    lower on every sample is."""
    ref = _ref()
    noise = np.random.default_rng(2).normal(0, 1, ref.shape).astype(np.float32)
    scale = np.full(2 * N, 0.05, np.float32)
    scale[3] = 0.5  # the default's one bad sample
    default = ref + noise * scale[None, :, None]
    challenger_scale = np.full(2 * N, 0.06, np.float32)
    challenger_scale[3] = 0.05
    challenger = ref + noise * challenger_scale[None, :, None]
    scorer = _scorer(ref)
    d, c = scorer(_engine(default)), scorer(_engine(challenger))
    assert c.relative_l2 < 0.5 * d.relative_l2
    assert int((c.err < d.err).sum()) == 1
    assert not c.clearly_below(d)
    even = scorer(_engine(ref + noise * 0.05))
    assert scorer(_engine(ref + noise * 0.02)).clearly_below(even)
