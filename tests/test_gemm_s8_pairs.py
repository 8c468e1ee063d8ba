"""The pair-tile static int8 GEMM (csrc/kernels/x86/gemm_s8_pairs.h, the AVX2
tile avx2/gemm_s8_6x16c4p.cc): s8 activations read as a + 128 through
vpmaddubsw against a pair-safe W plus a sparse residual, -128 * column sums
as the accumulators' start, int8rt's requantization in the store.

Every case == the reference kernel (gemm_s8_ref) bit for bit: int8 and float
outputs, bias, clamps, residual; quantizer-like weights (a bell scaled to
127 per row) with the pair rule's edges planted, shapes around the 6 x 16
tile and K in groups of 4; activations spanning [-128, 127] and constant
rows at both ends. Which form packed W is checked (PackedGemm::form), so a
case meant for the pair tile cannot pass through the fallback.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from np_kernels import first_mismatch

F32 = np.float32
NAME = "gemm_s8_6x16c4p_avx2"


def _runs_here() -> bool:
    return any(n == NAME and reason == "" for n, _, reason in K.gemm_candidates(16, 16))


pytestmark = pytest.mark.skipif(not _runs_here(), reason=f"{NAME} does not run on this CPU")


def check(got: np.ndarray, want: np.ndarray, what: str) -> None:
    msg = first_mismatch(got, want)
    assert msg is None, f"{what}: {msg}"


def bell_weights(rng: np.random.Generator, n: int, k: int, top: float = 127.0) -> np.ndarray:
    """Per-row symmetric int8 weights with each row's largest |w| at `top`: a
    normal of standard deviation top / 5.5 (a heavy-tailed row, where the
    per-channel quantizer's 127 is an outlier; with top / 3, a plain normal
    row of 256 values, a few percent of pairs break the rule and the kernel
    hands the weights on), plus one value of +-top per row."""
    w = np.clip(np.round(rng.normal(0.0, top / 5.5, (n, k))), -top, top)
    w[np.arange(n), rng.integers(0, k, n)] = np.where(rng.random(n) < 0.5, -top, top)
    return w.astype(np.int8)


# Pairs (w[k], w[k + 1]) at even k: the rule keeps (64, 64), (-64, -64), (-128, 0), (-128, 127),
# (127, -128); it moves (65, 64), (127, 127), (-65, -64), (-128, -1), (-128, -128).
EDGE_PAIRS = [(64, 64), (-64, -64), (-128, 0), (-128, 127), (127, -128),
              (65, 64), (127, 127), (-65, -64), (-128, -1), (-128, -128)]


def plant_edges(rng: np.random.Generator, w: np.ndarray) -> None:
    n, k = w.shape
    if k < 2:
        return
    for i, (x, y) in enumerate(EDGE_PAIRS):
        row, k0 = (i * 7) % n, 2 * ((i * 5) % (k // 2))
        w[row, k0], w[row, k0 + 1] = x, y


def epilogue(rng: np.random.Generator, acc: np.ndarray):
    n = acc.shape[-1]
    amax = np.abs(acc.reshape(-1, n)).max(axis=0).astype(np.float64) + 1.0
    scale = (rng.uniform(0.9, 1.1, n) * 127.0 / amax).astype(F32)
    bias = rng.uniform(-12, 12, n).astype(F32)
    return scale, bias


EPILOGUES = [
    dict(out_dtype="int8", with_bias=True),
    dict(out_dtype="int8", lo=0.0, hi=127.0, with_bias=True, with_res=True),
    dict(out_dtype="int8", lo=-50.5, hi=77.25, with_bias=False),
    dict(out_dtype="float32", with_bias=True, with_res=True),
    dict(out_dtype="float32", lo=0.0, hi=6.5, with_bias=False),
]


def run_case(rng: np.random.Generator, a: np.ndarray, w: np.ndarray, what: str) -> None:
    n = w.shape[0]
    acc = K.gemm_s8(a, w, np.ones(n, F32), out_dtype="float32", kernel="gemm_s8_ref")
    scale, bias = epilogue(rng, acc)
    residual = rng.integers(-128, 128, (a.shape[0], n), dtype=np.int8)
    for e in EPILOGUES:
        kw = {key: e[key] for key in ("out_dtype", "lo", "hi") if key in e}
        if e.get("with_res"):
            kw.update(residual=residual, residual_scale=0.731)
        b = bias if e["with_bias"] else None
        want = K.gemm_s8(a, w, scale, b, kernel="gemm_s8_ref", **kw)
        got = K.gemm_s8(a, w, scale, b, kernel=NAME, **kw)
        check(got, want, f"{what} {e}")


SHAPES = ([(m, n, k) for m in (1, 2, 5, 6, 7, 12, 13) for n in (1, 15, 16, 17) for k in (4, 8, 12)]
          + [(m, n, 64) for m in (1, 6, 7) for n in (31, 32, 33, 48)]
          + [(37, 65, 260), (64, 64, 768), (11, 129, 1028), (6, 16, 1536)])


@pytest.mark.parametrize("m,n,k", SHAPES, ids=lambda v: str(v))
def test_pair_tile_equals_reference(m: int, n: int, k: int) -> None:
    rng = np.random.default_rng(m * 100003 + n * 1009 + k)
    if k >= 256:
        w = bell_weights(rng, n, k)
        plant_edges(rng, w)
    else:  # shorter rows: every pair safe but one moved pair (the budget is one residual row per block)
        w = bell_weights(rng, n, k, top=64.0)
        w[0, 0:2] = (127, 127)
    # (residual rows past 1/32 of the groups: the permuted form, test_gemm_s8_permuted.py)
    assert K.gemm_s8_form(w, kernel=NAME) in ("pairs", "pairs-permuted"), "these weights must take the pair tile"
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    a[0, :] = -128
    if m > 1:
        a[-1, :] = 127
    run_case(rng, a, w, f"M={m} N={n} K={k}")


@pytest.mark.parametrize("threads", [1, 2])
def test_pair_tile_rows_past_a_panel(threads: int) -> None:
    """M large enough for several row panels of the driver (192 KiB of A each), threads 1 and 2."""
    saved = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)
    try:
        rng = np.random.default_rng(7)
        w = bell_weights(rng, 40, 1024)
        plant_edges(rng, w)
        a = rng.integers(-128, 128, (6 * 40 + 5, 1024), dtype=np.int8)
        run_case(rng, a, w, f"M={a.shape[0]} threads={threads}")
    finally:
        int8rt.set_num_threads(saved)


def test_residual_rows_shared_and_dense() -> None:
    """20 pairs of one column over the rule (20 residual rows in its block, within the budget of
    64 / 4 x 3 / 8 = 24), and the same pair in all 16 columns of a block (one row for the block)."""
    rng = np.random.default_rng(11)
    k = 256
    w = bell_weights(rng, 48, k, top=64.0)  # every pair within the rule but those planted
    w[3, :40] = 127                      # one column: 20 pairs over the rule
    w[16:32, 10:12] = -128               # pair 5 of every column of block 1
    w[40, 0:2] = (100, 100)
    assert K.gemm_s8_form(w, kernel=NAME) in ("pairs", "pairs-permuted")  # past 1/32 of the groups: permuted
    a = rng.integers(-128, 128, (9, k), dtype=np.int8)
    run_case(rng, a, w, "shared/dense residual rows")


def test_extreme_values() -> None:
    for value in (-128, 127):
        for wv in (-128, -127, 127):
            a = np.full((7, 1024), value, np.int8)
            w = np.zeros((33, 1024), np.int8)
            w[:, ::4] = wv                   # one weight per group: every pair within the rule
            assert K.gemm_s8_form(w, kernel=NAME) == "pairs"
            scale = np.full(33, 127.0 / (128.0 * 128.0 * 256), F32)
            check(K.gemm_s8(a, w, scale, kernel=NAME), K.gemm_s8(a, w, scale, kernel="gemm_s8_ref"),
                  f"a={value} w={wv}")


def test_dense_unsafe_weights_hand_on_to_the_fallback() -> None:
    """Full-range random weights (about a quarter of pairs unsafe) are packed by the fallback
    kernel, with the same results."""
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (64, 256), dtype=np.int8)
    assert K.gemm_s8_form(w, kernel=NAME) == ""
    a = rng.integers(-128, 128, (13, 256), dtype=np.int8)
    run_case(rng, a, w, "fallback")


@pytest.mark.parametrize("k", [1, 3, 18, 255])
def test_k_not_multiple_of_4_takes_the_permuted_form(k: int) -> None:
    """The tile reads A in groups of 4 bytes: other K are packed in the permuted form, whose copy
    of A pads K to 16 (gemm_s8_pairs_permuted.cc), same results."""
    rng = np.random.default_rng(k)
    w = bell_weights(rng, 21, k, top=64.0)
    assert K.gemm_s8_form(w, kernel=NAME) == "pairs-permuted"
    int8rt.set_max_isa("avx2")  # the tile's own tier: wider tiers' kernels come first where the CPU has them
    try:
        assert K.choose_gemm(21, k) == NAME
    finally:
        int8rt.set_max_isa(None)
    run_case(rng, rng.integers(-128, 128, (7, k), dtype=np.int8), w, f"K={k}")


@pytest.mark.parametrize("n,k", [(16, 8), (17, 64), (48, 256), (33, 1024)])
def test_per_run_b_packed_into_a_kept_slot_equals_reference(n: int, k: int) -> None:
    """B given per run (GemmKernel::pack_per_run_into): [N, K] as attention's keys, in the K-order pair
    form, and [K, N] as its values, through the fallback, each packed into a slot that held another B
    first (the binding packs ~b there: other residual values, so stale residual rows or a stale split
    would show) == the reference. The slot keeps both packings (PerRunPairsGemm, RESULTS.md section
    188)."""
    rng = np.random.default_rng(n * 31 + k)
    w = bell_weights(rng, n, k, top=64.0)  # every pair within the rule but one: one residual row
    w[0, 0:2] = (127, 127)
    assert K.gemm_s8_form(w, kernel=NAME) == "pairs", "these weights must take the K-order pair form"
    ones = np.ones(n, F32)
    want = K.PackedGemm(w, ones, out_dtype="float32", kernel="gemm_s8_ref")
    nk = K.PackedGemm(w, ones, out_dtype="float32", kernel=NAME, per_run=True)
    kn = K.PackedGemm(np.ascontiguousarray(w.T), ones, out_dtype="float32", kernel=NAME, b_kn=True, per_run=True)
    for m in (1, 7):
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        check(nk.run(a), want.run(a), f"per run [N, K] M={m} N={n} K={k}")
        check(kn.run(a), want.run(a), f"per run [K, N] M={m} N={n} K={k}")
