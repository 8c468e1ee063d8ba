"""MatMul with a constant 2-D B (a Linear layer's weights) packs B into the
SGEMM's panels once when the layer is created (engine/ops/gemm_f32.cc,
kernels/sgemm_f32.h pack_b_once). The packed panels hold the same values in
the order the driver reads them, so the product is the same bits as with B
given at run time (read in place or packed per tile): compared with ==, on
every SGEMM tier, for shapes that cross the K slice (kc 192/256), the column
tile (nc 512), partial 32-, 16- and 8-column panels and a batched A."""
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
