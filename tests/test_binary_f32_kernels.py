"""The FP32 element-wise binary family (kernels/binary_f32.h): float32 Add,
Sub, Mul and Div with numpy broadcasting, on every tier the CPU has, against
the reference tier and numpy. One IEEE operation per element, so every tier
and numpy give the same bits: compared with ==. Shapes cover both operands
contiguous, a row-broadcast bias ([.., N] + [N]), a per-channel scale
([N, C, H, W] * [C, 1, 1]), a squeeze-and-excitation scale ([N, C, H, W] *
[N, C, 1, 1], either side, and [N, L] * [N, 1]: one outer dim of whole rows,
run_f32's path without per-row divisions), a scalar, a broadcast on the left operand,
rows longer than the 32768-element chunk, and in-place-sized outputs."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

SHAPES = [
    ((3, 5, 37), (3, 5, 37)),
    ((2, 7, 33), (33,)),
    ((2, 6, 5, 9), (6, 1, 1)),
    ((2, 6, 5, 9), (2, 6, 1, 1)),
    ((3, 17, 7, 7), (3, 17, 1, 1)),
    ((1, 6, 1, 1), (1, 6, 5, 9)),
    ((1, 5, 1, 17), (1, 5, 1, 1)),
    ((2, 40000), (2, 1)),
    ((4, 19), ()),
    ((), (4, 19)),
    ((1, 17), (5, 1)),
    ((40000,), (40000,)),
    ((2, 40000), (1, 40000)),
]

NUMPY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}


@pytest.mark.parametrize("op", sorted(NUMPY))
@pytest.mark.parametrize("shapes", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_binary_f32_tiers_and_numpy_agree_bit_for_bit(op: str, shapes: tuple) -> None:
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    if op == "Div":
        b[np.abs(b) < 1e-3] = 0.5
    want = NUMPY[op](a, b)
    for isa in TIERS:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            (got,) = run_single_op(op, [a, b], {}, [False, False])
        finally:
            int8rt.set_max_isa(None)
        assert got.shape == want.shape, (isa, got.shape, want.shape)
        assert got.tobytes() == want.astype(np.float32).tobytes(), (op, isa, shapes)


def test_binary_f32_special_values() -> None:
    """inf, NaN, signed zeros and division by zero follow IEEE on every tier."""
    a = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0, -1.0, 3.0], np.float32)
    b = np.array([np.inf, 1.0, 2.0, -0.0, 0.0, 0.0, -0.0, np.nan], np.float32)
    for op, f in NUMPY.items():
        with np.errstate(all="ignore"):
            want = f(a, b)
        for isa in TIERS:
            int8rt.set_max_isa(isa)
            try:
                (got,) = run_single_op(op, [a, b], {}, [False, False])
            finally:
                int8rt.set_max_isa(None)
            np.testing.assert_array_equal(got, want, err_msg=f"{op} {isa}")
            num = ~np.isnan(want)  # a NaN's sign is the hardware's choice
            assert np.array_equal(np.signbit(got[num]), np.signbit(want[num])), (op, isa)
