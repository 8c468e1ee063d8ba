"""A segmentation-shaped network end to end (issue 11's segmentation net,
issue 14's int8 all the way through), on a graph written with onnx.helper
in the form torch.onnx gives torchvision's LR-ASPP: a strided conv backbone,
a global-pool sigmoid gate on the deep features, a bilinear Resize of the
gated features to the shallow features' run-time size, two 1x1 heads added,
and a bilinear Resize of the sum to the input's run-time size (sizes from
Shape -> Gather -> Unsqueeze -> Concat -> Cast chains, batch, height and width
symbolic).

Checked: FP32 against ONNX Runtime (stated bound) at two input sizes in one
ExecutionContext; INT8 calibrated on batches of two sizes runs both sizes in
one context with no Quantize / Dequantize but the input's and the gate's;
the int8 resizes give the bytes of the same engine with the two Resizes kept
in float32 (==); and INT8 stays close to FP32 (stated bound).
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32
SIZES = ((24, 40), (33, 21))  # two input sizes, neither square, one odd


def _size_of(src: str, dims: Sequence[int], tag: str, nodes: list, inits: list) -> str:
    """torch.onnx's size chain: Shape(src) -> Gather(d) -> Unsqueeze for each
    dim, Concat, Cast to int64; returns the [len(dims)] tensor's name."""
    parts = []
    nodes.append(helper.make_node("Shape", [src], [f"{tag}_shape"], name=f"{tag}_Shape"))
    for d in dims:
        inits.append(init(f"{tag}_i{d}", np.array(d, np.int64)))
        inits.append(init(f"{tag}_ax{d}", np.array([0], np.int64)))
        nodes.append(helper.make_node("Gather", [f"{tag}_shape", f"{tag}_i{d}"], [f"{tag}_g{d}"], name=f"{tag}_Gather{d}",
                                      axis=0))
        nodes.append(helper.make_node("Unsqueeze", [f"{tag}_g{d}", f"{tag}_ax{d}"], [f"{tag}_u{d}"],
                                      name=f"{tag}_Unsqueeze{d}"))
        parts.append(f"{tag}_u{d}")
    nodes.append(helper.make_node("Concat", parts, [f"{tag}_cat"], name=f"{tag}_Concat", axis=0))
    nodes.append(helper.make_node("Cast", [f"{tag}_cat"], [f"{tag}_hw"], name=f"{tag}_Cast", to=TensorProto.INT64))
    return f"{tag}_hw"


def _resize_to(x: str, hw: str, out: str, tag: str, nodes: list, inits: list) -> None:
    """Resize x (bilinear, half_pixel: F.interpolate(align_corners=False)) to
    sizes [N, C] of x followed by hw."""
    inits += [init(f"{tag}_s0", np.array([0], np.int64)), init(f"{tag}_s2", np.array([2], np.int64))]
    nodes.append(helper.make_node("Shape", [x], [f"{tag}_xs"], name=f"{tag}_ShapeX"))
    nodes.append(helper.make_node("Slice", [f"{tag}_xs", f"{tag}_s0", f"{tag}_s2"], [f"{tag}_nc"], name=f"{tag}_Slice"))
    nodes.append(helper.make_node("Concat", [f"{tag}_nc", hw], [f"{tag}_sizes"], name=f"{tag}_Sizes", axis=0))
    nodes.append(helper.make_node("Resize", [x, "", "", f"{tag}_sizes"], [out], name=f"{tag}_Resize", mode="linear",
                                  coordinate_transformation_mode="half_pixel"))


