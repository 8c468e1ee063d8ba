"""Float32 Pow with one exponent value of 2, 3 or 0.5 (csrc/engine/ops/
pow_small_exponent.h: multiplications or a square root instead of pow per
element) against NumPy in float64.

Exact where the arithmetic is: x^2 and sqrt(x) are correctly rounded, so
they equal the float64 result rounded to float32 (x*x is exact in float64;
float64 sqrt rounded to float32 is correctly rounded, 53 >= 2*24 + 2). x^3 is
computed as float32((x*x)*x) in float64, which NumPy repeats bit for bit; its
bound against the float64 pow is 1 ulp of float32 (one float64 rounding, then
one float32 rounding). Special values follow pow's rules (pow(-0, 0.5) = +0,
pow(-inf, 0.5) = +inf, NaN stays NaN, x < 0 with 0.5 is NaN), as the
general path's std::pow and ONNX Runtime give them (NumPy's power(x, 0.5)
is a square root: -0 and NaN there).
"""
from __future__ import annotations

import numpy as np
import pytest

from int8rt._testing import run_single_op


def _bases() -> np.ndarray:
    """Normal values over the float32 range (cubes overflow, squares of the small
    ones underflow to subnormals or zero), subnormals, signed zeros, infinities, NaN."""
    rng = np.random.default_rng(7)
    mags = np.exp(rng.uniform(np.log(1e-30), np.log(3e30), 2000))
    x = (mags * rng.choice([-1.0, 1.0], mags.size)).astype(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-45, -1e-45, 3.4e38, -3.4e38,
                        2.0 ** -75, 2.0 ** 43, 0.5, -0.5], np.float32)
    return np.concatenate([x, special, rng.standard_normal(1000).astype(np.float32)]).reshape(3, -1)


def _exact(x: np.ndarray, e: float) -> np.ndarray:
    """The float64 reference of each form, rounded to float32 once. For 0.5:
    C's pow (IEEE 754) special cases, which NumPy's power(x, 0.5) (a square
    root) does not keep: pow(-0, 0.5) = +0, pow(-inf, 0.5) = +inf."""
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if e == 2.0:
            return (x64 * x64).astype(np.float32)
        if e == 3.0:
            return ((x64 * x64) * x64).astype(np.float32)
        r = np.sqrt(x64).astype(np.float32)
        return np.where(x == 0, np.float32(0.0), np.where(x == -np.inf, np.float32(np.inf), r))


def _same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    bad = got.view(np.uint32) != want.view(np.uint32)
    bad &= ~(np.isnan(got) & np.isnan(want))  # any NaN payload
    i = np.flatnonzero(bad.ravel())
    assert i.size == 0, (f"{what}: {i.size} elements differ, first at {i[0]}: "
                         f"{got.ravel()[i[0]]!r} vs {want.ravel()[i[0]]!r}")


@pytest.mark.parametrize("e", [2.0, 3.0, 0.5])
@pytest.mark.parametrize("exponent", ["f32 scalar", "f32 [1,1,1]", "int32 run-time", "int64 scalar", "run-time"])
def test_small_exponent_matches_float64(e: float, exponent: str) -> None:
    if exponent.startswith("int") and e == 0.5:
        pytest.skip("0.5 is not an integer")
    x = _bases()
    dtype = {"int32 run-time": np.int32, "int64 scalar": np.int64}.get(exponent, np.float32)
    y = np.array(e, dtype).reshape((1, 1, 1) if exponent == "f32 [1,1,1]" else ())
    (got,) = run_single_op("Pow", [x, y], {}, [False, not exponent.endswith("run-time")])
    want = _exact(x, e)
    assert got.shape == np.broadcast_shapes(x.shape, y.shape) and got.dtype == np.float32
    _same_bits(got.reshape(x.shape), want, f"Pow(x, {e}) exponent {exponent}")


def test_cube_within_one_ulp_of_float64_pow() -> None:
    x = _bases()
    (got,) = run_single_op("Pow", [x, np.array(3.0, np.float32)], {}, [False, True])
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), 3.0)
    finite = np.isfinite(ref) & (np.abs(ref) <= np.finfo(np.float32).max)
    ulp = np.spacing(np.abs(ref[finite]).astype(np.float32)).astype(np.float64)
    err = np.abs(got[finite].astype(np.float64) - ref[finite])
    assert np.all(err <= ulp), f"max error {np.max(err / ulp):.3f} ulp"
    assert np.array_equal(np.isinf(got), np.isinf(ref) | (np.abs(ref) > np.finfo(np.float32).max))


def test_sqrt_special_values() -> None:
    x = np.array([-0.0, 0.0, -np.inf, np.inf, -1.0, np.nan, 4.0, 2.0], np.float32)
    (got,) = run_single_op("Pow", [x, np.array(0.5, np.float32)], {}, [False, True])
    assert not np.signbit(got[0]) and got[0] == 0.0  # pow(-0, 0.5) = +0 (sqrt would give -0)
    assert got[2] == np.inf  # pow(-inf, 0.5) = +inf (sqrt would give NaN)
    assert got[3] == np.inf and np.isnan(got[4]) and np.isnan(got[5]) and got[6] == 2.0
    assert got[7] == np.float32(np.sqrt(2.0))


@pytest.mark.parametrize("e", [1.0, 4.0, -2.0, 2.5])
def test_other_exponents_keep_pow(e: float) -> None:
    """Exponents without a short form still run pow (within 1 ulp of float64 pow)."""
    x = np.abs(_bases()[:, :500]) + np.float32(0.5)  # positive: real results for 2.5
    x = np.where(np.isfinite(x), x, np.float32(1.5))
    (got,) = run_single_op("Pow", [x, np.array(e, np.float32)], {}, [False, True])
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), e)
    finite = np.abs(ref) <= np.finfo(np.float32).max
    ulp = np.spacing(np.abs(ref[finite]).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got[finite].astype(np.float64) - ref[finite]) <= ulp)


def test_broadcast_exponent_vector_keeps_general_path() -> None:
    """Two exponent values (2 and 3 per column): the broadcast loop, same values."""
    x = np.linspace(-3, 3, 24, dtype=np.float32).reshape(12, 2)
    (got,) = run_single_op("Pow", [x, np.array([2.0, 3.0], np.float32)], {}, [False, True])
    x64 = x.astype(np.float64)
    ref = np.stack([x64[:, 0] ** 2, x64[:, 1] ** 3], axis=1)
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got - ref) <= ulp)
