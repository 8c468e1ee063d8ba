"""The BF16 GEMM family (csrc/kernels/gemm_bf16.h) and the FP32 -> BF16
conversion (csrc/kernels/ref/bf16.h).

- The conversion equals a NumPy transcription of the SDM's
  convert_fp32_to_bfloat16 on random bit patterns and the special values
  (``==`` on the bits).
- The reference kernel equals a NumPy transcription of the contract
  (abi/gemm_bf16.h): per output, one FP32 chain over the k pairs, odd
  element first, each step one rounding (``==``). The test data keeps every
  magnitude in [2^-8, 1], so each step's exact sum fits a float64 and
  rounding it to float32 is the fused multiply-add; no denormal occurs, so
  DAZ / FTZ change nothing here (the C++ ref follows them; AVX512-BF16 does
  them in hardware).
- Every other eligible candidate of VDPBF16PS's order has the same summation
  order, so it must equal the reference bit for bit (``==``), over shapes
  around the tiles (8 x 32, 4 x 16), odd K, both weight sides, transposes,
  accumulation, im2col views with strides / padding / dilation, and 1 vs 2
  threads. The AMX-BF16 kernel sums in TDPBF16PS's order (abi/gemm_bf16.h:
  == that order in tests/cpp/test_gemm_bf16_amx.cc): here within the
  FP32-sum bound of the reference over the same shapes, and 1 vs 2 threads
  ``==``.
- A MatMul between two activations (run_activations: B packed on each call)
  has the bits of the same B packed as weights, per kernel (``==``).
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K

F32 = np.float32
CANDIDATES = K.gemm_bf16_candidates()
ELIGIBLE = [name for name, _, reason in CANDIDATES if not reason]
# VDPBF16PS's order (the reference's bits) and TDPBF16PS's (other bits within the bound)
FAST = [name for name, isa, reason in CANDIDATES if not reason and isa != "amx" and name != "gemm_bf16_ref"]
AMX = [name for name, isa, reason in CANDIDATES if not reason and isa == "amx"]


def bf16_bits_np(x: np.ndarray) -> np.ndarray:
    """The SDM's convert_fp32_to_bfloat16, written from its pseudo-code."""
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    exp = (u >> 23) & 0xFF
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    out = np.where(exp == 0, (u >> 16) & 0x8000, rounded)
    out = np.where((exp == 0xFF) & ((u & 0x7FFFFF) != 0), (u >> 16) | 0x40, out)
    out = np.where((exp == 0xFF) & ((u & 0x7FFFFF) == 0), u >> 16, out)
    return out.astype(np.uint16)


def bf16_value(x: np.ndarray) -> np.ndarray:
    return (bf16_bits_np(x).astype(np.uint32) << 16).view(F32)


def data(rng: np.random.Generator, shape) -> np.ndarray:
    """Uniform in [-1, 1] with every magnitude at least 2^-8 (see the top)."""
    x = rng.uniform(-1, 1, shape)
    return (np.sign(x + (x == 0)) * np.maximum(np.abs(x), 2.0 ** -8)).astype(F32)


