"""Derives the polynomial coefficients of csrc/kernels/ref/math_f32.h
(erf_f32, tanh_f32): least-squares fits in float64 (numpy) on 40,001 points, rounded
to float32, then the float32 evaluation measured against float64 over
[-12, 12] and tiny arguments. Usage: python tools/fit_elementary.py
prints the coefficients, which the headers hold exactly, and the worst
error in ulps; tests/test_fp32_ops.py checks the C++ evaluation)."""
from __future__ import annotations

import math

import numpy as np

ERF_SMALL = 1.0    # |x| < 1: erf(x) = x * P(x^2)
ERF_ONE = 3.95     # |x| >= 3.95: erf(x) = 1 in float32
TANH_SMALL = 0.625  # |x| < 0.625: tanh(x) = x * P(x^2)


def fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    return np.polynomial.polynomial.polyfit(x, y, degree).astype(np.float32)


def horner(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    p = np.full_like(t, c[-1])
    for k in range(len(c) - 2, -1, -1):
        p = (p * t + c[k]).astype(np.float32)
    return p


def erf_coefficients() -> tuple[np.ndarray, np.ndarray]:
    erf, erfc = np.vectorize(math.erf), np.vectorize(math.erfc)
    x = np.linspace(0, ERF_SMALL, 40001)
    ratio = np.where(x > 0, erf(x) / np.where(x > 0, x, 1), 2 / math.sqrt(math.pi))
    p = fit(x * x, ratio, 6)
    # 1 <= |x| < 3.95: erf(x) = 1 - exp(-x^2) * Q(1/x), Q = erfc(x) * exp(x^2).
    x = np.linspace(ERF_SMALL, ERF_ONE, 40001)
    q = fit(1 / x, erfc(x) * np.exp(x * x), 7)
    return p, q


def tanh_coefficients() -> np.ndarray:
    x = np.linspace(0, TANH_SMALL, 40001)
    return fit(x * x, np.where(x > 0, np.tanh(x) / np.where(x > 0, x, 1), 1.0), 5)


def erf_f32(x: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    a = np.abs(x.astype(np.float32))
    small = a * horner(p, a * a)
    b = np.clip(a, np.float32(ERF_SMALL), np.float32(ERF_ONE))
    big = np.float32(1) - np.exp(-(b * b)).astype(np.float32) * horner(q, np.float32(1) / b)
    r = np.where(a < ERF_SMALL, small, np.where(a < ERF_ONE, big, np.float32(1)))
    return np.copysign(r.astype(np.float32), x)


def tanh_f32(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    a = np.abs(x.astype(np.float32))
    small = a * horner(p, a * a)
    e = np.exp(np.float32(2) * np.minimum(a, np.float32(10))).astype(np.float32)
    big = np.float32(1) - np.float32(2) / (e + np.float32(1))
    return np.copysign(np.where(a < TANH_SMALL, small, big).astype(np.float32), x)


def worst_ulps(got: np.ndarray, want: np.ndarray) -> float:
    return float((np.abs(got - want) / np.spacing(np.abs(want).astype(np.float32))).max())


def main() -> None:
    x = np.concatenate([np.linspace(-12, 12, 2000001), np.geomspace(1e-30, 1, 10000)]).astype(np.float32)
    p, q = erf_coefficients()
    t = tanh_coefficients()
    for name, c in (("erf P", p), ("erf Q", q), ("tanh P", t)):
        print(name, ", ".join(f"{float(v)!r}f" for v in c))
    print("erf  worst ulps:", worst_ulps(erf_f32(x, p, q), np.vectorize(math.erf)(x.astype(np.float64))))
    print("tanh worst ulps:", worst_ulps(tanh_f32(x, t), np.tanh(x.astype(np.float64))))


if __name__ == "__main__":
    main()
