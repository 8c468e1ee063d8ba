"""Every compiled gemm_u8s8 kernel the CPU can run (kernels/gemm_u8s8.h) == numpy's int64 product
taken modulo 2^32, both ways of holding the operands (B packed once; A packed once and B, int8 or
uint8 storage, given per run with its column sums), over shapes around the tiles' edges (M, N, K
not multiples of 4 x 16 / 6 x 64 / c4), the extremes (A 0 and 255, B -128 and 127), all-extreme
operands and the values the AVX2 shifted tile must move into its range (B bytes of -128, rows of
A holding both 0 and 255: gemm_u8s8_shifted.h), plus a reduction long enough to wrap.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt

_t = pytest.importorskip("int8rt._testing")
K_ = _t.kernels

SHAPES = [(1, 1, 1), (1, 4, 16), (3, 5, 17), (4, 8, 16), (5, 7, 15), (7, 13, 33), (6, 64, 64), (9, 67, 65),
          (13, 3, 130), (17, 129, 47), (4, 256, 31)]


def _kernels() -> list:
    return [name for name, _isa, reason in K_.gemm_u8s8_candidates(8, 8) if reason == ""]


def _want(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b in int64, then the int32 two's-complement wrap (the family's contract)."""
    return (a.astype(np.int64) @ b.astype(np.int64)).astype(np.uint32).view(np.int32)


def _operands(rng, M: int, K: int, N: int, kind: str):
    """A uint8 [M, K], B int8 [K, N] of one kind of data."""
    if kind == "random":  # full ranges: B holds -128, long rows of A span 0..255
        return (rng.integers(0, 256, (M, K)).astype(np.uint8), rng.integers(-128, 128, (K, N)).astype(np.int8))
    if kind == "symmetric":  # ONNX Runtime's int8 weights, [-127, 127]; A without 0 (nothing moved)
        return (rng.integers(1, 256, (M, K)).astype(np.uint8), rng.integers(-127, 128, (K, N)).astype(np.int8))
    if kind == "extremes":  # only 0 / 255 and -128 / 127: the largest products of both signs
        return (rng.choice(np.array([0, 255], np.uint8), (M, K)), rng.choice(np.array([-128, 127], np.int8), (K, N)))
    if kind == "max":  # the saturation case of vpmaddubsw: 255 x -128 everywhere
        return np.full((M, K), 255, np.uint8), np.full((K, N), -128, np.int8)
    raise ValueError(kind)


@pytest.mark.parametrize("kernel", _kernels())
@pytest.mark.parametrize("kind", ["random", "symmetric", "extremes", "max"])
def test_gemm_u8s8_b_packed_equals_the_product(kernel: str, kind: str) -> None:
    rng = np.random.default_rng(11)
    for M, K, N in SHAPES:
        a, b = _operands(rng, M, K, N, kind)
        got = K_.gemm_u8s8(a, b, kernel=kernel)
        np.testing.assert_array_equal(got, _want(a, b), err_msg=f"{kernel} {kind} M={M} K={K} N={N}")


@pytest.mark.parametrize("kernel", _kernels())
@pytest.mark.parametrize("kind", ["random", "symmetric", "extremes", "max"])
def test_gemm_u8s8_a_packed_equals_the_product(kernel: str, kind: str) -> None:
    """A packed once (a conv's weights), B per run as int8 and as uint8 storage (read as b - 128)."""
    rng = np.random.default_rng(12)
    for M, K, N in SHAPES:
        a, b = _operands(rng, M, K, N, kind)
        for b_u8 in (False, True):
            given = (b.view(np.uint8) ^ np.uint8(0x80)) if b_u8 else b  # the same values as read
            got, sums = K_.gemm_u8s8_packed_a(a, given, kernel=kernel)
            msg = f"{kernel} {kind} M={M} K={K} N={N} b_u8={b_u8}"
            np.testing.assert_array_equal(got, _want(a, b), err_msg=msg)
            np.testing.assert_array_equal(sums, b.astype(np.int64).sum(0).astype(np.int32), err_msg=msg)


@pytest.mark.parametrize("kernel", _kernels())
def test_rows_spanning_0_to_255_and_sparse_b_minimum(kernel: str) -> None:
    """The shifted tile's moved bytes: rows of A with a few 0s among 255s (clamped 0s) and with a few
    255s among 0s (clamped 255s); a B of symmetric values with a few -128s in some columns."""
    rng = np.random.default_rng(13)
    M, K, N = 11, 70, 37
    a = rng.integers(1, 255, (M, K)).astype(np.uint8)
    a[0, [3, 40]] = 0
    a[0, 5] = 255  # both: two 0s, one 255 -> the 255 is moved
    a[1, [1, 2, 3]] = 255
    a[1, 9] = 0  # one 0, three 255s -> the 0 is moved
    a[2, :] = 0
    a[2, 69] = 255
    a[3, :] = 255
    b = rng.integers(-127, 128, (K, N)).astype(np.int8)
    b[[0, 7, 69], [0, 16, 36]] = -128
    b[:, 20] = -128
    np.testing.assert_array_equal(K_.gemm_u8s8(a, b, kernel=kernel), _want(a, b), err_msg=kernel)
    got, _ = K_.gemm_u8s8_packed_a(a, b, kernel=kernel)
    np.testing.assert_array_equal(got, _want(a, b), err_msg=kernel)


