"""Expand whose last dim is a broadcast (strided_copy's stride-0 rows, a fill per row): ECA / SE gates
[N, C, 1, 1] expanded to [N, C, H, W] (timm's ``x * gate.expand_as(x)``), and its neighbours (a broadcast
middle dim, a broadcast last dim alone, a rank increase), for every element size the engine carries (bool,
int32, float32, int64), batch 1 and 3, 1 and 2 threads: the output equals numpy's broadcast_to exactly
(a copy, no arithmetic)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import int8rt

RNG = np.random.default_rng(24)
DTYPES = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64, np.int32: TensorProto.INT32,
          np.bool_: TensorProto.BOOL}


def _engine(dtype, x_rank: int):
    """out = Expand(x, Shape(like)), x of rank ``x_rank`` and like of rank 4, every dim symbolic."""
    elem = DTYPES[dtype]
    nodes = [helper.make_node("Shape", ["like"], ["shape"]), helper.make_node("Expand", ["x", "shape"], ["out"])]
    graph = helper.make_graph(
        nodes, "expand",
        [helper.make_tensor_value_info("x", elem, [f"x{i}" for i in range(x_rank)]),
         helper.make_tensor_value_info("like", TensorProto.FLOAT, ["n", "c", "h", "w"])],
        [helper.make_tensor_value_info("out", elem, ["o0", "o1", "o2", "o3"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))


def _values(dtype, shape):
    if dtype == np.bool_:
        return RNG.integers(0, 2, shape).astype(bool)
    if dtype == np.float32:
        return RNG.standard_normal(shape).astype(np.float32)
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


# (x shape, like shape): N is replaced by the batch
CASES_4D = [((0, c, 1, 1), (0, c, h, w)) for c in (1, 3, 8, 17) for h, w in ((1, 1), (1, 7), (5, 3), (16, 16), (33, 2))]
CASES_4D += [((0, 5, 4, 1), (0, 5, 4, 9)), ((0, 16, 3, 1), (0, 16, 3, 40)),   # the last dim alone broadcast
             ((0, 1, 6, 7), (0, 11, 6, 7)), ((0, 9, 1, 8), (0, 9, 5, 8)),    # a middle dim broadcast, rows copied
             ((1, 12, 1, 1), (0, 12, 7, 7))]                                  # the batch broadcast too


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda d: np.dtype(d).name)
def test_expand_equals_broadcast_to(dtype, threads):
    int8rt.set_num_threads(threads)
    try:
        ctx4 = _engine(dtype, 4).create_execution_context()
        ctx2 = _engine(dtype, 2).create_execution_context()
        for batch in (1, 3):
            for xs, ls in CASES_4D:
                xs = tuple(batch if (i == 0 and d == 0) else d for i, d in enumerate(xs))
                ls = (batch,) + ls[1:]
                x = _values(dtype, xs)
                got = ctx4.run({"x": x, "like": np.zeros(ls, np.float32)})["out"]
                want = np.broadcast_to(x, ls)
                assert got.dtype == want.dtype and got.shape == want.shape, (xs, ls)
                assert np.array_equal(got, want), f"{np.dtype(dtype).name} {xs} -> {ls}, threads {threads}"
            for c, w in ((1, 1), (6, 1), (6, 13), (17, 64)):   # rank increase: [C, 1] -> [N, 3, C, W]
                x = _values(dtype, (c, 1))
                got = ctx2.run({"x": x, "like": np.zeros((batch, 3, c, w), np.float32)})["out"]
                assert np.array_equal(got, np.broadcast_to(x, (batch, 3, c, w))), f"{(c, 1)} -> {(batch, 3, c, w)}"
    finally:
        int8rt.set_num_threads(0)
