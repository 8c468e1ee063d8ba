"""Nearest Resize of an int8 tensor runs in int8 (int8rt.QResizeNearest,
a byte copy at the input's scale): no Quantize / Dequantize around it, and the
pixels it picks are the FP32 Resize's for every coordinate mode (the lowering
reads them off the FP32 layer run on an index image). Checked bit for bit:
the engine's output equals ONNX Runtime's Resize of the int8 conv output it
resizes (dequantized at the same scale). Bilinear Resize of an int8 tensor
(int8rt.QResizeLinear) gives the bytes of the FP32 Resize between Dequantize
and Quantize, or, into a network output, the float32 bytes of Dequantize and
the FP32 Resize (tests/test_seg_net.py: the same for sizes known at run time)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32


def resize_model(attrs: dict, scales=None, sizes=None, op: str = "Resize", opset: int = 13, resize: bool = True):
    """x -> Conv (int8) -> c -> Resize -> y; without the Resize, c -> MaxPool 1x1 -> c_codes, the
    output: an identity that reads c in int8 (a Conv that is only a network output writes
    float32, lower_int8_conv_head.cc), so c_codes is the int8 conv output dequantized."""
    w = np.random.default_rng(3).standard_normal((3, 3, 1, 1)).astype(F32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1])]
    inits = [init("w", w)]
    if op == "Upsample":
        inputs = ["c", "scales"]
        inits.append(init("scales", np.array(scales, F32)))
    elif sizes is not None:
        inputs = ["c", "", "", "sizes"]
        inits.append(init("sizes", np.array(sizes, np.int64)))
    else:
        inputs = ["c", "", "scales"]
        inits.append(init("scales", np.array(scales, F32)))
    if resize:
        nodes.append(helper.make_node(op, inputs, ["y"], name="resize", **attrs))
    else:
        nodes.append(helper.make_node("MaxPool", ["c"], ["c_codes"], name="anchor", kernel_shape=[1, 1]))
    batch = "N" if sizes is None else sizes[0]  # sizes fix the batch
    out = fvi("y", [batch, 3, None, None]) if resize else fvi("c_codes", [batch, 3, 7, 5])
    return model(nodes, [fvi("x", [batch, 3, 7, 5])], [out], inits if resize else inits[:1], opset=opset)


class Cal(int8rt.IInt8MinMaxCalibrator):
    def __init__(self) -> None:
        super().__init__()
        self.left = 2

    def get_batch_size(self) -> int:
        return 4

    def get_batch(self, names):
        self.left -= 1
        return None if self.left < 0 else [np.random.default_rng(self.left).uniform(-2, 2, (4, 3, 7, 5)).astype(F32)]


@pytest.mark.parametrize("attrs,scales,sizes,op,opset", [
    ({"mode": "nearest"}, [1, 1, 2, 2], None, "Resize", 13),
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
     [1, 1, 1.5, 2.5], None, "Resize", 13),
    ({"mode": "nearest", "coordinate_transformation_mode": "align_corners", "nearest_mode": "round_prefer_ceil"},
     None, [4, 3, 11, 4], "Resize", 13),
    ({"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "ceil"},
     [1, 1, 0.5, 3], None, "Resize", 13),
])
def test_nearest_resize_runs_in_int8_and_picks_the_fp32_pixels(attrs, scales, sizes, op, opset) -> None:
    m = resize_model(attrs, scales, sizes, op, opset)
    engine = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=Cal()))
    ops = [layer["op"] for layer in engine.layers()]
    assert ops == ["int8rt.Quantize", "int8rt.QConv", "int8rt.QResizeNearest", "int8rt.Dequantize"], ops
    # The conv alone, calibrated alike, gives the int8 conv output dequantized at the same scale.
    conv_only = int8rt.build_engine(resize_model(attrs, scales, sizes, op, opset, resize=False).SerializeToString(),
                                    int8rt.BuilderConfig(calibrator=Cal()))
    x = np.random.default_rng(9).uniform(-2.5, 2.5, (4, 3, 7, 5)).astype(F32)
    assert [layer["op"] for layer in conv_only.layers()][1:] == ["int8rt.QConv", "int8rt.QMaxPool", "int8rt.Dequantize"]
    c = conv_only.run({"x": x})["c_codes"]
    resize_alone = helper.make_model(helper.make_graph(
        [n for n in m.graph.node if n.name == "resize"], "r", [fvi("c", [4, 3, 7, 5])], [fvi("y", None)],
        [i for i in m.graph.initializer if i.name != "w"]), opset_imports=m.opset_import)
    want = ort.InferenceSession(resize_alone.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"c": c})[0]
    got = engine.run({"x": x})["y"]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


LINEAR_CASES = [
    ({"mode": "linear"}, [1, 1, 2, 2], None),
    ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, None, [4, 3, 11, 4]),
    ({"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, [1, 1, 1.5, 2.5], None),
    ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, [1, 1, 0.5, 3], None),
]


@pytest.mark.parametrize("attrs,scales,sizes", LINEAR_CASES)
def test_linear_resize_into_a_network_output_reads_int8_and_writes_the_float_bytes(attrs, scales, sizes) -> None:
    """Into a network output, int8rt.QResizeLinear writes the blend in float32: the bytes of
    Dequantize then the FP32 Resize (the resize kept float), with no Dequantize before it."""
    from int8rt import _core
    from int8rt.onnx import import_model
    m = resize_model(attrs, scales, sizes)
    s = {"x": 0.02, "c": 0.03, "y": 0.025}
    int8 = int8rt.Engine(_core.Builder(import_model(m), "int8", {}, True).build(s))
    kept = int8rt.Engine(_core.Builder(import_model(m), "int8", {"resize": "fp32"}, True).build(s))
    assert [layer["op"] for layer in int8.layers()] == ["int8rt.Quantize", "int8rt.QConv", "int8rt.QResizeLinear"]
    assert {(c.op, c.tensor) for c in int8.int8_plan().converts} == {("int8rt.Quantize", "x")}
    assert [layer["op"] for layer in kept.layers()][-2:] == ["int8rt.Dequantize", "Resize"]
    assert any("reads int8 and writes float32" in line for line in int8.report())
    x = np.random.default_rng(9).uniform(-2.5, 2.5, (4, 3, 7, 5)).astype(F32)
    np.testing.assert_array_equal(int8.run({"x": x})["y"], kept.run({"x": x})["y"])


def linear_into_conv(attrs: dict, scales=None, sizes=None):
    """x -> Conv -> c -> Resize (linear) -> r -> Conv -> y: the resize between two int8 layers
    (conv2, the network output, writes float32 from the int8 r it reads)."""
    m = resize_model(attrs, scales, sizes)
    w2 = np.random.default_rng(4).standard_normal((2, 3, 3, 3)).astype(F32) * 0.5
    m.graph.node[1].output[0] = "r"
    m.graph.node.append(helper.make_node("Conv", ["r", "w2"], ["y"], name="conv2", kernel_shape=[3, 3]))
    m.graph.initializer.append(init("w2", w2))
    m.graph.output[0].CopyFrom(fvi("y", None))
    m.graph.output[0].type.tensor_type.shape.Clear()
    return m


@pytest.mark.parametrize("attrs,scales,sizes", LINEAR_CASES)
def test_linear_resize_between_int8_layers_runs_in_int8_with_the_float_bytes(attrs, scales, sizes) -> None:
    """int8rt.QResizeLinear computes the FP32 Resize's blend of the dequantized pixels and
    quantizes it: the same bytes as Dequantize, FP32 Resize, Quantize (the resize kept float),
    seen through conv2's float32 output (any r code that differs changes it)."""
    from int8rt import _core
    from int8rt.onnx import import_model
    m = linear_into_conv(attrs, scales, sizes)
    s = {"x": 0.02, "c": 0.03, "r": 0.025, "y": 0.05}
    int8 = int8rt.Engine(_core.Builder(import_model(m), "int8", {}, True).build(s))
    kept = int8rt.Engine(_core.Builder(import_model(m), "int8", {"resize": "fp32"}, True).build(s))
    assert "int8rt.QResizeLinear" in [layer["op"] for layer in int8.layers()]
    assert {(c.op, c.tensor) for c in int8.int8_plan().converts} == {("int8rt.Quantize", "x")}
    assert "Resize" in [layer["op"] for layer in kept.layers()]
    x = np.random.default_rng(9).uniform(-2.5, 2.5, (4, 3, 7, 5)).astype(F32)
    np.testing.assert_array_equal(int8.run({"x": x})["y"], kept.run({"x": x})["y"])


def test_accuracy_taps_see_the_resized_tensor_at_its_input_scale() -> None:
    from int8rt.accuracy.taps import int8_scales
    m = resize_model({"mode": "nearest"}, [1, 1, 2, 2])
    engine = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=Cal()))
    scales = int8_scales(engine._native.network())
    plan = {t.tensor: t.scale for t in engine.int8_plan().tensors}
    assert scales["y"] == scales["c"] == plan["y"] == plan["c"]
