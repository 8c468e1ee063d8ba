"""int8rt.calib.Collector: per-tensor histograms and thresholds.

The oracle is a Histogram per tensor fed the same data and its compute_amax:
the Collector must give exactly the same thresholds, scale = float32(amax)/127,
and keep tensors in first-observed order. Errors name the tensor and leave the
collector unchanged; shards merged equal one collector over all data."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import int8rt
from int8rt.calib import Collector, Histogram, read_cache, write_cache

METHODS = ["entropy", "entropy_legacy", "minmax", "percentile", "mse"]


def make_batches(seed: int, n: int = 4) -> list[dict[str, np.ndarray]]:
    """Three tensors with different distributions and growing ranges."""
    rng = np.random.default_rng(seed)
    batches = []
    for i in range(n):
        grow = 1.0 + 0.5 * i  # later batches exceed the first batch's range
        batches.append({
            "conv1_out": (rng.standard_normal((2, 8, 6, 6)) * grow).astype(np.float32),
            "relu1_out": np.maximum(rng.standard_normal((2, 8, 6, 6)) * 3 * grow, 0).astype(np.float32),
            "fc_out": (rng.laplace(size=(2, 100)) * grow).astype(np.float32),
        })
    return batches


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("policy", ["extend", "power_of_two"])
def test_matches_histogram_per_tensor(method: str, policy: str) -> None:
    batches = make_batches(1)
    col = Collector(method, num_bins=2048, policy=policy)
    for b in batches:
        col.observe(b)
    assert col.names == ["conv1_out", "relu1_out", "fc_out"]
    amaxes, scales = col.amaxes(), col.scales()
    assert list(amaxes) == col.names and list(scales) == col.names
    for name in col.names:
        h = Histogram(2048, policy)
        for b in batches:
            h.collect(b[name])
        np.testing.assert_array_equal(col.histogram(name).counts, h.counts)
        expected = h.compute_amax(method)
        assert amaxes[name] == expected, (method, name)
        assert scales[name] == float(np.float32(expected) / np.float32(127)), (method, name)
    assert col.cache() == write_cache(scales, method)
    assert read_cache(col.cache(101303))[:2] == (int8rt.calib.cache_algorithm_name(method), 101303)


def test_method_options_reach_the_search() -> None:
    batches = make_batches(2)
    col = Collector("percentile", percentile=99.0)
    col.observe(batches[0])
    h = Histogram()
    h.collect(batches[0]["fc_out"])
    assert col.amaxes()["fc_out"] == h.compute_amax("percentile", percentile=99.0)
    assert col.amaxes()["fc_out"] != h.compute_amax("percentile", percentile=99.99)
    with pytest.raises(TypeError, match="unknown method option"):
        Collector("entropy", percentil=99.0)


def test_errors_name_the_tensor_and_change_nothing() -> None:
    batches = make_batches(3)
    col = Collector("entropy")
    col.observe(batches[0])
    before = {n: col.histogram(n).counts.copy() for n in col.names}
    bad = dict(batches[1])
    bad["relu1_out"] = bad["relu1_out"].copy()
    bad["relu1_out"][0, 1, 2, 3] = np.nan
    bad["new_tensor"] = np.ones(4, np.float32)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"^tensor 'relu1_out': "):
        col.observe(bad)
    assert col.names == ["conv1_out", "relu1_out", "fc_out"]  # new_tensor not added
    for n in col.names:  # conv1_out came before the bad tensor and is unchanged too
        np.testing.assert_array_equal(col.histogram(n).counts, before[n])
    with pytest.raises(int8rt.InvalidArgumentError, match=r"tensor 'ids'.*int64"):
        col.observe({"ids": np.arange(6)})
    with pytest.raises(int8rt.InvalidArgumentError, match="no tensor named 'nope'"):
        col.histogram("nope")
    assert "nope" not in col and "fc_out" in col and len(col) == 3
    with pytest.raises(TypeError, match="tensor names must be str, got 3"):
        col.observe({3: np.ones(2, np.float32)})
    with pytest.raises(TypeError, match="expected a mapping"):
        col.observe([np.ones(2, np.float32)])  # type: ignore[arg-type]


def test_nonfinite_skip() -> None:
    col = Collector("minmax", nonfinite="skip")
    col.observe({"x": np.array([1.0, np.inf, -2.0, np.nan], np.float32)})
    assert col.histogram("x").nonfinite_skipped == 2
    assert col.amaxes()["x"] == 2.0  # minmax: the largest finite |x|


def test_dtypes_and_strides() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 10)).astype(np.float32)
    a, b = Collector("minmax"), Collector("minmax")
    a.observe({"t": x[:, ::2]})
    b.observe({"t": np.ascontiguousarray(x[:, ::2]).astype(np.float64)})
    np.testing.assert_array_equal(a.histogram("t").counts, b.histogram("t").counts)
    h = np.ones(5, np.float16)
    c = Collector("minmax")
    c.observe({"h": h})
    assert c.amaxes()["h"] == 1.0


@pytest.mark.parametrize("method", ["entropy", "minmax", "percentile"])
def test_merge_of_shards_equals_one_collector_power_of_two(method: str) -> None:
    batches = make_batches(5, n=9)
    whole = Collector(method, policy="power_of_two")
    for b in batches:
        whole.observe(b)
    shards = [Collector(method, policy="power_of_two") for _ in range(3)]
    for i, b in enumerate(batches):
        shards[i % 3].observe(b)
    merged = shards[0]
    merged.merge(shards[1])
    merged.merge(shards[2])
    assert merged.names == whole.names
    for n in whole.names:
        np.testing.assert_array_equal(merged.histogram(n).counts, whole.histogram(n).counts)
    assert merged.amaxes() == whole.amaxes()
    assert merged.cache() == whole.cache()


def test_merge_appends_new_tensors_and_checks_policy() -> None:
    a, b = Collector("minmax"), Collector("minmax")
    a.observe({"x": np.ones(3, np.float32)})
    b.observe({"y": np.full(3, 2, np.float32), "x": np.full(3, 4, np.float32)})
    a.merge(b)
    assert a.names == ["x", "y"]
    assert a.amaxes() == {"x": 4.0, "y": 2.0}
    with pytest.raises(int8rt.InvalidArgumentError, match="range policies"):
        a.merge(Collector("minmax", policy="power_of_two"))
    with pytest.raises(TypeError):
        a.merge(Histogram())  # type: ignore[arg-type]


def test_two_pass() -> None:
    batches = make_batches(6)
    col = Collector("entropy", policy="two_pass")
    for b in batches:
        col.observe_range(b)
    for b in reversed(batches):
        col.observe(b)
    h = Histogram(2048, "two_pass")
    for b in batches:
        h.observe_range(b["fc_out"])
    for b in batches:
        h.collect(b["fc_out"])
    assert col.amaxes()["fc_out"] == h.compute_amax("entropy")


def test_pickle_round_trip() -> None:
    col = Collector("percentile", policy="power_of_two", percentile=99.9, num_bins=512)
    for b in make_batches(7):
        col.observe(b)
    back = pickle.loads(pickle.dumps(col))
    assert back.names == col.names
    assert (back.algorithm, back.policy, back.num_bins) == ("percentile", "power_of_two", 512)
    for n in col.names:
        np.testing.assert_array_equal(back.histogram(n).counts, col.histogram(n).counts)
    assert back.amaxes() == col.amaxes()
    back.observe(make_batches(8)[0])  # still usable


def test_settings_are_validated() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="policy"):
        Collector("entropy", policy="grow")
    with pytest.raises(int8rt.InvalidArgumentError, match="non-finite"):
        Collector("entropy", nonfinite="ignore")
    with pytest.raises(int8rt.InvalidArgumentError):
        Collector("kl")
