"""The engine's FP32 GEMM with every microkernel (AVX-512, AVX2+FMA,
portable) against a float64 product.

FP32 results are not bit-exact across microkernels (the vector ones fuse
multiply and add, and slice K differently), so each is checked against the
exact float64 product with the standard floating-point summation bound
  |got - exact| <= 2 * (K + 1) * 2^-24 * sum_k |a_ik * b_kj|  (+ |c_ij|)
which every summation order and FMA use meet (each of the <= K + 1 roundings
of a running sum contributes at most 2^-24 of a partial sum's magnitude; the
factor 2 covers the final add into C). Within one microkernel the result
must not depend on the thread count, so 1 and 2 threads are compared with
``==``. Shapes sweep the register tiles (6x8, 6x16, 8x32, 12x32), the K slice
(256) and the row blocks, with every transpose combination and accumulation.
Two microkernels with the same FMAs per output in the same k order (the
AVX-512 12 x 32 tile and its 8 x 32 twin) are compared with ``==``.
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
KERNELS = [name for name, _, reason in K.sgemm_candidates() if not reason]


def check_bound(got: np.ndarray, a: np.ndarray, b: np.ndarray, c, what: str) -> None:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    exact = a64 @ b64 + (0.0 if c is None else c.astype(np.float64))
    mag = np.abs(a64) @ np.abs(b64) + (0.0 if c is None else np.abs(c.astype(np.float64)))
    bound = 2.0 * (a.shape[1] + 1) * 2.0 ** -24 * mag + 1e-30
    err = np.abs(got.astype(np.float64) - exact)
    bad = np.argwhere(err > bound)
    assert bad.size == 0, (f"{what}: {len(bad)} outside the bound; first at {tuple(bad[0])}: "
                           f"err {err[tuple(bad[0])]:.3g} > {bound[tuple(bad[0])]:.3g}")


def run(kernel: str, M: int, N: int, K_: int, ta: bool, tb: bool, acc: bool, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (M, K_)).astype(F32)
    b = rng.uniform(-1, 1, (K_, N)).astype(F32)
    c = rng.uniform(-1, 1, (M, N)).astype(F32) if acc else None
    a_arg = np.ascontiguousarray(a.T) if ta else a
    b_arg = np.ascontiguousarray(b.T) if tb else b
    got = K.sgemm(a_arg, b_arg, ta, tb, c, kernel=kernel)
    return got, a, b, c, (a_arg, b_arg)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("M", [1, 5, 6, 7, 8, 9, 11, 12, 13, 17, 25, 96, 97, 193])
def test_sgemm_within_bound(kernel: str, M: int) -> None:
    for (N, K_), t in itertools.product([(1, 1), (7, 3), (8, 255), (16, 256), (17, 257),
                                         (31, 5), (32, 64), (33, 513), (65, 1)], range(4)):
        ta, tb, acc = bool(t & 1), bool(t & 2), (M + N + K_ + t) % 2 == 1
        got, a, b, c, _ = run(kernel, M, N, K_, ta, tb, acc, M * 1000 + N * 10 + K_)
        check_bound(got, a, b, c, f"{kernel} M={M} N={N} K={K_} ta={ta} tb={tb} acc={acc}")


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("shape", [(256, 256, 256), (64, 3136, 576), (300, 600, 520)])
def test_sgemm_large_and_thread_independent(kernel: str, shape) -> None:
    M, N, K_ = shape
    got, a, b, c, (a_arg, b_arg) = run(kernel, M, N, K_, False, False, False, sum(shape))
    check_bound(got, a, b, c, f"{kernel} {shape}")
    old = int8rt.get_num_threads()
    try:
        int8rt.set_num_threads(1)
        one = K.sgemm(a_arg, b_arg, kernel=kernel)
        int8rt.set_num_threads(2)
        two = K.sgemm(a_arg, b_arg, kernel=kernel)
        serial = K.sgemm(a_arg, b_arg, kernel=kernel, parallel=False)
    finally:
        int8rt.set_num_threads(old)
    assert np.array_equal(one.view(np.uint32), got.view(np.uint32))
    assert np.array_equal(two.view(np.uint32), got.view(np.uint32))
    assert np.array_equal(serial.view(np.uint32), got.view(np.uint32))


@pytest.mark.skipif("sgemm_12x32_avx512" not in KERNELS, reason="no AVX-512 SGEMM on this CPU or build")
@pytest.mark.parametrize("M", [1, 7, 8, 11, 12, 13, 23, 24, 25, 97, 193, 385])
def test_avx512_tile_heights_give_the_same_bits(M: int) -> None:
    """sgemm_12x32 and sgemm_8x32 run the same k order with the same FMAs and
    kc per output (abi/sgemm_f32.h): equal bit for bit, across row tiles of
    both heights, the K slice (192) and partial column panels."""
    for (N, K_), t in itertools.product([(1, 1), (31, 191), (33, 192), (70, 193), (64, 577)], range(4)):
        ta, tb, acc = bool(t & 1), bool(t & 2), (M + N + t) % 2 == 1
        rng = np.random.default_rng(M * 7 + N + K_ + t)
        a = rng.uniform(-1, 1, (K_, M) if ta else (M, K_)).astype(F32)
        b = rng.uniform(-1, 1, (N, K_) if tb else (K_, N)).astype(F32)
        c = rng.uniform(-1, 1, (M, N)).astype(F32) if acc else None
        twelve = K.sgemm(a, b, ta, tb, c, kernel="sgemm_12x32_avx512")
        eight = K.sgemm(a, b, ta, tb, c, kernel="sgemm_8x32_avx512")
        assert np.array_equal(twelve.view(np.uint32), eight.view(np.uint32)), (M, N, K_, ta, tb, acc)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("tail", [1, 4, 15, 16])
def test_narrow_last_panel_gives_the_wide_panels_bits(kernel: str, tail: int) -> None:
    """A last column panel of <= 16 columns (a 14 x 14 plane's 196 pixels:
    6 x 32 + 4) runs the AVX-512 tile's one-vector instantiation; the same
    columns computed inside a wider panel (16 more columns of B, a tile of
    tail + 16 columns, both vectors) get the same FMAs in the same k order:
    equal bit for bit, every transpose, with and without C, M across the
    row tiles, K across the 192 / 256 slice."""
    for (M, K_), t in itertools.product([(1, 7), (11, 192), (13, 193), (112, 672)], range(4)):
        ta, tb, acc = bool(t & 1), bool(t & 2), t >= 2
        N = 64 + tail
        rng = np.random.default_rng(M * 31 + K_ + tail + t)
        a = rng.uniform(-1, 1, (K_, M) if ta else (M, K_)).astype(F32)
        b = rng.uniform(-1, 1, (N + 16, K_) if tb else (K_, N + 16)).astype(F32)
        c = rng.uniform(-1, 1, (M, N + 16)).astype(F32) if acc else None
        narrow = K.sgemm(a, np.ascontiguousarray(b[:N] if tb else b[:, :N]), ta, tb,
                         None if c is None else np.ascontiguousarray(c[:, :N]), kernel=kernel)
        wide = K.sgemm(a, b, ta, tb, c, kernel=kernel)[:, :N]
        assert np.array_equal(narrow.view(np.uint32), np.ascontiguousarray(wide).view(np.uint32)), \
            (kernel, M, N, K_, ta, tb, acc)


def test_choice_follows_the_cap() -> None:
    names: dict = {}
    for name, isa, _ in K.sgemm_candidates():
        names.setdefault(isa, name)  # the first candidate of each tier is the one chosen
    assert names["ref"] == "sgemm_6x8_portable"
    # sgemm_12x32 needs only AVX-512F: its tier is avx512, not avx512vnni.
    assert "avx512vnni" not in names
    if int8rt.kernels.isa_info()["avx512"]["compiled"]:
        assert names["avx512"] == "sgemm_12x32_avx512"
    assert K.choose_sgemm() == KERNELS[0]
    for cap in ("ref", "avx2", "avx512", "avx512vnni"):
        int8rt.set_max_isa(cap)
        try:
            chosen = K.choose_sgemm()
            expected = [n for n, isa, reason in K.sgemm_candidates() if not reason][0]
            assert chosen == expected
            if cap == "ref":
                assert chosen == "sgemm_6x8_portable"
        finally:
            int8rt.set_max_isa(None)


@pytest.mark.parametrize("cap", ["ref", "avx2", "avx512"])
def test_max_isa_environment_caps_sgemm(cap: str) -> None:
    code = ("from int8rt._testing import kernels as K; import numpy as np;"
            "a = np.ones((9, 300), np.float32); y = K.sgemm(a, a.T.copy());"
            "assert (y == 300).all(); print(K.choose_sgemm())")
    env = dict(os.environ, INT8RT_MAX_ISA=cap, INT8RT_LOG="dispatch")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    names: dict = {}
    for name, isa, _ in K.sgemm_candidates():
        names.setdefault(isa, name)
    if cap in names and int8rt.kernels.isa_info()[cap]["cpu"]:
        assert r.stdout.strip() == names[cap]
        assert f"sgemm_f32 -> {names[cap]} ({cap})" in r.stderr


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("K_", [1, 17, 32, 33])
def test_short_products_across_column_tasks(kernel: str, K_: int) -> None:
    """Products of at most 32 steps run each row tile across all of a task's
    column panels (sgemm_f32.cc, kRowOuterMaxK), longer ones panel by panel:
    either way every output is the same FMA chain, so C = A B equals
    (B^T A^T)^T bit for bit (operands swapped: the rows and columns trade
    tiles), and both meet the bound; N spans three column tasks of 512 and
    a ragged last panel, M a ragged last row tile."""
    rng = np.random.default_rng(K_)
    M, N = 97, 1100
    a = rng.uniform(-1, 1, (M, K_)).astype(F32)
    b = rng.uniform(-1, 1, (K_, N)).astype(F32)
    got = K.sgemm(a, b, False, False, None, kernel=kernel)
    check_bound(got, a, b, None, f"{kernel} K={K_}")
    swapped = K.sgemm(np.ascontiguousarray(b.T), np.ascontiguousarray(a.T), False, False, None, kernel=kernel)
    assert got.tobytes() == np.ascontiguousarray(swapped.T).tobytes(), (kernel, K_)
