"""Integer constants narrower than int64 meeting run-time tensors of their own
dtype, as TensorFlow exports (tf2onnx, jax2tf) write them: int32 shape
arithmetic on a dynamic batch (Shape -> Cast(int32) -> Slice -> Concat with
int32 constants -> Cast(int64) -> Reshape / Expand), a one-hot by Equal
against an int32 constant, and an int32 constant as the data of Expand.

The IR holds integer constants as int64; the importer casts such a constant
back to its ONNX dtype where the op ties it to a run-time input or to its
output (_importer._TYPED_INPUTS). Before that, Google's magika model (magika
wheel) failed at build with "Concat: input 1 [1] does not match input 0 [1]
... (or its dtype differs)". Outputs must equal ONNX Runtime's, dtype and
values, at two batch sizes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T, helper, numpy_helper as nh

import int8rt

ort = pytest.importorskip("onnxruntime")


def _model(nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "g", inputs, outputs, [nh.from_array(a, n) for n, a in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def one_hot_model(classes: int = 5, length: int = 6):
    """bytes [B, L] int32 -> one-hot [B, L, classes] float as jax2tf writes it: Reshape to
    [-1, L, 1], BroadcastTo([B, L, classes]) with the target built in int32 from Shape,
    Equal against an int32 iota constant, Cast to float; plus the target shape itself."""
    inits = {"r": np.array([-1, length, 1], np.int64), "s0": np.array([0], np.int64),
             "s1": np.array([1], np.int64), "L": np.array([length], np.int32), "C": np.array([classes], np.int32),
             "iota": np.arange(classes, dtype=np.int32).reshape(1, 1, classes)}
    nodes = [
        helper.make_node("Reshape", ["bytes", "r"], ["b3"]),
        helper.make_node("Shape", ["bytes"], ["sh"]),
        helper.make_node("Cast", ["sh"], ["sh32"], to=T.INT32),
        helper.make_node("Slice", ["sh32", "s0", "s1", "s0"], ["batch"]),
        helper.make_node("Concat", ["batch", "L", "C"], ["target32"], axis=0),
        helper.make_node("Cast", ["target32"], ["target"], to=T.INT64),
        helper.make_node("Expand", ["b3", "target"], ["wide"]),
        helper.make_node("Equal", ["wide", "iota"], ["hot"]),
        helper.make_node("Cast", ["hot"], ["onehot"], to=T.FLOAT),
    ]
    return _model(nodes, [helper.make_tensor_value_info("bytes", T.INT32, ["B", length])],
                  [helper.make_tensor_value_info("onehot", T.FLOAT, ["B", length, classes]),
                   helper.make_tensor_value_info("target32", T.INT32, [3])], inits)


def expand_constant_model():
    """An int32 constant expanded to a run-time shape, then added to an int32 input: int32 out."""
    inits = {"base": np.array([[1], [-2], [7]], np.int32)}
    nodes = [helper.make_node("Shape", ["x"], ["sh"]),
             helper.make_node("Expand", ["base", "sh"], ["wide"]),
             helper.make_node("Add", ["wide", "x"], ["y"]),
             helper.make_node("Mul", ["y", "base"], ["z"])]
    return _model(nodes, [helper.make_tensor_value_info("x", T.INT32, [3, "W"])],
                  [helper.make_tensor_value_info("z", T.INT32, [3, "W"])], inits)


def _check(model, feeds):
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    out = engine.create_execution_context().run(feeds)
    for vi, r in zip(model.graph.output, ref):
        got = np.asarray(out[vi.name])
        assert got.dtype == r.dtype, vi.name
        np.testing.assert_array_equal(got, r)


@pytest.mark.parametrize("batch", [1, 3])
def test_int32_shape_arithmetic_and_one_hot(batch):
    x = np.random.default_rng(batch).integers(0, 6, (batch, 6)).astype(np.int32)  # 5 is outside the iota
    _check(one_hot_model(), {"bytes": x})


@pytest.mark.parametrize("width", [1, 4])
def test_int32_constant_as_data(width):
    x = np.arange(3 * width, dtype=np.int32).reshape(3, width) - 5
    _check(expand_constant_model(), {"x": x})