def spec_gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C = A[M, K] @ B[K, N] as the BF16 contract computes it."""
    A, B = bf16_value(a).astype(np.float64), bf16_value(b).astype(np.float64)
    k = A.shape[1]
    acc = np.zeros((A.shape[0], B.shape[1]), F32)
    for p in range((k + 1) // 2):
        for kk in (2 * p + 1, 2 * p):  # VDPBF16PS: odd element first
            if kk < k:
                acc = (acc.astype(np.float64) + np.outer(A[:, kk], B[kk, :])).astype(F32)
            else:  # the zero padding of an odd K: acc + 0
                acc = (acc.astype(np.float64) + 0.0).astype(F32)
    return acc


def same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    g, w = np.asarray(got, F32).view(np.uint32), np.asarray(want, F32).view(np.uint32)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    bad = np.argwhere(g != w)
    assert bad.size == 0, (f"{what}: {len(bad)} of {g.size} outputs differ; first at {tuple(bad[0])}: "
                           f"{got[tuple(bad[0])]!r} != {want[tuple(bad[0])]!r}")


def test_candidates_are_listed_best_first_with_the_reference_last() -> None:
    names = [name for name, _, _ in CANDIDATES]
    assert names[-1] == "gemm_bf16_ref" and "gemm_bf16_ref" in ELIGIBLE
    if "gemm_bf16_8x32_avx512bf16" in names:
        reason = dict((n, r) for n, _, r in CANDIDATES)["gemm_bf16_8x32_avx512bf16"]
        has = int8rt.kernels.cpu_features()["avx512_bf16"]
        assert (reason == "") == (has and int8rt.get_max_isa() in ("avx512bf16", "amx")), reason


def test_conversion_matches_the_sdm_pseudo_code() -> None:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2 ** 32, 200_000, dtype=np.uint64).astype(np.uint32)
    specials = np.array([0, 0x80000000, 1, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000,
                         0xFF800000, 0x7FC00000, 0x7F800001, 0xFF812345, 0x3F808000, 0x3F818000,
                         0x3F807FFF, 0x3F808001], np.uint32)
    x = np.concatenate([bits, specials]).view(F32)
    got = K.bf16_from_f32(x)
    want = bf16_bits_np(x)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{x.view(np.uint32)[bad[0]]:#010x} -> {got[bad[0]]:#06x}, expected {want[bad[0]]:#06x}"
    # ties to even: 1 + 2^-8 (a tie) rounds down to 1, 1 + 3 * 2^-8 up to 1 + 2^-6
    assert K.bf16_from_f32(np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8], F32)).tolist() == [0x3F80, 0x3F82]


@pytest.mark.parametrize("kernel", ELIGIBLE)
def test_pair_converter_matches_the_conversion(kernel: str) -> None:
    rng = np.random.default_rng(1)
    for kc, n in itertools.product((1, 2, 3, 7, 128), (1, 4, 8, 15, 16, 17, 32, 33)):
        src = rng.standard_normal((kc, n)).astype(F32)
        src[0, 0] = 1 + 2 ** -8  # a tie
        got = K.bf16_pairs(src, kernel=kernel)
        padded = np.concatenate([src, np.zeros((kc % 2, n), F32)])
        want = bf16_bits_np(padded).reshape(-1, 2, n).transpose(0, 2, 1)
        assert np.array_equal(got, want), f"{kernel}: kc={kc} n={n}"


SHAPES = [(1, 1, 1), (3, 5, 2), (4, 16, 7), (5, 17, 9), (8, 32, 16), (9, 33, 31), (13, 47, 64), (16, 65, 33)]


@pytest.mark.parametrize("weights_left", [False, True])
def test_reference_kernel_is_the_contract(weights_left: bool) -> None:
    rng = np.random.default_rng(2)
    for M, N, k in SHAPES:
        a, b = data(rng, (M, k)), data(rng, (k, N))
        if weights_left:  # y = w @ x: w = a, x = b
            got = K.gemm_bf16(b, a, weights_left=True, kernel="gemm_bf16_ref")
        else:
            got = K.gemm_bf16(a, b, kernel="gemm_bf16_ref")
        same_bits(got, spec_gemm(a, b), f"gemm_bf16_ref M={M} N={N} K={k} weights_left={weights_left}")


@pytest.mark.skipif(not FAST, reason="no optimized BF16 kernel can run here: "
                    + "; ".join(f"{n}: {r}" for n, _, r in CANDIDATES if r))
@pytest.mark.parametrize("kernel", FAST)
def test_fast_kernels_equal_the_reference(kernel: str) -> None:
    rng = np.random.default_rng(3)
    shapes = SHAPES + [(24, 100, 129), (7, 31, 255)]
    for (M, N, k), weights_left, tx, tw, acc in itertools.product(shapes, (False, True), (False, True),
                                                                 (False, True), (False, True)):
        if (tx or tw) and k > 64:
            continue
        x = data(rng, (k, N) if weights_left else (M, k))
        w = data(rng, (M, k) if weights_left else (k, N))
        c = data(rng, (M, N)) if acc else None
        xa = np.ascontiguousarray(x.T) if tx else x
        wa = np.ascontiguousarray(w.T) if tw else w
        what = f"{kernel} M={M} N={N} K={k} weights_left={weights_left} trans_x={tx} trans_w={tw} acc={acc}"
        ref = K.gemm_bf16(xa, wa, weights_left, tx, tw, c, kernel="gemm_bf16_ref")
        same_bits(K.gemm_bf16(xa, wa, weights_left, tx, tw, c, kernel=kernel), ref, what)
    # larger, threaded: 1 thread vs the pool, and the reference
    x, w = data(rng, (130, 300)), data(rng, (300, 200))
    one = K.gemm_bf16(x, w, kernel=kernel, parallel=False)
    same_bits(K.gemm_bf16(x, w, kernel=kernel), one, f"{kernel} threaded 130x300x200")
    same_bits(one, K.gemm_bf16(x, w, kernel="gemm_bf16_ref"), f"{kernel} vs ref 130x300x200")


@pytest.mark.skipif(not AMX, reason="no AMX-BF16 kernel can run here: "
                    + "; ".join(f"{n}: {r}" for n, i, r in CANDIDATES if r and i == "amx"))
@pytest.mark.parametrize("kernel", AMX)
def test_amx_kernel_within_the_fp32_sum_bound_of_the_reference(kernel: str) -> None:
    """Both orders add the same exact BF16 products (K of them, S the sum of
    their magnitudes plus |c|) in FP32, each within (K + 2) 2^-24 S of the
    exact sum, so they differ by at most 2 (K + 2) 2^-24 S (abi/gemm_bf16.h);
    over the sweep they differ somewhere (the orders really are two)."""
    rng = np.random.default_rng(3)
    differ = 0
    for (M, N, k), weights_left, tx, acc in itertools.product(SHAPES + [(24, 100, 129), (7, 31, 255)],
                                                             (False, True), (False, True), (False, True)):
        x = data(rng, (k, N) if weights_left else (M, k))
        w = data(rng, (M, k) if weights_left else (k, N))
        c = data(rng, (M, N)) if acc else None
        xa = np.ascontiguousarray(x.T) if tx else x
        got = K.gemm_bf16(xa, w, weights_left, tx, False, c, kernel=kernel)
        ref = K.gemm_bf16(xa, w, weights_left, tx, False, c, kernel="gemm_bf16_ref")
        a, b = (w, x) if weights_left else (x, w)
        S = np.abs(bf16_value(a).astype(np.float64)) @ np.abs(bf16_value(b).astype(np.float64))
        S += 0 if c is None else np.abs(c)
        bound = 2 * (k + 2) * 2.0 ** -24 * S
        err = np.abs(got.astype(np.float64) - ref)
        assert (err <= bound).all(), (f"{kernel} M={M} N={N} K={k} weights_left={weights_left} trans_x={tx} "
                                      f"acc={acc}: {err.max()} > bound at {np.unravel_index(np.argmax(err - bound), err.shape)}")
        differ += int((got.view(np.uint32) != ref.view(np.uint32)).sum())
    assert differ > 0, "TDPBF16PS's order should differ from VDPBF16PS's in some output"
    x, w = data(rng, (130, 300)), data(rng, (300, 200))
    same_bits(K.gemm_bf16(x, w, kernel=kernel), K.gemm_bf16(x, w, kernel=kernel, parallel=False),
              f"{kernel} threaded 130x300x200")


@pytest.mark.skipif(not FAST, reason="no optimized BF16 kernel can run here")
@pytest.mark.parametrize("kernel", FAST)
def test_fast_kernels_equal_the_reference_on_im2col(kernel: str) -> None:
    rng = np.random.default_rng(4)
    for (C, H, W, M, kh), stride, pad, dil in itertools.product(
            [(3, 9, 11, 5, 3), (8, 7, 7, 16, 1), (5, 12, 5, 9, 2)], (1, 2), (0, 1), (1, 2)):
        if (H + 2 * pad - dil * (kh - 1) - 1) < 0 or (W + 2 * pad - dil * (kh - 1) - 1) < 0:
            continue
        x, w = data(rng, (C, H, W)), data(rng, (M, C, kh, kh))
        what = f"{kernel} conv C={C} H={H} W={W} M={M} k={kh} s={stride} p={pad} d={dil}"
        same_bits(K.conv2d_bf16(x, w, stride, pad, dil, kernel=kernel),
                  K.conv2d_bf16(x, w, stride, pad, dil, kernel="gemm_bf16_ref"), what)


ACT_SHAPES = SHAPES + [(31, 33, 65), (128, 128, 64), (64, 40, 257)]


@pytest.mark.parametrize("kernel", ELIGIBLE)
def test_matmul_of_two_activations_has_the_bits_of_packed_weights(kernel: str) -> None:
    """run_activations (B packed per call) == pack(B) then run, == the reference / the contract."""
    rng = np.random.default_rng(6)
    for (M, N, k), ta, tb, acc in itertools.product(ACT_SHAPES, (False, True), (False, True), (False, True)):
        if (ta or tb or acc) and M * N * k > 50_000:
            continue
        a, b = data(rng, (M, k)), data(rng, (k, N))
        c = data(rng, (M, N)) if acc else None
        aa = np.ascontiguousarray(a.T) if ta else a
        ba = np.ascontiguousarray(b.T) if tb else b
        what = f"{kernel} M={M} N={N} K={k} trans_a={ta} trans_b={tb} acc={acc}"
        got = K.matmul_bf16(aa, ba, ta, tb, c, kernel=kernel)
        same_bits(got, K.gemm_bf16(aa, ba, False, ta, tb, c, kernel=kernel), what + " vs packed weights")
        if kernel == "gemm_bf16_ref" and not acc:
            same_bits(got, spec_gemm(a, b), what + " vs the contract")
        elif kernel in FAST and M * N * k <= 50_000:
            same_bits(got, K.matmul_bf16(aa, ba, ta, tb, c, kernel="gemm_bf16_ref"), what + " vs the reference")
    a, b = data(rng, (200, 96)), data(rng, (96, 300))  # threaded vs one thread
    same_bits(K.matmul_bf16(a, b, kernel=kernel), K.matmul_bf16(a, b, kernel=kernel, parallel=False),
              f"{kernel} threaded 200x96x300")


def test_matmul_of_two_activations_edges() -> None:
    """K = 0 gives zeros (or c unchanged); empty M / N; a mismatch is refused."""
    z = K.matmul_bf16(np.zeros((3, 0), F32), np.zeros((0, 4), F32))
    assert z.shape == (3, 4) and not z.any()
    c = np.arange(12, dtype=F32).reshape(3, 4)
    assert np.array_equal(K.matmul_bf16(np.zeros((3, 0), F32), np.zeros((0, 4), F32), c=c), c)
    assert K.matmul_bf16(np.zeros((0, 5), F32), np.ones((5, 4), F32)).shape == (0, 4)
    with pytest.raises(int8rt.InvalidArgumentError, match="inner dimensions"):
        K.matmul_bf16(np.ones((3, 5), F32), np.ones((4, 4), F32))


def explicit_im2col(x: np.ndarray, kh: int, stride: int, pad: int) -> np.ndarray:
    """col[c][tap][pixel] of x[C][H][W] for a kh x kh window."""
    C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh, ow = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kh) // stride + 1
    return np.stack([xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
                     for i in range(kh) for j in range(kh)], axis=1).reshape(C, kh * kh, oh * ow)


def test_im2col_reference_is_the_contract_on_an_explicit_im2col() -> None:
    """An im2col view runs the direct order (kernels/gemm_bf16_direct.h: k'
    = tap * Ce + c, C padded to even with a zero channel) where few output
    columns are dropped (here a stride-2 3x3 window on a 6x5 image, odd C),
    the im2col order (k = c * taps + tap) otherwise (a 3-wide window over a
    3-wide image: 2 of 3 columns would be dropped); ``==`` the contract on
    that explicit matrix, and the other order differs."""
    rng = np.random.default_rng(5)
    M, kh = 4, 3
    for C, H, W, stride, pad, direct in ((3, 6, 5, 2, 1, True), (3, 6, 3, 1, 0, False), (5, 7, 9, 1, 1, True)):
        x, w = data(rng, (C, H, W)), data(rng, (M, C, kh, kh))
        col = explicit_im2col(x, kh, stride, pad)
        ce = C + C % 2
        col_d = np.pad(col, ((0, ce - C), (0, 0), (0, 0))).transpose(1, 0, 2).reshape(kh * kh * ce, -1)
        w_d = np.pad(w.reshape(M, C, kh * kh), ((0, 0), (0, ce - C), (0, 0))).transpose(0, 2, 1).reshape(M, -1)
        orders = {True: spec_gemm(w_d, col_d), False: spec_gemm(w.reshape(M, -1), col.reshape(C * kh * kh, -1))}
        got = K.conv2d_bf16(x, w, stride, pad, 1, kernel="gemm_bf16_ref")
        same_bits(got, orders[direct], f"gemm_bf16_ref on C{C} {H}x{W} stride {stride}, direct={direct}")
        assert not np.array_equal(got, orders[not direct]), "the two orders should differ in some bit"
        # Weights packed without their taps (Bf16Weights::taps = 1) have no direct order: the im2col panels.
        for name in ELIGIBLE:
            plain = K.conv2d_bf16(x, w, stride, pad, 1, kernel=name, packed_taps=1)
            if name != "gemm_bf16_32x32_amx":
                same_bits(plain, orders[False], f"{name} packed without taps on C{C} {H}x{W} stride {stride}")


def test_direct_weights_are_made_when_packed() -> None:
    """The direct order is laid out by pack() (Bf16Weights::taps), not on a
    first run: taps that do not divide k are refused at pack time, and a
    conv packed for one window and run through the direct path with another
    is refused, on every eligible kernel."""
    rng = np.random.default_rng(6)
    x, w = data(rng, (4, 9, 9)), data(rng, (8, 4, 3, 3))
    for name in ELIGIBLE:
        with pytest.raises(int8rt.InvalidArgumentError, match="taps 5 do not divide"):
            K.conv2d_bf16(x, w, 1, 1, 1, kernel=name, packed_taps=5)
        if name != "gemm_bf16_32x32_amx":  # AMX keeps the im2col panels (rows, no direct path)
            with pytest.raises(int8rt.InvalidArgumentError, match="packed for 12 taps run with 9"):
                K.conv2d_bf16(x, w, 1, 1, 1, kernel=name, packed_taps=12)


def test_max_isa_and_dispatch_log_cover_the_family() -> None:
    code = ("from int8rt._testing import kernels as K; print(K.choose_gemm_bf16())")
    for cap, want in (("ref", "gemm_bf16_ref"), ("avx2", "gemm_bf16_ref")):
        env = dict(os.environ, INT8RT_MAX_ISA=cap, INT8RT_LOG="dispatch")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == want
        assert "int8rt dispatch: gemm_bf16 -> gemm_bf16_ref (ref)" in out.stderr, out.stderr
        if "gemm_bf16_8x32_avx512bf16" in [n for n, _, _ in CANDIDATES]:
            why = (f"ISA avx512bf16 above cap {cap}" if int8rt.kernels.isa_info()["avx512bf16"]["cpu"]
                   else "CPU lacks avx512bf16")
            assert f"gemm_bf16_8x32_avx512bf16: {why}" in out.stderr, out.stderr
