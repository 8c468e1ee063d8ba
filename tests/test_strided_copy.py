"""The data-movement layers' one strided walk (csrc/engine/ops/strided_copy.h)
against numpy: random permutations of random shapes for every element size,
negative-step slices, and ranks past the walk's 16 fixed digits. A wrong carry
between the outer dims of the row walk fails these."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from int8rt.onnx import backend

DTYPES = {np.int8: TensorProto.INT8, np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64,
          np.float16: TensorProto.FLOAT16}


def _transpose_model(shape: list[int], perm: list[int], dt: int) -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], "g",
                          [helper.make_tensor_value_info("x", dt, shape)],
                          [helper.make_tensor_value_info("y", dt, [shape[p] for p in perm])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _data(rng: np.random.Generator, shape: list[int], dtype: type) -> np.ndarray:
    return rng.integers(-100, 100, shape).astype(dtype)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_random_transposes_match_numpy(dtype: type) -> None:
    rng = np.random.default_rng(7)
    for _ in range(12):
        rank = int(rng.integers(2, 7))
        shape = [int(v) for v in rng.integers(1, 6, rank)]
        shape[-1] = int(rng.choice([1, 3, 8, 64]))
        perm = [int(v) for v in rng.permutation(rank)]
        x = _data(rng, shape, dtype)
        (y,) = backend.prepare(_transpose_model(shape, perm, DTYPES[dtype])).run([x])
        assert np.array_equal(y, x.transpose(perm)), (shape, perm)


def test_head_split_rows_cross_every_outer_digit() -> None:
    # [B, S, H, D] -> [B, H, S, D], the attention head split: 64-byte rows whose
    # source offset carries through two outer dims.
    x = _data(np.random.default_rng(1), [3, 37, 5, 64], np.int8)
    (y,) = backend.prepare(_transpose_model([3, 37, 5, 64], [0, 2, 1, 3], TensorProto.INT8)).run([x])
    assert np.array_equal(y, x.transpose(0, 2, 1, 3))


def test_rank_past_the_fixed_digits() -> None:
    shape = [2] * 18
    perm = list(range(18))[::-1]
    perm[-1], perm[-2] = perm[-2], perm[-1]
    x = _data(np.random.default_rng(2), shape, np.float32)
    (y,) = backend.prepare(_transpose_model(shape, perm, TensorProto.FLOAT)).run([x])
    assert np.array_equal(y, x.transpose(perm))


def test_negative_step_slices_match_numpy() -> None:
    x = _data(np.random.default_rng(3), [4, 9, 6, 5], np.int8)
    inits = [helper.make_tensor(n, TensorProto.INT64, [3], v)
             for n, v in (("starts", [-1, 7, 1]), ("ends", [-100, 0, 6]), ("axes", [0, 1, 2]), ("steps", [-1, -2, 2]))]
    g = helper.make_graph([helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.INT8, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.INT8, [4, 4, 3, 5])], inits)
    (y,) = backend.prepare(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])).run([x])
    assert np.array_equal(y, x[::-1, 7:0:-2, 1:6:2])
