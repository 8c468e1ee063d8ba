"""The gemm_u8s8 epilogue (kernels/gemm_u8s8.h, GemmU8S8Epilogue): a product packed once stores
C + row_a x col_a + row_b x col_b (int32, wrapping), or float32(that) * scale (+ bias), each float
operation rounded once in that order. Every kernel the CPU runs, both of the AVX2 kernel's forms
(the pair tile fuses the epilogue into its store, the shifted tiles apply the rule's loop after
each tile), against numpy: the integer part in int64 taken modulo 2^32, the float part in numpy
float32, whose operations round the same way, so the comparison is ==.
"""
from __future__ import annotations

import numpy as np
import pytest

_t = pytest.importorskip("int8rt._testing")
K_ = _t.kernels

SHAPES = [(1, 200, 1), (5, 256, 16), (6, 258, 17), (7, 161, 33), (13, 130, 47), (12, 64, 64)]


def _kernels() -> list:
    return [name for name, _isa, reason in K_.gemm_u8s8_candidates(8, 8) if reason == ""]


def _weights(rng, K: int, N: int, form: str) -> np.ndarray:
    if form == "pairs":  # quantize_dynamic-like int8 weights: few pairs over the rule
        b = np.clip(np.rint(rng.standard_normal((K, N)) * 18), -127, 127).astype(np.int8)
        b[0, 0], b[1, 0] = 127, 127  # one pair moved (a residual row)
        return b
    return rng.integers(-128, 128, (K, N)).astype(np.int8)  # full range: the shifted tiles


def _want(a, b, ra, ca, rb, cb, scale, bias) -> np.ndarray:
    c = a.astype(np.int64) @ b.astype(np.int64)
    if ra is not None:
        c = c + ra.astype(np.int64)[:, None] * ca.astype(np.int64)[None, :]
    if rb is not None:
        c = c + rb.astype(np.int64)[:, None] * cb.astype(np.int64)[None, :]
    c = (c % 2 ** 32).astype(np.uint32).view(np.int32)
    if scale is None:
        return c
    y = c.astype(np.float32) * scale
    return y + bias if bias is not None else y


CASES = ["none", "row_a", "both", "scale", "scale_bias", "all", "wrap"]


def _epilogue(rng, M: int, N: int, case: str):
    ra = ca = rb = cb = scale = bias = None
    if case in ("row_a", "both", "all"):
        ra = -rng.integers(0, 256, M).astype(np.int32)            # -za[m]
        ca = rng.integers(-40000, 40000, N).astype(np.int32)       # column sums of B
    if case in ("both", "all"):
        rb = rng.integers(-70000, 70000, M).astype(np.int32)       # K za - r[m]
        cb = rng.integers(-128, 128, N).astype(np.int32)           # zb[n]
    if case == "wrap":  # terms past 2^31: the int32 wrap, in the terms and in their sum
        ra = np.full(M, 2 ** 20 + 3, np.int32)
        ca = rng.integers(2 ** 14, 2 ** 15, N).astype(np.int32)
        rb = np.full(M, -(2 ** 30), np.int32)
        cb = rng.integers(-7, 7, N).astype(np.int32)
    if case in ("scale", "scale_bias", "all", "wrap"):
        scale = rng.uniform(1e-5, 3e-3, N).astype(np.float32)
    if case in ("scale_bias", "all", "wrap"):
        bias = rng.normal(size=N).astype(np.float32)
    return ra, ca, rb, cb, scale, bias


@pytest.mark.parametrize("kernel", _kernels())
@pytest.mark.parametrize("form", ["pairs", "shifted"])
@pytest.mark.parametrize("case", CASES)
def test_epilogue_equals_the_rule(kernel: str, form: str, case: str) -> None:
    rng = np.random.default_rng(21)
    for M, K, N in SHAPES:
        a = rng.integers(0, 256, (M, K)).astype(np.uint8)
        a[0, :7] = 255
        a[-1, -5:] = 0
        b = _weights(rng, K, N, form)
        if kernel.endswith("_avx2"):
            assert K_.gemm_u8s8_form(b, kernel=kernel) == form
        ra, ca, rb, cb, scale, bias = _epilogue(rng, M, N, case)
        got = K_.gemm_u8s8_epilogue(a, b, row_a=ra, col_a=ca, row_b=rb, col_b=cb, scale=scale, bias=bias,
                                    kernel=kernel)
        want = _want(a, b, ra, ca, rb, cb, scale, bias)
        assert got.dtype == want.dtype
        if got.dtype == np.float32:  # bit for bit (NaN-free: compare the bits)
            got, want = got.view(np.int32), want.view(np.int32)
        np.testing.assert_array_equal(got, want, err_msg=f"{kernel} {form} {case} M={M} K={K} N={N}")


def test_epilogue_arguments_are_checked() -> None:
    a, b = np.zeros((2, 4), np.uint8), np.zeros((4, 3), np.int8)
    with pytest.raises(Exception, match="pairs"):
        K_.gemm_u8s8_epilogue(a, b, row_a=np.zeros(2, np.int32))
    with pytest.raises(Exception, match="bias needs scale"):
        K_.gemm_u8s8_epilogue(a, b, bias=np.zeros(3, np.float32))
    with pytest.raises(Exception, match="3 values"):
        K_.gemm_u8s8_epilogue(a, b, scale=np.zeros(4, np.float32))
