"""The threshold methods on histograms int8rt itself collected (the golden
tests build counts by hand): Histogram.compute_amax equals the independent
NumPy implementations fed the same counts and bin width, for each policy."""
from __future__ import annotations

import numpy as np
import pytest

from golden_methods import amax_entropy, amax_entropy_legacy, amax_minmax, amax_mse, amax_percentile
import int8rt


def _collected(policy: str) -> int8rt.calib.Histogram:
    rng = np.random.default_rng(7)
    h = int8rt.calib.Histogram(policy=policy)
    batches = [np.maximum(rng.standard_normal(5000) * s, 0).astype(np.float32) for s in (1.0, 1.25, 0.5)]
    if policy == "two_pass":
        for b in batches:
            h.observe_range(b)
    for b in batches:
        h.collect(b)
    return h


@pytest.mark.parametrize("policy", ["extend", "power_of_two", "two_pass"])
def test_compute_amax_on_collected_histograms_matches_golden(policy: str) -> None:
    h = _collected(policy)
    counts, width = h.counts, float(h.bin_width)
    assert np.array_equal(h.edges, (np.arange(h.num_bins + 1, dtype=np.float32) * np.float32(width)))
    assert h.compute_amax("entropy") == amax_entropy(counts, width, h.max_abs)
    assert h.compute_amax("entropy_legacy") == amax_entropy_legacy(counts, width)
    assert h.compute_amax("mse") == amax_mse(counts, width)
    assert h.compute_amax("percentile", percentile=99.9) == amax_percentile(counts, width, 99.9)
    assert h.compute_amax("minmax") == amax_minmax(h.max_abs)
