"""float16 tensors through the float32-only layers (ops.FLOAT16_VIA_FLOAT32):
the importer casts their float16 inputs to float32 (exact) and rounds their
outputs once to float16, engine/dtypes.h's float16 rule.

Exact ops (Relu, Abs, Neg, Floor, MaxPool-like selections) are compared with
== against NumPy computing in float32 and rounding once; transcendental ones
within one float16 ulp (the float32 kernels and NumPy's libm may differ in
the last float32 bit, which can move a halfway rounding); a float16 Conv ->
Relu -> GlobalAveragePool network against ONNX Runtime's float16 kernels
within 2e-3 relative (ONNX Runtime accumulates differently)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

RNG = np.random.default_rng(41)
F16 = np.float16


def _run(model, feeds: dict) -> np.ndarray:
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    return engine.run(feeds)["y"]


def _unary(op: str, shape, attrs=None):
    node = helper.make_node(op, ["x"], ["y"], **(attrs or {}))
    g = helper.make_graph([node], "u", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT16, list(shape))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


EXACT = {"Relu": lambda x: np.maximum(x, 0), "Abs": np.abs, "Neg": np.negative, "Floor": np.floor}
CLOSE = {"Exp": np.exp, "Tanh": np.tanh, "Sigmoid": lambda x: 1 / (1 + np.exp(-x)), "Sqrt": np.sqrt}


@pytest.mark.parametrize("op", sorted(EXACT) + sorted(CLOSE))
def test_float16_unary_is_float32_rounded_once(op: str) -> None:
    x = (RNG.standard_normal((3, 37)) * 3).astype(F16)
    if op == "Sqrt":
        x = np.abs(x)
    got = _run(_unary(op, x.shape), {"x": x})
    assert got.dtype == F16
    want = (EXACT.get(op) or CLOSE[op])(x.astype(np.float32)).astype(F16)
    if op in EXACT:
        np.testing.assert_array_equal(got, want)
    else:
        ulp = np.spacing(np.abs(want)).astype(np.float32)
        assert np.all(np.abs(got.astype(np.float32) - want.astype(np.float32)) <= ulp), op


def test_float16_conv_network_matches_onnx_runtime() -> None:
    w = RNG.standard_normal((4, 3, 3, 3)).astype(F16)
    b = RNG.standard_normal(4).astype(F16)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Softmax", ["r"], ["s"], axis=1),
             helper.make_node("ReduceMean", ["s"], ["y"], axes=[2, 3], keepdims=1)]
    g = helper.make_graph(nodes, "f16", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 3, 9, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2, 4, 1, 1])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = RNG.standard_normal((2, 3, 9, 7)).astype(F16)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = _run(m, {"x": x})
    assert got.dtype == F16 and got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=2e-3, atol=1e-3)
