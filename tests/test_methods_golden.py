"""int8rt's threshold methods against the independent NumPy implementations
in tests/golden_methods.py, on many histogram shapes and sizes.

Histograms go in through ``_core._amax_from_counts`` (Histogram.from_state),
so both sides see exactly the same counts and bin width. amax must match
exactly (float32 ==): both sides pick the same bin and compute its edge or
centre with the same float32 operations. Divergences are compared within
``KL_BOUND`` (the reason is beside it).
"""
from __future__ import annotations

import numpy as np
import pytest

from golden_methods import (amax_entropy, amax_entropy_legacy, amax_mse, amax_percentile,
                            edges_of, entropy_divergences, legacy_divergences)
from int8rt import _core

# |int8rt KL - golden KL| bound, nats. Both are float64; the fast path regroups
# the sum through prefix sums of b*log(b) (error a few ulps of log(max count)
# per level), the term-by-term path sums left to right where scipy sums
# pairwise. Measured on CASES: fast <= 3e-15, term-by-term <= 4e-14 (the
# 4846-bin extended case, the longest sums). The bound sits well under
# int8rt's tie tolerance (1e-12 nats, csrc/calib/search_common.h), which is
# what makes that tolerance safe: rounding never separates an exact tie, and
# only differences this small are taken for one.
KL_BOUND = 2e-13

NUM_BINS = 2048


def bin_samples(x: np.ndarray, num_bins: int = NUM_BINS) -> tuple[np.ndarray, float, float]:
    """|x| histogram per int8rt's Histogram contract: width = max/num_bins,
    bin = min(num_bins - 1, int(|x| * (1/w))) in float32."""
    a = np.abs(np.asarray(x, dtype=np.float32))
    max_abs = np.float32(a.max()) if a.size else np.float32(0)
    if max_abs == 0:
        counts = np.zeros(num_bins, dtype=np.uint64)
        counts[0] = a.size
        return counts, 0.0, 0.0
    width = np.float32(max_abs / np.float32(num_bins))
    idx = np.minimum(num_bins - 1, (a * (np.float32(1) / width)).astype(np.int64))
    return np.bincount(idx, minlength=num_bins).astype(np.uint64), float(width), float(max_abs)


def extend_samples(batches: list[np.ndarray], num_bins: int = NUM_BINS
                   ) -> tuple[np.ndarray, float, float]:
    """Shaped like RangePolicy.kExtend output: the first batch fixes the width,
    later larger values append bins of the same width (> num_bins bins)."""
    first = np.abs(batches[0].astype(np.float32))
    width = np.float32(first.max() / np.float32(num_bins))
    a = np.abs(np.concatenate(batches).astype(np.float32))
    idx = (a * (np.float32(1) / width)).astype(np.int64)
    idx[a <= first.max()] = np.minimum(idx[a <= first.max()], num_bins - 1)
    n = max(num_bins, int(idx.max()) + 1)
    return np.bincount(idx, minlength=n).astype(np.uint64), float(width), float(a.max())


