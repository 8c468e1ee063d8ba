"""SmoothQuant's per-channel histograms hold 2048 bins in 2 bytes a bin
(accuracy/smooth_stats.py, acc28): uint16 counts and a sparse carry of the
multiples of 2^16, exact however many values one bin gets and however the
range grows (bins merged with their carry)."""
from __future__ import annotations

import numpy as np

from int8rt.accuracy.smooth_stats import BINS, ChannelHistograms


def _numpy_counts(a: np.ndarray, top: float) -> np.ndarray:
    return np.bincount(np.minimum((a / (top / BINS)).astype(np.int64), BINS - 1), minlength=BINS)


def test_counts_past_two_to_the_sixteen_are_exact_through_merges() -> None:
    """Channel 0: 150,000 values in one bin (two carries and a remainder),
    then a value 64x the range (bins merge in groups of 64, carries too);
    channel 1: spread values. Counts == numpy's over the final range; the
    memory is 2 bytes a bin plus the carried bins."""
    rng = np.random.default_rng(28)
    stats = ChannelHistograms(["t"])
    first = np.stack([np.full(150_000, 0.3, np.float32), rng.uniform(0, 1, 150_000).astype(np.float32)], axis=1)
    stats.observe({"t": first})
    t = stats._tensors["t"]
    assert t.store.carry, "a bin past 65535 values carries"
    assert t.counts[0].max() == 150_000
    second = np.array([[40.0, 0.5], [0.3, 0.25]], np.float32)
    stats.observe({"t": second})
    a = np.abs(np.concatenate([first, second])).astype(np.float64)
    for j in range(2):
        top = 2.0 ** (np.floor(np.log2(a[:, j].max())) + 1)
        assert t.top[j] == top
        assert np.array_equal(t.counts[j], _numpy_counts(a[:, j], top)), j
    assert t.counts.sum() == a.size
    assert t.store.low.dtype == np.uint16 and t.store.low.shape == (2, BINS)
    assert stats.nbytes == 2 * BINS * 2 + t.store.CARRY_BYTES * len(t.store.carry) + t.amax.nbytes + t.top.nbytes


def test_2048_bins_cost_what_1024_int32_bins_did() -> None:
    """The per-channel store of 2048 bins is the bytes of 1024 int32 bins."""
    assert BINS == 2048
    stats = ChannelHistograms(["t"])
    stats.observe({"t": np.ones((3, 384), np.float32)})
    assert stats._tensors["t"].store.low.nbytes == 384 * 1024 * np.dtype(np.int32).itemsize