@pytest.mark.parametrize("kernel", _kernels())
def test_gemm_u8s8_wraps_modulo_2_32(kernel: str) -> None:
    """K = 70000: 255 * 127 * K passes 2^31; the contract is the int32 wrap, not saturation."""
    K = 70000
    a = np.full((2, K), 255, np.uint8)
    b = np.full((K, 3), 127, np.int8)
    b[:, 1] = -128
    b[::7, 2] = -128
    want = _want(a, b)
    assert (a.astype(np.int64) @ b.astype(np.int64)).max() > 2 ** 31  # the case does wrap
    np.testing.assert_array_equal(K_.gemm_u8s8(a, b, kernel=kernel), want, err_msg=kernel)
    np.testing.assert_array_equal(K_.gemm_u8s8_packed_a(a, b, kernel=kernel)[0], want, err_msg=kernel)


def test_the_avx2_tile_is_chosen_on_an_avx2_cpu() -> None:
    """Below the VNNI tiers the AVX2 tile, not the reference, takes the product."""
    if not int8rt.kernels.isa_info()["avx2"]["enabled"]:  # a CPU without AVX2, or INT8RT_MAX_ISA=ref
        pytest.skip("the AVX2 tier is not usable here (CPU or INT8RT_MAX_ISA cap)")
    names = [name for name, _isa, reason in K_.gemm_u8s8_candidates(64, 64) if reason == ""]
    assert "gemm_u8s8_4x16c4s_avx2" in names
    assert names.index("gemm_u8s8_4x16c4s_avx2") < names.index("gemm_u8s8_ref")