def _samples(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "relu_gauss":
        return np.maximum(rng.standard_normal(n), 0)
    if kind == "laplace":
        return rng.laplace(0.0, 0.7, n)
    if kind == "uniform":
        return rng.uniform(-3, 3, n)
    if kind == "heavy_outliers":
        x = rng.standard_t(2.0, n)
        x[rng.choice(n, size=max(1, n // 10000), replace=False)] = 40.0 * np.abs(x).max()
        return x
    if kind == "spike_at_zero":
        x = rng.standard_normal(n)
        x[rng.random(n) < 0.9] = 0.0
        return x
    if kind == "constant":
        return np.full(n, 3.25)
    if kind == "gauss":
        return rng.standard_normal(n)
    raise ValueError(kind)


def _cases() -> list[tuple[str, np.ndarray, float, float]]:
    rng = np.random.default_rng(20240611)
    cases = []
    for kind in ("relu_gauss", "laplace", "uniform", "heavy_outliers", "spike_at_zero",
                 "constant"):
        for n in (200, 100_000):
            cases.append((f"{kind}-{n}", *bin_samples(_samples(kind, n, rng))))
    # Counts up to ~1e9 per bin: a Gaussian density times 2e12 samples.
    centers = (np.arange(NUM_BINS) + 0.5) * (5.0 / NUM_BINS)
    big = np.round(2e12 * (5.0 / NUM_BINS) * np.exp(-centers**2 / 2) / np.sqrt(np.pi / 2))
    cases.append(("gauss-2e12", big.astype(np.uint64), 5.0 / NUM_BINS, 5.0))
    cases.append(("tiny-1", *bin_samples(np.array([0.37]))))
    cases.append(("tiny-3", *bin_samples(np.array([0.1, -0.2, 0.3]))))
    batches = [rng.standard_normal(20_000), 1.6 * rng.standard_normal(20_000),
               2.5 * rng.standard_normal(20_000)]
    cases.append(("extended", *extend_samples(batches)))
    return cases


CASES = _cases()
IDS = [c[0] for c in CASES]


def test_extended_case_has_more_than_2048_bins() -> None:
    counts = dict((c[0], c[1]) for c in CASES)["extended"]
    assert len(counts) > NUM_BINS


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_entropy_matches_golden(case: tuple) -> None:
    _, counts, width, max_abs = case
    want = amax_entropy(counts, width, max_abs)
    fast = _core._amax_from_counts(counts, width, max_abs, "entropy")
    ref = _core._amax_from_counts(counts, width, max_abs, "entropy", reference_order=True)
    assert np.float32(fast) == want, (fast, want)
    assert np.float32(ref) == want, (ref, want)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_entropy_divergences_match_golden(case: tuple) -> None:
    _, counts, width, _ = case
    if counts[1:].sum() == 0:
        pytest.skip("no mass after bins[0] = bins[1]: divergences undefined (NaN)")
    want = entropy_divergences(counts)
    for reference_order in (False, True):
        got = _core._entropy_divergences_from_counts(counts, width,
                                                     reference_order=reference_order)
        assert got.shape == want.shape
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        finite = np.isfinite(want)
        err = np.abs(got[finite] - want[finite])
        assert err.max(initial=0.0) <= KL_BOUND, (reference_order, err.max())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_entropy_legacy_matches_golden(case: tuple) -> None:
    _, counts, width, max_abs = case
    want = amax_entropy_legacy(counts, width)
    got = _core._amax_from_counts(counts, width, max_abs, "entropy_legacy")
    assert np.float32(got) == want, (got, want)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mse_matches_golden(case: tuple) -> None:
    _, counts, width, max_abs = case
    got = _core._amax_from_counts(counts, width, max_abs, "mse")
    assert np.float32(got) == amax_mse(counts, width)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("percentile", [50.0, 99.0, 99.9, 99.99, 99.999, 100.0])
def test_percentile_matches_golden(case: tuple, percentile: float) -> None:
    _, counts, width, max_abs = case
    got = _core._amax_from_counts(counts, width, max_abs, "percentile", percentile=percentile)
    assert np.float32(got) == amax_percentile(counts, width, percentile)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_minmax_is_max_abs(case: tuple) -> None:
    _, counts, width, max_abs = case
    assert _core._amax_from_counts(counts, width, max_abs, "minmax") == np.float32(max_abs)


UNSIGNED_CASES = [pytest.param(c, id=c[0]) for c in CASES
                  if c[0] in ("relu_gauss-100000", "laplace-200", "gauss-2e12")]
UNSIGNED_CASES += [pytest.param(c, id=c[0], marks=pytest.mark.slow) for c in CASES
                   if c[0] in ("extended", "heavy_outliers-100000")]


@pytest.mark.parametrize("case", UNSIGNED_CASES)
def test_unsigned_and_other_grids_match_golden(case: tuple) -> None:
    _, counts, width, max_abs = case
    for opts in (dict(unsigned=True), dict(unsigned=True, stride=3, start_bin=256),
                 dict(num_bits=6, stride=5, start_bin=40)):
        core_opts = dict(num_bits=opts.get("num_bits", 8), is_unsigned=opts.get("unsigned", False),
                         stride=opts.get("stride", 1), start_bin=opts.get("start_bin", 128))
        golden_opts = dict(num_bits=core_opts["num_bits"], unsigned=core_opts["is_unsigned"],
                           stride=core_opts["stride"], start_bin=core_opts["start_bin"])
        want = amax_entropy(counts, width, max_abs, **golden_opts)
        for ref in (False, True):
            got = _core._amax_from_counts(counts, width, max_abs, "entropy",
                                          reference_order=ref, **core_opts)
            assert np.float32(got) == want, opts
        got = _core._amax_from_counts(counts, width, max_abs, "mse", **core_opts)
        assert np.float32(got) == amax_mse(counts, width, **golden_opts), opts
        got = _core._amax_from_counts(counts, width, max_abs, "entropy_legacy", **core_opts)
        assert np.float32(got) == amax_entropy_legacy(counts, width, **golden_opts), opts


# ---- hand-built histograms: known optimum, exact ties, degenerate cases ----

def test_entropy_known_optimum_at_full_range() -> None:
    # Uniform over bins [0, 200) plus one count in the last bin: every level of
    # the i = 2048 candidate holds equal non-zero bins, so its KL is exactly 0;
    # every smaller i either clips real mass (KL > 0) or clips it onto an empty
    # bin (KL = inf).
    counts = np.zeros(NUM_BINS, dtype=np.uint64)
    counts[:200] = 1000
    counts[-1] = 1
    kl = entropy_divergences(counts)
    assert kl[-1] == 0 and np.all(kl[:-1] > 0)
    assert _core._amax_from_counts(counts, 0.5, 1024.0, "entropy") == np.float32(1024.0)


def test_entropy_exact_tie_goes_to_largest_candidate() -> None:
    # With 2 levels (num_bits=2) the candidates i = 5 and i = 6 group the
    # non-zero bins identically (bin 5 is empty), so their KLs are the same
    # number; i = 7 is worse. The reference's last argmin picks i = 6.
    counts = np.array([1, 1, 1, 2, 1, 0, 0], dtype=np.uint64)
    opts = dict(num_bits=2, start_bin=2)
    kl = entropy_divergences(counts, **opts)
    assert kl[3] == kl[4] == kl.min() and kl[5] > kl[4]
    assert amax_entropy(counts, 0.25, 1.75, **opts) == np.float32(6 * 0.25)
    for ref in (False, True):
        got = _core._amax_from_counts(counts, 0.25, 1.75, "entropy", reference_order=ref, **opts)
        assert got == np.float32(6 * 0.25)


def test_entropy_all_candidates_tied_picks_last() -> None:
    # Equal counts below bin 100: every candidate's Q equals its P (KL = 0 exactly).
    counts = np.zeros(NUM_BINS, dtype=np.uint64)
    counts[:100] = 7
    assert np.all(entropy_divergences(counts) == 0)
    for ref in (False, True):
        assert _core._amax_from_counts(counts, 0.5, 50.0, "entropy",
                                       reference_order=ref) == np.float32(1024.0)


def test_legacy_exact_tie_goes_to_first_candidate() -> None:
    counts = np.array([3, 3, 2, 2, 0], dtype=np.uint64)
    opts = dict(num_bits=2, start_bin=2)
    kl = legacy_divergences(counts, **opts)
    assert kl[2] == kl[3] == kl.min() and kl[1] > kl[2]
    want = np.float32(4.5) * np.float32(0.25)
    assert amax_entropy_legacy(counts, 0.25, **opts) == want
    assert _core._amax_from_counts(counts, 0.25, 1.25, "entropy_legacy", **opts) == want


def test_mse_exact_tie_goes_to_first_candidate() -> None:
    counts = np.array([0, 1, 0, 1, 0, 0, 1], dtype=np.uint64)
    got = _core._amax_from_counts(counts, 1.0, 7.0, "mse", num_bits=2, start_bin=2)
    assert got == amax_mse(counts, 1.0, num_bits=2, start_bin=2) == np.float32(4.5)


def test_all_zero_histogram_gives_zero() -> None:
    counts = np.zeros(NUM_BINS, dtype=np.uint64)
    for method in ("entropy", "entropy_legacy", "mse", "percentile", "minmax"):
        assert _core._amax_from_counts(counts, 0.0, 0.0, method) == 0.0


def test_fewer_bins_than_start_bin_gives_last_edge() -> None:
    counts = np.arange(1, 65, dtype=np.uint64)
    last = edges_of(64, 0.125)[64]
    for method in ("entropy", "entropy_legacy", "mse"):
        assert _core._amax_from_counts(counts, 0.125, 8.0, method) == last


def test_mass_only_in_bin_zero_entropy_falls_back_to_max_abs() -> None:
    counts = np.zeros(NUM_BINS, dtype=np.uint64)
    counts[0] = 10
    assert _core._amax_from_counts(counts, 1e-3, 9e-4, "entropy") == np.float32(9e-4)
    assert np.all(np.isnan(_core._entropy_divergences_from_counts(counts, 1e-3)))


def test_bad_options_raise() -> None:
    counts = np.ones(NUM_BINS, dtype=np.uint64)
    with pytest.raises(_core.InvalidArgumentError, match="percentile"):
        _core._amax_from_counts(counts, 1.0, 2048.0, "percentile", percentile=0.0)
    with pytest.raises(_core.InvalidArgumentError, match="percentile"):
        _core._amax_from_counts(counts, 1.0, 2048.0, "percentile", percentile=100.5)
    with pytest.raises(_core.InvalidArgumentError, match="stride"):
        _core._amax_from_counts(counts, 1.0, 2048.0, "entropy", stride=0)
    with pytest.raises(_core.InvalidArgumentError, match="valid names"):
        _core._amax_from_counts(counts, 1.0, 2048.0, "kl")


@pytest.mark.parametrize("alias,canonical", [("entropy2", "entropy"),
                                             ("EntropyCalibration2", "entropy"),
                                             ("EntropyCalibration", "entropy_legacy"),
                                             ("MinMaxCalibration", "minmax"),
                                             ("LegacyCalibration", "percentile")])
def test_method_aliases(alias: str, canonical: str) -> None:
    _, counts, width, max_abs = CASES[2]
    assert (_core._amax_from_counts(counts, width, max_abs, alias)
            == _core._amax_from_counts(counts, width, max_abs, canonical))
