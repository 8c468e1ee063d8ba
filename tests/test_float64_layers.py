"""float64 tensors through the float32-only layers (ops.FLOAT16_VIA_FLOAT32):
the importer casts their float64 inputs (and float64 weights) to float32,
rounding once, runs the float32 layer and widens the result exactly, as
TensorRT computes float64 models in float32, and logs a warning naming them.

Exact ops (Relu, Abs, Neg, Floor, MaxPool-like selections) are compared with
== against NumPy applying the op to float32(x) and widening; the others
against ONNX's reference evaluator computing in float64, within float32
precision: element-wise ops 1e-6 relative (input rounding 2^-24 relative
times the op's condition number, at most ~4 for these inputs, plus a float32
ulp or two of the op), Conv and GlobalAveragePool 1e-6 of the largest
output (27- and 25-term float32 sums)."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import int8rt

RNG = np.random.default_rng(64)
F64 = np.float64


def _model(op: str, shape, out_shape, attrs=None, weights=()):
    node = helper.make_node(op, ["x", *[n for n, _ in weights]], ["y"], **(attrs or {}))
    g = helper.make_graph([node], "f64", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, list(out_shape))],
                          [numpy_helper.from_array(a, n) for n, a in weights])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x: np.ndarray) -> np.ndarray:
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    y = engine.run({"x": x})["y"]
    assert y.dtype == F64
    return y


EXACT = {"Relu": lambda x: np.maximum(x, 0), "Abs": np.abs, "Neg": np.negative, "Floor": np.floor}
CLOSE = ["Exp", "Tanh", "Sigmoid", "Erf"]


@pytest.mark.parametrize("op", sorted(EXACT))
def test_exact_ops_equal_float32_then_widened(op: str) -> None:
    x = RNG.standard_normal((2, 3, 4, 5)) * 3
    want = EXACT[op](x.astype(np.float32)).astype(F64)
    np.testing.assert_array_equal(_run(_model(op, x.shape, x.shape), x), want)


@pytest.mark.parametrize("op", CLOSE)
def test_other_ops_within_float32_precision(op: str) -> None:
    x = RNG.standard_normal((2, 3, 4, 5))
    model = _model(op, x.shape, x.shape)
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(_run(model, x), want, rtol=1e-6, atol=1e-12)


def test_conv_and_pooling_within_float32_precision(caplog) -> None:
    x = RNG.standard_normal((2, 3, 5, 5))
    w = RNG.standard_normal((4, 3, 3, 3))
    conv = _model("Conv", x.shape, (2, 4, 5, 5), {"pads": [1, 1, 1, 1]}, [("w", w)])
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        got = _run(conv, x)
    assert any("float64 layer(s) computed in float32" in r.getMessage() for r in caplog.records)
    want = ReferenceEvaluator(conv).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())
    pool = _model("GlobalAveragePool", x.shape, (2, 3, 1, 1))
    want = ReferenceEvaluator(pool).run(None, {"x": x})[0]
    np.testing.assert_allclose(_run(pool, x), want, rtol=0, atol=1e-6 * np.abs(want).max())


def test_bfloat16_exp_rounds_once() -> None:
    """bfloat16 (a storage type) takes the same Casts: exact in, one rounding out."""
    from ml_dtypes import bfloat16
    x = RNG.standard_normal((3, 4)).astype(bfloat16)
    node = helper.make_node("Exp", ["x"], ["y"])
    g = helper.make_graph([node], "bf", [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [3, 4])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    got = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    want = np.exp(x.astype(np.float32)).astype(bfloat16)  # float32 exp, rounded once (NumPy's libm: 1 ulp at most)
    diff = np.abs(got.astype(np.float32) - want.astype(np.float32))
    assert np.all(diff <= np.abs(want.astype(np.float32)) * 2.0 ** -7)