def seg_model(classes: int = 5) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes: List[onnx.NodeProto] = []
    inits: List[onnx.TensorProto] = []

    def conv(x: str, y: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> None:
        w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(F32)
        inits.extend([init(f"{y}_w", w), init(f"{y}_b", rng.uniform(-0.1, 0.1, cout).astype(F32))])
        out = f"{y}_pre" if relu else y
        nodes.append(helper.make_node("Conv", [x, f"{y}_w", f"{y}_b"], [out], name=f"{y}_Conv", kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[k // 2] * 4))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [y], name=f"{y}_Relu"))

    conv("x", "f1", 3, 8, 3, 2)        # shallow features, 1/2
    conv("f1", "f2", 8, 16, 3, 2)      # deep features, 1/4
    conv("f2", "cbr", 16, 16, 1)       # LR-ASPP's cbr branch
    nodes.append(helper.make_node("GlobalAveragePool", ["f2"], ["pool"], name="gate_Pool"))
    conv("pool", "gc", 16, 16, 1, relu=False)
    nodes.append(helper.make_node("Sigmoid", ["gc"], ["gate"], name="gate_Sigmoid"))
    nodes.append(helper.make_node("Mul", ["cbr", "gate"], ["gated"], name="gate_Mul"))
    _resize_to("gated", _size_of("f1", (2, 3), "f1", nodes, inits), "up", "up", nodes, inits)
    conv("f1", "low", 8, classes, 1, relu=False)
    conv("up", "high", 16, classes, 1, relu=False)
    nodes.append(helper.make_node("Add", ["low", "high"], ["logits"], name="heads_Add"))
    _resize_to("logits", _size_of("x", (2, 3), "in", nodes, inits), "out", "out", nodes, inits)
    return model(nodes, [fvi("x", ["N", 3, "H", "W"])], [fvi("out", ["N", classes, "H", "W"])], inits, opset=13)


def images(n: int, hw: Sequence[int], seed: int) -> np.ndarray:
    """Smooth structured images (blobs and edges), so the logits vary with the pixels."""
    rng = np.random.default_rng(seed)
    h, w = hw
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    out = np.empty((n, 3, h, w), F32)
    for i in range(n):
        for c in range(3):
            cy, cx, r = rng.uniform(-0.6, 0.6, 2).tolist() + [rng.uniform(0.2, 0.6)]
            out[i, c] = np.tanh(4 * (r - np.hypot(yy - cy, xx - cx))) + 0.5 * (xx * rng.uniform(-1, 1) > yy)
    return out + rng.normal(0, 0.05, out.shape).astype(F32)


@pytest.fixture(scope="module")
def net() -> bytes:
    return seg_model().SerializeToString()


@pytest.fixture(scope="module")
def engines(net: bytes):
    calib = [images(4, hw, 10 + i) for i, hw in enumerate(SIZES)]
    config = int8rt.BuilderConfig(precision="int8", calibrator=int8rt.make_calibrator(calib, algorithm="minmax"))
    int8 = int8rt.build_engine(net, config)
    scales = int8.scales()
    # The same scales with the two Resizes kept in float32 (behind a Dequantize, before a Quantize).
    kept = int8rt.build_engine(net, int8rt.BuilderConfig(
        precision="int8", calibrator=int8rt.make_calibrator(calib, algorithm="minmax"),
        layer_precisions={"up_Resize": "fp32", "out_Resize": "fp32"}))
    assert kept.scales() == scales
    return int8, kept


def test_fp32_matches_onnxruntime_at_two_sizes_in_one_context(net: bytes) -> None:
    engine = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    ctx = engine.create_execution_context()
    sess = ort.InferenceSession(net, providers=["CPUExecutionProvider"])
    for i, hw in enumerate(SIZES + SIZES[:1]):
        x = images(2, hw, 30 + i)
        want = sess.run(None, {"x": x})[0]
        got = ctx.run({"x": x})["out"]
        assert got.shape == want.shape == (2, 5) + hw
        # float32 sums in different orders: 1e-5 of the largest logit
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max(), hw


def test_int8_keeps_only_the_input_and_gate_conversions(engines) -> None:
    int8, _ = engines
    converts = {(c.op, c.tensor) for c in int8.int8_plan().converts}
    # x enters int8 once; QChannelMul reads the gate's Sigmoid from its int8 input through
    # its 256 float values (lower_int8_gates.cc). Both resizes read int8; the last writes the
    # float output.
    assert converts == {("int8rt.Quantize", "x")}, converts
    resizes = [layer for layer in int8.layers() if layer["name"] in ("up_Resize", "out_Resize")]
    assert [r["op"] for r in resizes] == ["int8rt.QResizeLinear"] * 2, resizes
    assert "to float32" in resizes[1]["detail"] and "to float32" not in resizes[0]["detail"]


def test_int8_resizes_give_the_float_resize_bytes_at_two_sizes_in_one_context(engines) -> None:
    int8, kept = engines
    loaded = int8rt.Engine.deserialize(int8.serialize())  # the dynamic resizes' attributes survive the file
    a, b = loaded.create_execution_context(), kept.create_execution_context()
    first = None
    for i, hw in enumerate(SIZES + SIZES[:1]):
        x = images(3, hw, 40 + i % 2)
        got = a.run({"x": x})["out"]
        assert got.shape == (3, 5) + hw
        np.testing.assert_array_equal(got, b.run({"x": x})["out"])
        if i == 0:
            first = got
    np.testing.assert_array_equal(got, first)  # back to the first size: the same bytes


def test_int8_close_to_fp32(net: bytes, engines) -> None:
    int8, _ = engines
    fp32 = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    for i, hw in enumerate(SIZES):
        x = images(4, hw, 50 + i)
        want, got = fp32.run({"x": x})["out"], int8.run({"x": x})["out"]
        rel = np.linalg.norm(got - want) / np.linalg.norm(want)
        # 5 int8 layers deep, per-tensor MinMax scales: measured 0.02 and 0.045
        assert rel < 0.08, (hw, rel)
