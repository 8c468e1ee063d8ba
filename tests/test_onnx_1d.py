"""One-dimensional Conv / ConvTranspose / MaxPool / AveragePool (audio, text
and OCR-sequence exports), imported by lifting to 2-D with H = 1: FP32 engine
vs ONNX Runtime, and an INT8 engine whose 1-D convolutions run on the int8
kernels."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

import int8rt
from int8rt.data_calibrator import make_calibrator
from onnx_models import fvi, init, model, one_node

RNG = np.random.default_rng(11)


def _one_node(op: str, attrs: dict[str, Any], c_in: int, length: int, weights: np.ndarray | None = None,
              bias: bool = False) -> onnx.ModelProto:
    return one_node(op, attrs, c_in, [length], RNG, weights, bias)


def _ort(m: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _check_fp32(m: onnx.ModelProto, c_in: int, length: int) -> None:
    m = onnx.shape_inference.infer_shapes(m)
    x = RNG.standard_normal((3, c_in, length)).astype(np.float32)
    want = _ort(m, x)
    got = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attrs,c_in,k_out,k,group", [
    ({"kernel_shape": [3], "pads": [1, 1]}, 4, 6, 3, 1),
    ({"kernel_shape": [5], "strides": [2], "pads": [2, 1], "dilations": [2]}, 4, 6, 5, 1),
    ({"kernel_shape": [3], "group": 4, "pads": [1, 1]}, 4, 4, 3, 4),      # depthwise
    ({"kernel_shape": [4], "auto_pad": "SAME_UPPER", "strides": [3]}, 3, 5, 4, 1),
    ({"kernel_shape": [1]}, 8, 2, 1, 1),
])
def test_conv1d_matches_onnxruntime(attrs: dict, c_in: int, k_out: int, k: int, group: int) -> None:
    w = RNG.standard_normal((k_out, c_in // group, k)).astype(np.float32)
    _check_fp32(_one_node("Conv", attrs, c_in, 23, w, bias=True), c_in, 23)


def test_conv_transpose1d_matches_onnxruntime() -> None:
    w = RNG.standard_normal((4, 3, 3)).astype(np.float32)
    attrs = {"kernel_shape": [3], "strides": [2], "pads": [1, 0], "output_padding": [1]}
    _check_fp32(_one_node("ConvTranspose", attrs, 4, 9, w, bias=True), 4, 9)


@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    ("AveragePool", {"kernel_shape": [4], "strides": [1], "pads": [1, 2], "count_include_pad": 1}),
    ("AveragePool", {"kernel_shape": [2], "strides": [2]}),
])
def test_pool1d_matches_onnxruntime(op: str, attrs: dict) -> None:
    _check_fp32(_one_node(op, attrs, 5, 17), 5, 17)


def test_3d_stays_float32_in_an_int8_engine() -> None:
    """3-D windows run on the FP32 layers only (tests/test_onnx_3d.py): an INT8 build keeps them float32."""
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3, 3])
    m = model([node], [fvi("x", ["N", 2, 8, 8, 8])], [fvi("y", ["N", 2, 6, 6, 6])],
              [init("w", RNG.standard_normal((2, 2, 3, 3, 3)).astype(np.float32))])
    calib = RNG.standard_normal((16, 2, 8, 8, 8)).astype(np.float32)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        precision="int8", calibrator=make_calibrator({"x": calib}, algorithm="minmax", batch_size=16)))
    assert [layer["op"] for layer in engine.layers()] == ["Conv"]
    x = calib[:2]
    want = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    np.testing.assert_array_equal(engine.run({"x": x})["y"], want)


def test_int8_engine_runs_1d_convolutions_on_int8_kernels() -> None:
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[5], pads=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2], strides=[2]),
             helper.make_node("Conv", ["p1", "w2"], ["y"], kernel_shape=[3], pads=[1, 1])]
    m = model(nodes, [fvi("x", ["N", 2, 64])], [fvi("y", ["N", 8, 32])],
              [init("w1", RNG.standard_normal((16, 2, 5)).astype(np.float32) * 0.5),
               init("w2", RNG.standard_normal((8, 16, 3)).astype(np.float32) * 0.3)])
    calib = RNG.standard_normal((32, 2, 64)).astype(np.float32)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        precision="int8", calibrator=make_calibrator({"x": calib}, algorithm="minmax", batch_size=16)))
    ops = {layer["op"]: layer["precision"] for layer in engine.layers()}
    assert ops["int8rt.QConv"] == "int8", engine.layers()
    x = RNG.standard_normal((16, 2, 64)).astype(np.float32)
    want = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    got = engine.run({"x": x})["y"]
    # Centred cosine: what depends on the input, so a constant output cannot pass.
    a, b = (got - got.mean(0)).ravel(), (want - want.mean(0)).ravel()
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.98
