"""The permuted form of the pair-tile static int8 GEMM (csrc/kernels/x86/
gemm_s8_pairs_permuted.cc, gemm_s8_pairing.{h,cc}; the AVX2 u8 tile and A's
copy in avx2/gemm_s8_6x16c4p.cc): per-channel weights, which break the pair
rule in K order, are read by each 16-column block in its own k order (pairs
matched within windows of 16 k), from a per-block u8 copy of A.

Every case == the reference kernel (gemm_s8_ref) bit for bit, over int8 and
float outputs, bias, clamps and residual: weights quantized per channel as
int8rt does (scale = amax / 127 per row, normal rows), shapes around the 6 x 16 tile, K around the 16-k window (1..33, primes, up to
3072), row panels at 1 and 2 threads, windows where no pairing exists (the
residual rows), -128 weights. PackedGemm::form() is asserted, so a case meant
for the permuted form cannot pass through another.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from np_kernels import first_mismatch

F32 = np.float32
NAME = "gemm_s8_6x16c4p_avx2"
FORM = "pairs-permuted"


def _runs_here() -> bool:
    return any(n == NAME and reason == "" for n, _, reason in K.gemm_candidates(16, 16))


pytestmark = pytest.mark.skipif(not _runs_here(), reason=f"{NAME} does not run on this CPU")


def per_channel(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """int8 [n, k] as int8rt quantizes a linear's weights: normal rows, each scaled to its
    amax / 127 (heavier-tailed rows mostly obey the rule in K order and take the K-order form)."""
    w = rng.normal(0.0, 1.0, (n, k))
    amax = np.abs(w).max(axis=1, keepdims=True)
    return np.clip(np.rint(w / (amax / 127.0)), -127, 127).astype(np.int8)


def check(got: np.ndarray, want: np.ndarray, what: str) -> None:
    msg = first_mismatch(got, want)
    assert msg is None, f"{what}: {msg}"


EPILOGUES = [
    dict(out_dtype="int8", with_bias=True),
    dict(out_dtype="int8", lo=0.0, hi=127.0, with_bias=True, with_res=True),
    dict(out_dtype="float32", with_bias=True, with_res=True),
    dict(out_dtype="float32", lo=-3.0, hi=6.5, with_bias=False),
]


def run_case(rng: np.random.Generator, a: np.ndarray, w: np.ndarray, what: str) -> None:
    assert K.gemm_s8_form(w, kernel=NAME) == FORM, f"{what}: these weights must take the permuted form"
    n = w.shape[0]
    acc = K.gemm_s8(a, w, np.ones(n, F32), out_dtype="float32", kernel="gemm_s8_ref")
    amax = np.abs(acc).max(axis=0).astype(np.float64) + 1.0
    scale = (rng.uniform(0.9, 1.1, n) * 127.0 / amax).astype(F32)
    bias = rng.uniform(-12, 12, n).astype(F32)
    residual = rng.integers(-128, 128, (a.shape[0], n), dtype=np.int8)
    for e in EPILOGUES:
        kw = {key: e[key] for key in ("out_dtype", "lo", "hi") if key in e}
        if e.get("with_res"):
            kw.update(residual=residual, residual_scale=0.731)
        b = bias if e["with_bias"] else None
        want = K.gemm_s8(a, w, scale, b, kernel="gemm_s8_ref", **kw)
        got = K.gemm_s8(a, w, scale, b, kernel=NAME, **kw)
        check(got, want, f"{what} {e}")


def activations(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    a[0, :] = -128
    if m > 1:
        a[-1, :] = 127
    return a


SHAPES = ([(m, n, k) for m in (1, 5, 6, 7, 13) for n in (1, 15, 16, 17, 33) for k in (1, 3, 4, 15, 16, 17, 31, 33)]
          + [(m, n, 64) for m in (2, 12) for n in (31, 32, 48)]
          + [(9, 24, 100), (37, 65, 257), (12, 64, 384), (7, 48, 768), (6, 16, 3072)])


def short_rows(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """int8 [n, k] for K < 256, where per-channel scaling of so few values spreads them too wide
    for any pairing: rows of a normal of standard deviation 16 (clipped); the first column of
    every block holds 100 at k % 8 in {0, 1} (all k when K <= 4), pairs over the rule in K order
    (past the K-order form's budget) that the matching pairs with smaller values."""
    w = np.clip(np.round(rng.normal(0.0, 16.0, (n, k))), -127, 127)
    planted = np.arange(k) if k <= 4 else np.flatnonzero(np.arange(k) % 8 < 2)
    w[np.ix_(np.arange(0, n, 16), planted)] = 100
    return w.astype(np.int8)


@pytest.mark.parametrize("m,n,k", SHAPES, ids=lambda v: str(v))
def test_permuted_form_equals_reference(m: int, n: int, k: int) -> None:
    rng = np.random.default_rng(m * 100003 + n * 1009 + k)
    w = per_channel(rng, n, k) if k >= 256 else short_rows(rng, n, k)
    run_case(rng, activations(rng, m, k), w, f"M={m} N={n} K={k}")


@pytest.mark.parametrize("threads", [1, 2])
def test_rows_past_a_panel(threads: int) -> None:
    """M over several row panels (the per-block copy of A holds about 64 KiB: 60 rows at K = 1040,
    which pads to 1040), threads 1 and 2."""
    saved = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)
    try:
        rng = np.random.default_rng(7)
        w = per_channel(rng, 40, 1030)
        run_case(rng, activations(rng, 6 * 40 + 5, 1030), w, f"threads={threads}")
    finally:
        int8rt.set_num_threads(saved)


def test_windows_without_a_pairing_go_to_the_residual() -> None:
    """Block 0's first window holds 127 at all 16 k of column 3, so none of its pairs obeys the rule
    (8 incompatible pairs, 8 residual rows); block 1 has -128 at every even k of two windows of
    column 20 and -1 at every odd one (4 + 4 at best), and a window of -64 / -65 (4): within the
    budget of max(blocks, 512 / 4 x 2 / 8) = 32 rows."""
    rng = np.random.default_rng(11)
    w = per_channel(rng, 32, 512)
    w[3, 0:16] = 127
    w[20, 32:64:2], w[20, 33:64:2] = -128, -1
    w[25, 80:96] = np.tile(np.array([-64, -65], np.int8), 8)
    run_case(rng, activations(rng, 14, 512), w, "residual windows")


def test_extreme_values() -> None:
    """Activations and weights at the ends of int8, in windows the matching must split."""
    for value in (-128, 127):
        for wv in (-128, 127):
            a = np.full((7, 512), value, np.int8)
            w = per_channel(np.random.default_rng(3), 33, 512)
            w[::4, ::32] = wv
            scale = np.full(33, 127.0 / (128.0 * 128.0 * 512), F32)
            assert K.gemm_s8_form(w, kernel=NAME) == FORM
            check(K.gemm_s8(a, w, scale, kernel=NAME), K.gemm_s8(a, w, scale, kernel="gemm_s8_ref"),
                  f"a={value} w={wv}")


def test_dense_unsafe_weights_still_hand_on() -> None:
    """Full-range random bytes leave too many windows unpaired: the fallback packs them, same results."""
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, (64, 256), dtype=np.int8)
    assert K.gemm_s8_form(w, kernel=NAME) == ""
    a = rng.integers(-128, 128, (13, 256), dtype=np.int8)
    scale = np.full(64, 1e-4, F32)
    check(K.gemm_s8(a, w, scale, kernel=NAME), K.gemm_s8(a, w, scale, kernel="gemm_s8_ref"), "fallback")