def _weights(rng, K: int, N: int) -> np.ndarray:
    """int8 weights as quantize_dynamic writes them: a bell of values scaled so that |max| is 127, so
    few pairs (k, k + 1) break the pair rule (gemm_u8s8_pairs.h); plus, where the shape allows,
    pairs at and past its edges: (64, 64) and (-64, -64) sum to +-128 (kept), (65, 64), (127, 127),
    (-65, -64), (-128, -1), (-128, -128) do not (moved, residual), (-128, 0) and (-128, 127) do."""
    b = np.clip(np.rint(rng.standard_normal((K, N)) * 18), -127, 127).astype(np.int8)
    b[0, 0] = 127
    edge = [(64, 64), (-64, -64), (65, 64), (127, 127), (-65, -64), (-128, -1), (-128, -128), (-128, 0),
            (-128, 127), (1, 127)]
    for i, (x, y) in enumerate(edge):
        k, n = 2 * (i % (K // 2)) if K >= 2 else 0, (3 * i) % N
        if k + 1 < K:
            b[k, n], b[k + 1, n] = x, y
    return b


# K large enough keeps the edge pairs' residual rows within the kernel's budget (1/8 of the groups).
PAIR_SHAPES = [(1, 200, 1), (1, 256, 16), (3, 258, 17), (6, 259, 16), (7, 161, 33), (5, 322, 15), (13, 64, 64),
               (9, 67, 65), (12, 130, 47), (6, 256, 96)]


@pytest.mark.parametrize("kernel", _kernels())
@pytest.mark.parametrize("a_kind", ["random", "extremes"])
def test_pair_safe_weights_equal_the_product(kernel: str, a_kind: str) -> None:
    """B packed once with few unsafe pairs: the AVX2 kernel takes its pair tile (form 'pairs'), A read
    as given (0 and 255 included), the residual added after the loop; == the int64 product."""
    rng = np.random.default_rng(14)
    for M, K, N in PAIR_SHAPES:
        b = _weights(rng, K, N)
        if a_kind == "random":
            a = rng.integers(0, 256, (M, K)).astype(np.uint8)
        else:
            a = rng.choice(np.array([0, 255], np.uint8), (M, K))
        form = K_.gemm_u8s8_form(b, kernel=kernel)
        if kernel.endswith("_avx2"):
            assert form == "pairs", (kernel, M, K, N)
        np.testing.assert_array_equal(K_.gemm_u8s8(a, b, kernel=kernel), _want(a, b),
                                      err_msg=f"{kernel} ({form}) {a_kind} M={M} K={K} N={N}")


@pytest.mark.parametrize("kernel", _kernels())
def test_pair_residual_rows_shared_and_wrapping(kernel: str) -> None:
    """Unsafe pairs in many columns of one block on the same k (one residual row shared), in both
    halves of a block and in a partial last block; K = 140000 of pairs (127, 1) (safe, at the rule's
    edge) in the first 19 columns and all-255 rows of A: the sums wrap."""
    rng = np.random.default_rng(15)
    K, N = 140000, 37
    b = np.clip(np.rint(rng.standard_normal((K, N)) * 10), -127, 127).astype(np.int8)
    b[0::2, :19] = 127
    b[1::2, :19] = 1
    b[[100, 101], :] = 100       # every column unsafe at (100, 101)
    b[[7, 8], 3] = -100          # two pairs (6, 7) and (8, 9): safe unless their partners push them over
    b[[40, 41], 33] = -128       # the partial block
    b[[40, 41], 20] = 127
    a = np.full((3, K), 255, np.uint8)
    a[1, ::3] = 0
    a[2] = rng.integers(0, 256, K)
    form = K_.gemm_u8s8_form(b, kernel=kernel)
    if kernel.endswith("_avx2"):
        assert form == "pairs"
    want = _want(a, b)
    assert np.abs(a.astype(np.int64) @ b.astype(np.int64)).max() > 2 ** 31  # the case does wrap
    np.testing.assert_array_equal(K_.gemm_u8s8(a, b, kernel=kernel), want, err_msg=f"{kernel} ({form})")


@pytest.mark.parametrize("kernel", _kernels())
def test_dense_unsafe_pairs_take_the_shifted_form(kernel: str) -> None:
    """Full-range random bytes break the pair rule in about a quarter of their pairs: the AVX2 kernel
    keeps the shifted (sign) tiles for them."""
    rng = np.random.default_rng(16)
    b = rng.integers(-128, 128, (64, 64)).astype(np.int8)
    if kernel.endswith("_avx2"):
        assert K_.gemm_u8s8_form(b, kernel=kernel) == "shifted"


def _conv_weights(rng, M: int, K: int) -> np.ndarray:
    """uint8 weights as an asymmetric quantizer writes a convolution's (ddddocr's ConvIntegers): each
    row a bell around its own zero point (rows 90..170), so few pairs break the pair rule once the
    kernel recentres the row; row 0 holds 0 and 255 (a - z spans the whole s8 range), row 1 is
    constant, and the edge pairs of _weights are placed around row 2's centre."""
    centre = rng.integers(90, 171, (M, 1))
    a = np.clip(np.rint(rng.standard_normal((M, K)) * 15) + centre, 0, 255).astype(np.uint8)
    a[0, 0], a[0, -1] = 0, 255
    if M > 1:
        a[1] = 200
    if M > 2:
        c = int(np.median(a[2]))
        for i, (x, y) in enumerate([(64, 64), (65, 64), (-65, -64), (-64, -64)]):
            if 2 * i + 1 < K:
                a[2, 2 * i], a[2, 2 * i + 1] = np.clip([c + x, c + y], 0, 255)
    return a


@pytest.mark.parametrize("kernel", _kernels())
@pytest.mark.parametrize("b_kind", ["random", "extremes"])
def test_a_packed_pairs_equal_the_product(kernel: str, b_kind: str) -> None:
    """A packed once with few unsafe pairs after recentring: the AVX2 kernel takes its A-packed pair
    tile (form 'pairs'); B per run as int8 and uint8 storage; == the int64 product, column sums too."""
    rng = np.random.default_rng(17)
    for M, K, N in [(1, 200, 1), (3, 216, 17), (6, 217, 16), (7, 96, 33), (13, 432, 47), (24, 9 * 24, 65)]:
        a = _conv_weights(rng, M, K)
        if b_kind == "random":
            b = rng.integers(-128, 128, (K, N)).astype(np.int8)
        else:
            b = rng.choice(np.array([-128, 127], np.int8), (K, N))
        form = K_.gemm_u8s8_form(a, kernel=kernel, packed_a=True)
        if kernel.endswith("_avx2"):
            assert form == "pairs", (M, K, N)
        for b_u8 in (False, True):
            given = (b.view(np.uint8) ^ np.uint8(0x80)) if b_u8 else b
            got, sums = K_.gemm_u8s8_packed_a(a, given, kernel=kernel)
            msg = f"{kernel} ({form}) {b_kind} M={M} K={K} N={N} b_u8={b_u8}"
            np.testing.assert_array_equal(got, _want(a, b), err_msg=msg)
            np.testing.assert_array_equal(sums, b.astype(np.int64).sum(0).astype(np.int32), err_msg=msg)


@pytest.mark.parametrize("kernel", _kernels())
def test_a_packed_pairs_wrap(kernel: str) -> None:
    """K = 140000: rows of (255, 128) pairs recentred (z = 192: +63, -64, safe) against B = 127 pass 2^31."""
    K = 140000
    a = np.empty((2, K), np.uint8)
    a[:, 0::2], a[:, 1::2] = 255, 128
    a[1, 5:9] = 200
    b = np.full((K, 3), 127, np.int8)
    b[::5, 1] = -128
    want = _want(a, b)
    assert (a.astype(np.int64) @ b.astype(np.int64)).max() > 2 ** 31
    if kernel.endswith("_avx2"):
        assert K_.gemm_u8s8_form(a, kernel=kernel, packed_a=True) == "pairs"
    np.testing.assert_array_equal(K_.gemm_u8s8_packed_a(a, b, kernel=kernel)[0], want, err_msg=kernel)
