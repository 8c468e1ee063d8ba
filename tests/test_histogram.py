"""int8rt.calib.Histogram against an independent NumPy implementation of the
rules documented in csrc/calib/histogram.cc (bin index in float32, extend /
power_of_two / two_pass ranges), compared exactly: every count is an integer
and the float32 index arithmetic is IEEE-exact in both implementations."""
from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

import int8rt
from int8rt.calib import Histogram

FLT_MIN = np.float32(np.finfo(np.float32).tiny)
MAX_BINS = 1 << 20


def bin_counts(a: np.ndarray, width: np.float32, n: int) -> np.ndarray:
    """Counts of |a| (finite, float32) on bins of `width`: min(n-1, int(|x| * (1/w)))."""
    t = np.abs(a.astype(np.float32)).ravel() * (np.float32(1) / np.float32(width))
    idx = np.where(t >= n - 1, n - 1, np.floor(t.astype(np.float64))).astype(np.int64)
    return np.bincount(idx, minlength=n).astype(np.uint64)


class RefHist:
    """NumPy re-implementation of the range rules, for comparison."""

    def __init__(self, n: int = 2048, policy: str = "extend") -> None:
        self.n0, self.policy = n, policy
        self.counts = np.zeros(n, np.uint64)
        self.width = np.float32(0)
        self.max_abs = np.float32(0)
        self.zeros = 0

    def _set_range(self, m: np.float32) -> None:
        if self.policy == "power_of_two":
            e = math.frexp(float(m))[1]  # 2**(e-1) <= m < 2**e
            self.width = np.float32(2.0 ** e / self.n0)
        else:
            self.width = max(np.float32(m) / np.float32(self.n0), FLT_MIN)
        self.counts[0] += self.zeros
        self.zeros = 0

    def _coarsen(self, shift: int, size: int) -> None:
        out = np.zeros(size, np.uint64)
        np.add.at(out, np.arange(len(self.counts)) >> shift, self.counts)
        self.counts = out

    def collect(self, x: np.ndarray) -> None:
        a = np.abs(x.astype(np.float32)).ravel()
        a = a[np.isfinite(a)]
        m = np.float32(a.max()) if a.size else np.float32(0)
        if self.width == 0 and m > 0:
            self._set_range(self.max_abs if self.policy == "two_pass" else m)
        elif self.width > 0 and self.policy == "extend" and m > self.max_abs:
            top = math.floor(float(m * (np.float32(1) / self.width)))
            if top >= len(self.counts):
                shift = 0
                while math.floor(float(m * (np.float32(1) / np.float32(self.width * 2 ** shift)))) + 1 > MAX_BINS:
                    shift += 1
                self.width = np.float32(self.width * 2 ** shift)
                top = math.floor(float(m * (np.float32(1) / self.width)))
                kept = -(-len(self.counts) // 2 ** shift)
                self._coarsen(shift, max(top + 1, kept, self.n0))
        elif self.width > 0 and self.policy == "power_of_two":
            e = round(math.log2(float(self.width) * self.n0))
            e_new = math.frexp(float(m))[1]
            if e_new > e:
                self._coarsen(e_new - e, self.n0)
                self.width = np.float32(2.0 ** e_new / self.n0)
        if self.width > 0:
            self.counts += bin_counts(a, self.width, len(self.counts))
        else:
            self.zeros += a.size
        self.max_abs = max(self.max_abs, m)

    def observe_range(self, x: np.ndarray) -> None:
        a = np.abs(x.astype(np.float32)).ravel()
        a = a[np.isfinite(a)]
        if a.size:
            self.max_abs = max(self.max_abs, np.float32(a.max()))


def assert_same(h: Histogram, ref: RefHist) -> None:
    assert h.bin_width == ref.width
    assert h.max_abs == ref.max_abs
    assert h.num_bins == len(ref.counts)
    np.testing.assert_array_equal(h.counts, ref.counts)
    assert h.total_count == int(ref.counts.sum()) + ref.zeros


RNG = np.random.default_rng(1234)
BASE = RNG.standard_normal((6, 35, 40)).astype(np.float32)
VIEWS = {
    "contiguous": lambda b: b,
    "transposed": lambda b: b.transpose(2, 0, 1),
    "step_slices": lambda b: b[::2, 1::3, ::5],
    "negative_strides": lambda b: b[::-1, :, ::-2],
    "inner_reversed": lambda b: b[:, :, ::-1],
    "fortran": lambda b: np.asfortranarray(b),
    "zero_d": lambda b: b[1, 2, 3][()].reshape(()),
    "zero_d_view": lambda b: b[1, 2, 3, None][0],
    "empty": lambda b: b[:, :0],
    "size_one_dims": lambda b: b[:1, 3:4, :],
    "broadcast": lambda b: np.broadcast_to(b[0, 0], (7, 40)),
    "long_strided": lambda b: np.repeat(b.ravel(), 30)[::7],
    "unaligned": lambda b: np.frombuffer(b'\0' + b.tobytes(), dtype=np.float32, offset=1),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_counts_match_numpy_for_any_view(name: str) -> None:
    x = VIEWS[name](BASE)
    h, ref = Histogram(), RefHist()
    h.collect(x)
    ref.collect(np.array(x))
    assert_same(h, ref)
    assert h.total_count == x.size


def test_float16_counts_exact_including_subnormals() -> None:
    bits = RNG.integers(0, 0x7C00, size=50_000, dtype=np.uint16)  # every finite magnitude
    bits |= RNG.integers(0, 2, size=bits.size, dtype=np.uint16) << 15
    x16 = bits.view(np.float16)
    h, ref = Histogram(), RefHist()
    h.collect(x16)
    h.collect(x16[::-3])
    ref.collect(x16.astype(np.float32))
    ref.collect(x16[::-3].astype(np.float32))
    assert_same(h, ref)


def test_float64_is_binned_as_float32() -> None:
    x = RNG.standard_normal(1000)
    a, b = Histogram(), Histogram()
    a.collect(x)
    b.collect(x.astype(np.float32))
    assert a == b
    c = Histogram()
    c.collect([0.5, -1.5, 2.0])  # array-likes go through np.asarray
    assert c.total_count == 3 and c.max_abs == 2.0


@pytest.mark.parametrize("policy", ["extend", "power_of_two"])
def test_multi_batch_growth_matches_reference(policy: str) -> None:
    h, ref = Histogram(policy=policy), RefHist(policy=policy)
    scales = [1.0, 0.5, 3.0, 3.0, 2.9, 17.0, 1e-3, 250.0]
    for i, s in enumerate(scales):
        x = (RNG.standard_normal(5000 + 997 * i) * s).astype(np.float32)
        h.collect(x)
        ref.collect(x)
        assert_same(h, ref)
    if policy == "extend":
        assert h.num_bins > 2048


def test_extend_same_max_adds_no_bin_and_growth_lands_max_in_range() -> None:
    h = Histogram()
    x = np.float32([0.25, -1.0, 0.5])
    h.collect(x)
    h.collect(x)
    assert h.num_bins == 2048 and h.counts[-1] == 2
    h.collect(np.float32([1.5]))
    w = np.float32(h.bin_width)
    assert h.num_bins == math.floor(float(np.float32(1.5) * (np.float32(1) / w))) + 1
    assert h.counts[-1] == 1


def test_extend_cap_merges_bin_pairs() -> None:
    h, ref = Histogram(), RefHist()
    for x in (np.float32([1.0, 0.3, 0.7]), np.float32([1000.0, 2.0, 999.0])):
        h.collect(x)
        ref.collect(x)
    assert_same(h, ref)
    assert h.num_bins <= MAX_BINS and h.bin_width == np.float32(2 / 2048)


def test_power_of_two_growth_is_exact() -> None:
    # Includes values that are exactly powers of two (saturated sigmoid: 1.0).
    a = np.concatenate([RNG.random(30_000, dtype=np.float32), np.float32([1.0, 0.5])])
    b = RNG.uniform(-50, 50, 20_000).astype(np.float32)
    c = np.float32([64.0, 0.0, 1e-30])
    one = Histogram(policy="power_of_two")
    for part in (a, b, c):
        one.collect(part)
    whole = Histogram(policy="power_of_two")
    whole.collect(np.concatenate([a, b, c]))
    assert one == whole
    assert whole.bin_width == np.float32(128 / 2048)  # 64 needs the next power, 128


def test_power_of_two_range_below_one() -> None:
    h = Histogram(policy="power_of_two")
    h.collect(np.float32([0.3, -0.01]))
    assert h.bin_width == np.float32(0.5 / 2048)


def test_two_pass_is_order_independent_and_clamps() -> None:
    batches = [(RNG.standard_normal(4000) * s).astype(np.float32) for s in (0.5, 4.0, 1.0)]
    results = []
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        h = Histogram(policy="two_pass")
        for i in order:
            h.observe_range(batches[i])
        for i in order:
            h.collect(batches[i])
        results.append(h)
    assert results[0] == results[1] == results[2]
    ref = RefHist(policy="two_pass")
    for b in batches:
        ref.observe_range(b)
    for b in batches:
        ref.collect(b)
    assert_same(results[0], ref)
    # Values beyond the frozen range go to the last bin; max_abs stays exact.
    h = results[0]
    last = int(h.counts[-1])
    h.collect(np.float32([1e6]))
    assert h.counts[-1] == last + 1 and h.max_abs == np.float32(1e6)


def test_two_pass_needs_observe_range() -> None:
    h = Histogram(policy="two_pass")
    with pytest.raises(int8rt.InvalidArgumentError, match="observe_range"):
        h.collect(np.float32([1.0]))
    with pytest.raises(int8rt.InvalidArgumentError, match="two_pass"):
        Histogram().observe_range(np.float32([1.0]))
    h.observe_range(np.zeros(3, np.float32))
    h.collect(np.zeros(4, np.float32))
    assert h.total_count == 4
    with pytest.raises(int8rt.InvalidArgumentError, match="only zeros"):
        h.collect(np.float32([1.0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nonfinite_error_leaves_state_unchanged(bad: float, dtype: type) -> None:
    h = Histogram()
    h.collect(np.float32([0.5, 2.0]))
    before = pickle.dumps(h)
    x = RNG.standard_normal(200_000).astype(dtype)
    x[123_457] = bad
    with pytest.raises(int8rt.InvalidArgumentError, match="NaN/Inf"):
        h.collect(x)
    assert pickle.dumps(h) == before


def test_nonfinite_skip_counts_and_bins_the_rest() -> None:
    x = RNG.standard_normal(300_000).astype(np.float32)
    bad = RNG.choice(x.size, 77, replace=False)
    x[bad[:40]] = np.nan
    x[bad[40:60]] = np.inf
    x[bad[60:]] = -np.inf
    h, ref = Histogram(nonfinite="skip"), RefHist()
    h.collect(x)
    ref.collect(x)
    assert_same(h, ref)
    assert h.nonfinite_skipped == 77
    assert h.max_abs == np.abs(x[np.isfinite(x)]).max()


@pytest.mark.parametrize("policy", ["extend", "power_of_two", "two_pass"])
def test_all_zero_batches(policy: str) -> None:
    h = Histogram(policy=policy)
    if policy == "two_pass":
        h.observe_range(np.zeros(5, np.float32))
        h.observe_range(np.float32([0.0, -3.0]))
    h.collect(np.zeros((3, 4), np.float32))
    if policy != "two_pass":
        assert h.bin_width == 0 and h.total_count == 12
        assert not h.counts.any() and not h.edges.any() and len(h.edges) == 2049
        assert h._native.pending_zeros == 12
        h.collect(-np.zeros(5, np.float16))
        h.collect(np.float32([0.0, 3.0]))
    else:
        h.collect(np.zeros(5, np.float16))
        h.collect(np.float32([0.0, 3.0]))
    assert h.bin_width > 0 and h._native.pending_zeros == 0
    assert h.counts[0] == 18 and h.total_count == 19


def test_single_value_lands_in_last_bin() -> None:
    h = Histogram()
    h.collect(np.float32([-0.75]))
    assert h.max_abs == np.float32(0.75) and h.counts[-1] == 1 and h.total_count == 1
    e = h.edges
    assert e.dtype == np.float32 and len(e) == 2049
    np.testing.assert_array_equal(e, np.arange(2049, dtype=np.float32) * np.float32(h.bin_width))


def shards(x: np.ndarray, k: int) -> list:
    return np.array_split(x, k)


def test_merge_power_of_two_shards_equals_single() -> None:
    x = np.concatenate([(RNG.standard_normal(10_000) * s).astype(np.float32) for s in (0.1, 9, 2)])
    single = Histogram(policy="power_of_two")
    single.collect(x)
    parts = []
    for part in shards(x, 3):
        p = Histogram(policy="power_of_two")
        p.collect(part)
        parts.append(p)
    merged = Histogram(policy="power_of_two")
    for p in reversed(parts):
        merged.merge(p)
    assert merged == single


def test_merge_two_pass_and_extend_equal_width_shards() -> None:
    x = (RNG.standard_normal(30_000) * 3).astype(np.float32)
    top = np.float32(np.abs(x).max() * 2)
    for policy in ("two_pass", "extend"):
        single = Histogram(policy=policy)
        merged = Histogram(policy=policy)
        if policy == "two_pass":
            single.observe_range(x)
        single.collect(np.concatenate([[top], x]))
        for i, part in enumerate(shards(x, 4)):
            p = Histogram(policy=policy)
            if policy == "two_pass":
                p.observe_range(x)
            p.collect(np.concatenate([[top], part]) if i == 0 else part)
            if i > 0 and policy == "extend":
                p = Histogram.from_counts(bin_counts(part, single.bin_width, 2048),
                                          single.bin_width, float(np.abs(part).max()))
            merged.merge(p)
        assert merged == single, policy


def test_merge_extend_different_widths_rebins_by_centre() -> None:
    a, b = Histogram(), Histogram()
    a.collect(np.float32([1.0, 0.25]))
    b.collect(np.float32([4.0, 1.0, 3.0]))
    a.merge(b)
    assert a.bin_width == np.float32(4.0 / 2048) and a.total_count == 5 and a.max_abs == 4.0
    # a's 0.25: bin 512 of width 1/2048, centre 512.5/2048 -> bin 128 of width 4/2048;
    # a's 1.0: clamped into a's last bin 2047, centre 2047.5/2048 -> bin 511 (approximate,
    # b's exact 1.0 is in bin 512); b's 4.0 in the last bin.
    assert a.counts[128] == 1 and a.counts[511] == 1 and a.counts[512] == 1
    assert a.counts[-1] == 1 and a.num_bins == 2048


def test_merge_rejects_mismatches() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="policies differ"):
        Histogram().merge(Histogram(policy="power_of_two"))
    with pytest.raises(int8rt.InvalidArgumentError, match="num_bins differ"):
        Histogram().merge(Histogram(num_bins=1024))
    a, b = Histogram(policy="two_pass"), Histogram(policy="two_pass")
    a.observe_range(np.float32([1.0]))
    b.observe_range(np.float32([2.0]))
    a.collect(np.float32([0.5]))
    b.collect(np.float32([0.5]))
    with pytest.raises(int8rt.InvalidArgumentError, match="different ranges"):
        a.merge(b)


def test_merge_into_self_doubles() -> None:
    h = Histogram()
    h.collect(RNG.standard_normal(100).astype(np.float32))
    counts = h.counts
    h.merge(h)
    np.testing.assert_array_equal(h.counts, 2 * counts)


def test_pickle_and_copy_round_trip() -> None:
    h = Histogram(num_bins=512, nonfinite="skip")
    h.collect(np.zeros(3, np.float32))
    h.collect(np.float32([1.0, np.nan, 0.5]))
    h.collect(np.float32([9.0]))
    g = pickle.loads(pickle.dumps(h))
    assert g == h and repr(g) == repr(h)
    assert g.nonfinite_skipped == 1 and g.num_bins > 512 and g.total_count == 6
    c = copy.deepcopy(h)
    c.collect(np.float32([0.1]))
    assert h.total_count == 6 and c.total_count == 7
    n = pickle.loads(pickle.dumps(h._native))
    assert n.state()[1:] == h._native.state()[1:]


def test_from_counts_and_state_validation() -> None:
    h = Histogram.from_counts([0, 3, 0, 1], 0.5)
    assert h.max_abs == 2.0 and h.total_count == 4 and h.num_bins == 4
    np.testing.assert_array_equal(h.edges, np.float32([0, 0.5, 1, 1.5, 2]))
    with pytest.raises(int8rt.InvalidArgumentError):
        Histogram.from_counts([1, -1], 0.5)
    with pytest.raises(int8rt.InvalidArgumentError):
        Histogram.from_counts([1.5, 2], 0.5)
    with pytest.raises(int8rt.InvalidArgumentError, match="bin_width 0"):
        Histogram.from_counts([1, 2], 0.0)
    with pytest.raises(int8rt.InvalidArgumentError, match="power of two"):
        Histogram.from_counts([1, 2, 3], 0.5, policy="power_of_two")
    with pytest.raises(int8rt.InvalidArgumentError, match="policy"):
        Histogram.from_counts([1, 2], 0.5, policy="log")
    with pytest.raises(int8rt.InvalidArgumentError, match="num_bins"):
        Histogram(num_bins=0)
    with pytest.raises(int8rt.InvalidArgumentError, match="pending_zeros"):
        int8rt._core.Histogram.from_state(np.uint64([1, 2]), 0.5, 1.0, "extend", 2, "error", 0, 3)


def test_wrong_dtype_raises() -> None:
    h = Histogram()
    with pytest.raises(int8rt.InvalidArgumentError, match="int32"):
        h.collect(np.arange(10, dtype=np.int32))
    assert h.total_count == 0


def test_thread_counts_give_identical_counts() -> None:
    x = (RNG.standard_normal((3, 1 << 20)) * 2).astype(np.float32)
    x[1, ::1000] *= 50
    views = [x, x[:, ::3], x.T]
    before = int8rt.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            h = Histogram()
            for v in views:
                h.collect(v)
            results.append(h)
    finally:
        int8rt.set_num_threads(before)
    assert results[0] == results[1]
    ref = RefHist()
    for v in views:
        ref.collect(np.array(v))
    assert_same(results[0], ref)
