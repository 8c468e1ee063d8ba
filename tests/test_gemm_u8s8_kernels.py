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
    if not int8rt.kernels.isa_info()["avx2"]["cpu"]:
        pytest.skip("the CPU has no AVX2")
    names = [name for name, _isa, reason in K_.gemm_u8s8_candidates(64, 64) if reason == ""]
    assert "gemm_u8s8_4x16c4s_avx2" in names
    assert names.index("gemm_u8s8_4x16c4s_avx2") < names.index("gemm_u8s8_ref")
