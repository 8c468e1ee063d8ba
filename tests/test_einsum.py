"""Einsum (csrc/engine/ops/einsum.cc) against numpy's einsum: explicit and
implicit outputs, contractions, diagonals, ellipsis broadcasting, three
operands, float32 / float64 / float16, and the equations transformer exports
use (attention scores and context). float64 within 1e-12 relative (the
summation order differs from numpy's), float32 within 1e-5, float16 within
one half ulp of the float32-accumulated result; bad equations are clear
errors."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt

RNG = np.random.default_rng(7)


def einsum_engine(equation: str, operands: list[np.ndarray], rank: int) -> np.ndarray:
    names = [f"x{i}" for i in range(len(operands))]
    elem = helper.np_dtype_to_tensor_dtype(operands[0].dtype)
    node = helper.make_node("Einsum", names, ["y"], equation=equation)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, elem, list(a.shape))
                                            for n, a in zip(names, operands)],
                              [helper.make_tensor_value_info("y", elem, [f"d{i}" for i in range(rank)])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    return engine.run(dict(zip(names, operands)))["y"]


CASES = [
    ("ij->ji", [(3, 4)]),
    ("ij->i", [(3, 4)]),
    ("ij", [(3, 4)]),                      # implicit: the transpose-free identity
    ("ji", [(3, 4)]),                      # implicit output is alphabetical: a transpose
    ("ii->i", [(4, 4)]),                   # diagonal
    ("ii", [(4, 4)]),                      # trace
    ("...ii->...i", [(2, 3, 4, 4)]),
    ("i,i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 5), (2, 5, 4)]),
    ("bhid,bhjd->bhij", [(2, 3, 4, 8), (2, 3, 5, 8)]),   # attention scores
    ("bhij,bhjd->bhid", [(2, 3, 4, 5), (2, 3, 5, 8)]),   # attention context
    ("...ij,...jk", [(2, 1, 3, 4), (1, 5, 4, 2)]),       # ellipsis broadcast, implicit output
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("Ab,bC->AC", [(2, 3), (3, 4)]),                     # upper-case letters
    ("->", [()]),
    ("ij,jk->ik", [(2, 0), (0, 3)]),                     # empty contraction: zeros
    ("bij,bjk->bik", [(0, 3, 4), (0, 4, 2)]),            # empty output axis
]


@pytest.mark.parametrize("equation,shapes", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_einsum_matches_numpy(equation: str, shapes: list[tuple[int, ...]], dtype: type) -> None:
    operands = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    expected = np.einsum(equation, *operands)
    got = einsum_engine(equation, operands, expected.ndim)
    assert got.dtype == np.dtype(dtype) and got.shape == expected.shape, (got.shape, expected.shape)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, err_msg=equation)


def test_einsum_float16_accumulates_in_float32_and_rounds_once() -> None:
    a = RNG.standard_normal((3, 16)).astype(np.float16)
    b = RNG.standard_normal((16, 2)).astype(np.float16)
    got = einsum_engine("ij,jk->ik", [a, b], 2)
    expected = np.einsum("ij,jk->ik", a.astype(np.float32), b.astype(np.float32)).astype(np.float16)
    assert got.dtype == np.float16
    # the float32 sums may differ in order from numpy's: at most one half ulp apart after rounding
    np.testing.assert_array_less(np.abs(got.astype(np.float32) - expected.astype(np.float32)),
                                 np.spacing(np.abs(expected)).astype(np.float32) * 1.01 + 1e-7)


@pytest.mark.parametrize("equation,shapes,error", [
    ("ij,jk->ik", [(2, 3), (4, 5)], r"axis 'j' has sizes 3 and 4"),
    ("ij->ik", [(2, 3)], r"output letter 'k' is in no input term"),
    ("ijk->i", [(2, 3)], r"operand 0 has rank 2"),
    ("i$->i", [(2, 3)], r"has the character '\$'"),
])
def test_bad_equations_are_clear_errors(equation: str, shapes: list[tuple[int, ...]], error: str) -> None:
    operands = [np.zeros(s, np.float32) for s in shapes]
    with pytest.raises((int8rt.InvalidArgumentError, int8rt.FormatError), match=error):
        einsum_engine(equation, operands, 2)
