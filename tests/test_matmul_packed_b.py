"""MatMul with a constant 2-D B (a Linear layer's weights) packs B into the
SGEMM's panels once when the layer is created (engine/ops/gemm_f32.cc,
kernels/sgemm_f32.h pack_b_once). The packed panels hold the same values in
the order the driver reads them, so the product is the same bits as with B
given at run time (read in place or packed per tile): compared with ==, on
every SGEMM tier, for shapes that cross the K slice (kc 192/256), the column
tile (nc 512), partial 32-, 16- and 8-column panels and a batched A. Gemm
packs a constant B (transB 0 or 1) the same way and takes a bias row as the
SGEMM's column bias."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
SHAPES = [((5, 7), (7, 3)), ((33, 300), (300, 70)), ((2, 9, 520), (520, 600)), ((64, 16), (16, 1))]


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("shapes", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_matmul_constant_b_same_bits_as_run_time_b(isa: str, shapes: tuple) -> None:
    rng = np.random.default_rng(21)
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    int8rt.set_max_isa(isa)  # the layer chooses its kernel (and packs B) when it is created
    try:
        (packed,) = run_single_op("MatMul", [a, b], {}, [False, True])
        (plain,) = run_single_op("MatMul", [a, b], {}, [False, False])
    finally:
        int8rt.set_max_isa(None)
    assert packed.tobytes() == plain.tobytes(), (isa, shapes)
    np.testing.assert_allclose(packed, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-4)


GEMM_SHAPES = [(5, 7, 3), (33, 300, 70), (18, 520, 600), (64, 16, 1)]  # M, K, N


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("mkn", GEMM_SHAPES, ids=[f"{m}x{k}x{n}" for m, k, n in GEMM_SHAPES])
def test_gemm_constant_b_and_bias_row_same_bits(isa: str, trans_b: int, mkn: tuple) -> None:
    """Gemm packs a constant B (transB 0 or 1) once, and a bias row C [N]
    runs as the SGEMM's column bias with Relu in the tile epilogue: the same
    bits as B given at run time and C as a full [M, N] matrix copied into Y
    and accumulated onto (the bias joins after the first K slice either
    way), followed by Relu."""
    m, k, n = mkn
    rng = np.random.default_rng(m + k + n + trans_b)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    c = rng.standard_normal(n).astype(np.float32)
    attrs = {"transB": trans_b}
    int8rt.set_max_isa(isa)
    try:
        (fused,) = run_single_op("Gemm", [a, b, c], {**attrs, "int8rt_activation": "Relu"}, [False, True, True])
        (plain,) = run_single_op("Gemm", [a, b, np.repeat(c[None], m, axis=0)], attrs, [False, False, False])
    finally:
        int8rt.set_max_isa(None)
    assert fused.tobytes() == np.maximum(plain, 0).tobytes(), (isa, mkn, trans_b)
    bt = b.T if trans_b else b
    np.testing.assert_allclose(plain, a.astype(np.float64) @ bt.astype(np.float64) + c, rtol=1e-4, atol=1e-4)
