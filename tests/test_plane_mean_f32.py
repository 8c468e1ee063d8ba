"""The FP32 plane-mean family (kernels/plane_mean_f32.h), GlobalAveragePool's
means, on every tier the CPU has against a NumPy evaluation of the family's
one summation order (kernels/ref/plane_mean_f32_loop.h): element i of a
plane into partial sum i % 16 in ascending i, the 16 partials combined
pairwise (p[j] + p[j + 8], then + 4, + 2, + 1), then one float32 division by
the plane's size. Every step is one IEEE float32 operation, so every tier
and NumPy give the same bits: compared with ==. Planes of 1 to 12544
elements (under, at and around the 16-lane edge, 7x7 and 14x14, 112x112),
1-D to 3-D spatial, batch 1 and 2, and non-finite and signed-zero values."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

SHAPES = [(1, 3, 7, 7), (2, 5, 1, 1), (1, 4, 4, 4), (1, 3, 17, 1), (2, 16, 14, 14), (1, 2, 112, 112),
          (1, 2, 3, 4, 5), (2, 3, 33), (1, 9, 15), (1, 4, 31, 1)]


def numpy_mean(x: np.ndarray) -> np.ndarray:
    """The family's order, one float32 operation at a time."""
    n = int(np.prod(x.shape[2:]))
    planes = x.reshape(-1, n)
    out = np.empty(planes.shape[0], np.float32)
    for k, s in enumerate(planes):
        p = np.zeros(16, np.float32)
        for i in range(0, n, 16):
            part = s[i:i + 16]
            p[:part.size] = p[:part.size] + part
        for w in (8, 4, 2, 1):
            p[:w] = p[:w] + p[w:2 * w]
        out[k] = p[0] / np.float32(n)
    return out.reshape(x.shape[:2] + (1,) * (x.ndim - 2))


def run_tiers(x: np.ndarray) -> dict:
    got = {}
    for isa in TIERS:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            (got[isa],) = run_single_op("GlobalAveragePool", [x], {}, [False])
        finally:
            int8rt.set_max_isa(None)
    return got


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_plane_mean_tiers_and_numpy_agree_bit_for_bit(shape: tuple) -> None:
    x = (np.random.default_rng(5).standard_normal(shape) * 3 + 1).astype(np.float32)
    want = numpy_mean(x)
    for isa, got in run_tiers(x).items():
        assert got.shape == want.shape, (isa, got.shape, want.shape)
        bad = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))
        assert bad.size == 0, (isa, shape, bad[:4], got.ravel()[bad[:4]], want.ravel()[bad[:4]])


def test_plane_mean_special_values() -> None:
    """NaN, +-inf and signed zeros: NaN and inf propagate, inf - inf is NaN, an all -0 plane's mean is +0
    (the partials start at +0), on every tier as in NumPy."""
    x = np.zeros((1, 5, 5, 5), np.float32)
    x[0, 0, 2, 3] = np.nan
    x[0, 1, 0, 0] = np.inf
    x[0, 2, 1, 1], x[0, 2, 4, 4] = np.inf, -np.inf
    x[0, 3] = -0.0
    x[0, 4] = np.linspace(-1e30, 1e30, 25, dtype=np.float32).reshape(5, 5)
    with np.errstate(invalid="ignore"):
        want = numpy_mean(x)
    for isa, got in run_tiers(x).items():
        assert got.tobytes() == want.tobytes(), (isa, got.ravel(), want.ravel())
    assert np.isnan(want[0, 0, 0, 0]) and want[0, 1, 0, 0] == np.inf and np.isnan(want[0, 2, 0, 0])
    assert not np.signbit(want[0, 3, 0, 0])
