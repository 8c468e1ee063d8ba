"""The transpose_x32 family (kernels/transpose_x32.h) through the Transpose
layer, on every tier the CPU has: 2-D and batched swaps of the last two axes
for sizes around the AVX2 8 x 8 and AVX-512 16 x 16 blocks (1..3, 7..9,
15..17, 31..33), so whole blocks, partial blocks with fewer than 8 rows
(the AVX2 stack-copy stores) and partial blocks with 8 or more all run.
Moves only: == numpy's transpose, bit for bit (NaN payloads included)."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op

TIERS = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
SIZES = [1, 3, 7, 8, 9, 15, 16, 17, 33]


@pytest.mark.parametrize("isa", TIERS)
def test_transpose_tiles_bit_exact(isa: str) -> None:
    rng = np.random.default_rng(41)
    int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
    try:
        for a in SIZES:
            for b in SIZES:
                bits = rng.integers(0, 2 ** 32, (a, b), dtype=np.uint64).astype(np.uint32)
                x = bits.view(np.float32)
                (got,) = run_single_op("Transpose", [x], {"perm": [1, 0]}, [False])
                assert got.view(np.uint32).tobytes() == np.ascontiguousarray(bits.T).tobytes(), (isa, a, b)
                xb = rng.standard_normal((2, a, b)).astype(np.float32)
                (got,) = run_single_op("Transpose", [xb], {"perm": [0, 2, 1]}, [False])
                assert got.tobytes() == np.ascontiguousarray(xb.transpose(0, 2, 1)).tobytes(), (isa, a, b)
    finally:
        int8rt.set_max_isa(None)
