"""The avx512 tier's Erf and Gelu (csrc/kernels/x86/avx512/unary_f32.cc)
form erf's 1 / b, b = |z| clamped to [1, 3.95], with VRCP14PS and two
Newton steps instead of VDIVPS: the same bits as the division, checked here
over every float32 in that range (about 16.5 million, and their negatives)
against the avx2 tier, which divides and otherwise computes the same
formula in the same order (FMA-contracted). Gelu's argument is z * sqrt 2.
Runs where the CPU has AVX-512 (the tier under test)."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op


def _every_float(lo: float, hi: float) -> np.ndarray:
    a, b = np.array([lo, hi], np.float32).view(np.uint32)
    return np.arange(a, b + 1, dtype=np.uint32).view(np.float32)


@pytest.mark.skipif(not int8rt.kernels.cpu_features().get("avx512f"), reason="CPU lacks AVX-512")
@pytest.mark.parametrize("op", ["Erf", "Gelu"])
def test_erf_reciprocal_without_division_keeps_every_bit(op: str) -> None:
    z = _every_float(1.0, 3.95)
    z = np.concatenate([z, -z[::5], np.array([0.5, 3.96, 4.0, np.inf, np.nan], np.float32)])
    x = z if op == "Erf" else (z * np.float32(1.4142135)).astype(np.float32)
    got = {}
    for isa in ("avx2", "avx512"):
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            (got[isa],) = run_single_op(op, [x], {}, [False])
        finally:
            int8rt.set_max_isa(None)
    diff = np.flatnonzero(got["avx2"].view(np.uint32) != got["avx512"].view(np.uint32))
    assert diff.size == 0, (op, diff.size, x[diff[:4]], got["avx2"][diff[:4]], got["avx512"][diff[:4]])
