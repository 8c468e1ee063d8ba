"""Zero-sized tensors at run time (issue 11 §2; ONNX Runtime runs them): an
input dimension declared symbolic may be 0 on a run. A layer whose outputs
are all empty does not run; a layer that computes a non-empty output from an
empty float32 activation does so only where it says it can (reductions over
a zero-sized axis, MatMul / Gemm with K = 0, Concat, Pad, CastLike's `like`,
Shape); any other is refused naming the node and input, never a crash.
Checked against ONNX Runtime on the same models."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402

F32, I64 = np.float32, np.int64
_ELEM = {np.dtype(F32): TensorProto.FLOAT, np.dtype(I64): TensorProto.INT64, np.dtype(bool): TensorProto.BOOL}


def _model(op: str, inputs: Sequence[np.ndarray], attrs: dict[str, Any], out_rank: int,
           opset: int) -> onnx.ModelProto:
    """One node whose inputs are graph inputs with symbolic dimensions (so 0 is a valid run-time size)."""
    names = [f"x{k}" for k in range(len(inputs))]
    vis = [helper.make_tensor_value_info(n, _ELEM[x.dtype], [f"{n}_{d}" for d in range(x.ndim)])
           for n, x in zip(names, inputs)]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"y_{d}" for d in range(out_rank)])
    graph = helper.make_graph([helper.make_node(op, names, ["y"], name="node", **attrs)], "g", vis, [out])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _both(op: str, inputs: Sequence[np.ndarray], attrs: dict[str, Any], out_rank: int,
          opset: int = 18) -> tuple[np.ndarray, np.ndarray]:
    m = _model(op, inputs, attrs, out_rank, opset)
    feeds = {f"x{k}": x for k, x in enumerate(inputs)}
    (ref,) = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    return ctx.run(feeds)["y"], ref


@pytest.mark.parametrize("op,inputs,attrs,out_rank", [
    ("ReduceSum", [np.ones((2, 0, 4), F32), np.array([1], I64)], {"keepdims": 1}, 3),
    ("ReduceMax", [np.ones((2, 0, 4), F32), np.array([1], I64)], {"keepdims": 0}, 2),
    ("ReduceMin", [np.ones((2, 0, 4), F32), np.array([0, 1], I64)], {"keepdims": 1}, 3),
    ("ReduceL2", [np.ones((2, 0, 4), F32), np.array([1], I64)], {"keepdims": 1}, 3),
    ("ReduceSum", [np.arange(12, dtype=F32).reshape(3, 4), np.zeros((0,), I64)], {"keepdims": 1}, 2),
    ("MatMul", [np.ones((2, 0), F32), np.ones((0, 3), F32)], {}, 2),
    ("Gemm", [np.ones((2, 0), F32), np.ones((0, 3), F32), np.arange(3, dtype=F32)], {"beta": 0.5}, 2),
    ("Concat", [np.ones((2, 0), F32), np.arange(6, dtype=F32).reshape(2, 3)], {"axis": 1}, 2),
    ("Pad", [np.ones((0, 3), F32), np.array([1, 0, 1, 2], I64)], {}, 2),
    ("Add", [np.ones((0, 4), F32), np.ones((1, 4), F32)], {}, 2),
    ("Transpose", [np.ones((3, 0, 2), F32)], {"perm": [2, 0, 1]}, 3),
    ("Softmax", [np.ones((2, 0), F32)], {}, 2),
    # a batch of 0 through an upsampling Resize (PP-OCR det's FPN, issue 11's "dynamic dim of 0")
    ("Resize", [np.ones((0, 3, 2, 2), F32), np.zeros((0,), F32), np.array([1, 1, 2, 2], F32)], {"mode": "nearest"}, 4),
    ("Resize", [np.ones((2, 0, 2, 2), F32), np.zeros((0,), F32), np.array([1, 1, 1.5, 2], F32)],
     {"mode": "linear"}, 4),
])
def test_empty_operands_match_onnx_runtime(op: str, inputs: list, attrs: dict, out_rank: int) -> None:
    ours, ref = _both(op, inputs, attrs, out_rank)
    assert ours.shape == ref.shape, f"{op}: {ours.shape} vs ORT {ref.shape}"
    np.testing.assert_array_equal(ours, ref, err_msg=op)


def test_a_layer_that_cannot_take_an_empty_input_is_named() -> None:
    m = _model("GlobalAveragePool", [np.ones((1, 2, 0, 4), F32)], {}, 4, 17)
    ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    with pytest.raises(int8rt.InvalidArgumentError, match=r"node 'node' \(GlobalAveragePool\): input 0 \('x0'\) "
                                                          r"is empty \(\[1, 2, 0, 4\]\)"):
        ctx.run({"x0": np.ones((1, 2, 0, 4), F32)})
    (y,) = ctx.run({"x0": np.ones((1, 2, 3, 4), F32)}).values()  # the context still runs
    assert np.array_equal(y, np.ones((1, 2, 1, 1), F32))


def test_an_empty_dim_resized_to_a_non_empty_one_is_named() -> None:
    x = np.ones((0, 3, 2, 2), F32)
    m = _model("Resize", [x, np.zeros((0,), F32), np.zeros((0,), F32), np.array([1, 3, 4, 4], I64)], {}, 4, 18)
    ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    feeds = {"x0": x, "x1": np.zeros((0,), F32), "x2": np.zeros((0,), F32), "x3": np.array([1, 3, 4, 4], I64)}
    with pytest.raises(int8rt.InvalidArgumentError, match=r"node 'node'.*input dim 0 is empty and cannot be resized "
                                                          r"to 1"):
        ctx.run(feeds)
