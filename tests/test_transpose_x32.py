"""The 32-bit transpose family (kernels/transpose_x32.h) under the Transpose
layer, on every tier the CPU has: equal (==, bit for bit: a move) to
NumPy's transpose, for float32 (NaN payloads and -0.0 included) and int32.
Shapes sweep the 16 x 16 (AVX-512) and 8 x 8 (AVX2) register blocks'
edges (1..17, 31..33 along both transposed dims), NCHW <-> NHWC with a batch, and a 4-D permutation that
merges to a 2-D tile walk with outer dims.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt

from int8rt._testing import run_single_op

TIERS = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

CASES = [
    # (shape, perm)
    ((9, 17), [1, 0]),
    ((16, 16), [1, 0]),
    ((17, 33), [1, 0]),
    ((31, 8), [1, 0]),
    ((2, 96, 7, 9), [0, 2, 3, 1]),   # NCHW -> NHWC
    ((2, 7, 9, 96), [0, 3, 1, 2]),   # NHWC -> NCHW
    ((3, 5, 32, 33), [0, 1, 3, 2]),
    ((1, 40, 1, 18), [3, 1, 2, 0]),
]


def _bits(rng: np.random.Generator, shape: tuple, dtype: type) -> np.ndarray:
    raw = rng.integers(0, 2 ** 32, size=shape, dtype=np.uint64).astype(np.uint32)
    if dtype is np.float32:
        x = raw.view(np.float32).copy()
        x.flat[:3] = [np.float32(-0.0), np.float32(np.inf), np.float32(1.5)][: x.size]
        return x
    return raw.view(np.int32)


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_transpose_tiers_bit_exact(case: tuple, dtype: type) -> None:
    shape, perm = case
    x = _bits(np.random.default_rng(21), shape, dtype)
    want = np.ascontiguousarray(x.transpose(perm))
    for isa in TIERS:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            got = run_single_op("Transpose", [x], {"perm": perm}, [False])[0]
        finally:
            int8rt.set_max_isa(None)
        assert got.dtype == want.dtype and got.shape == want.shape, (isa, case)
        same = got.view(np.uint32) == want.view(np.uint32)
        assert same.all(), (isa, case, np.argwhere(~same)[:3])
