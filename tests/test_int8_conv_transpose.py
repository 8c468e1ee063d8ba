"""ConvTranspose in an INT8 engine (int8rt.QConvTranspose).

The paddle2onnx pattern of PP-OCR's detector head, ConvTranspose -> Add(bias)
-> BatchNormalization -> Relu, becomes one int8 layer: the bias Add and the
BatchNorm folded into the weights (graph passes), the Relu into the epilogue.
Outputs are compared with the same INT8 engine whose ConvTranspose is kept in
float32 (so both read the same int8 input, calibrated on the evaluation batch:
nothing clips) within 2.5 output steps: half a step for the output's rounding,
the rest for the per-channel rounding of the folded weights (the kernel itself
is checked bit for bit in test_conv_transpose_s8.py). 1-D ConvTranspose (lifted to H = 1 by the
importer), groups, pads and output_padding, and a dynamic input size.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32


def head_model(c: int, m: int, k: int, stride: int, pads, out_pad: int, group: int, one_d: bool = False,
               size=(6, 7), dynamic: bool = False):
    """x -> Conv 3x3 -> ConvTranspose -> Add(bias) -> BatchNormalization -> Relu -> y."""
    rng = np.random.default_rng(5)
    spatial = [size[1]] if one_d else list(size)
    ks = [k] if one_d else [k, k]
    nodes = [
        helper.make_node("Conv", ["x", "wc"], ["c"], name="conv", kernel_shape=[3] * len(spatial),
                         pads=[1] * (2 * len(spatial))),
        helper.make_node("ConvTranspose", ["c", "wt"], ["t"], name="up", kernel_shape=ks,
                         strides=[stride] * len(spatial), pads=list(pads) if not one_d else [pads[1], pads[3]],
                         output_padding=[out_pad] * len(spatial), group=group),
        helper.make_node("Add", ["t", "b"], ["tb"], name="bias"),
        helper.make_node("BatchNormalization", ["tb", "g", "beta", "mean", "var"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["y"], name="relu"),
    ]
    bshape = [1, m] + [1] * len(spatial)
    inits = [
        init("wc", (rng.standard_normal([c, 3] + [3] * len(spatial)) * 0.3).astype(F32)),
        init("wt", (rng.standard_normal([c, m // group] + ks) * 0.3).astype(F32)),
        init("b", rng.uniform(-0.5, 0.5, bshape).astype(F32)),
        init("g", rng.uniform(0.5, 1.5, m).astype(F32)),
        init("beta", rng.uniform(-0.3, 0.3, m).astype(F32)),
        init("mean", rng.uniform(-0.3, 0.3, m).astype(F32)),
        init("var", rng.uniform(0.5, 2.0, m).astype(F32)),
    ]
    in_spatial = [None] * len(spatial) if dynamic else spatial
    return model(nodes, [fvi("x", ["N", 3] + in_spatial)], [fvi("y", ["N", m] + [None] * len(spatial))], inits, opset=17)


class Cal(int8rt.IInt8MinMaxCalibrator):
    def __init__(self, shape) -> None:
        super().__init__()
        self.shape = shape
        self.left = 3

    def get_batch_size(self) -> int:
        return self.shape[0]

    def get_batch(self, names):
        self.left -= 1
        return None if self.left < 0 else [eval_input(self.shape, self.left)]


def eval_input(shape, seed: int = 0) -> np.ndarray:
    """Calibration batch `seed`; batch 0 is also the evaluation input (so no value is clipped)."""
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(F32)


CASES = [
    # c, m, k, stride, pads (t, l, b, r), output_padding, group
    (8, 6, 2, 2, (0, 0, 0, 0), 0, 1),   # PP-OCR det's upsampling
    (8, 6, 3, 2, (1, 1, 1, 1), 1, 1),
    (8, 8, 4, 2, (1, 0, 2, 1), 0, 2),
    (6, 6, 3, 1, (0, 0, 0, 0), 0, 6),   # depthwise, stride 1
    (5, 4, 5, 3, (2, 1, 1, 2), 2, 1),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("one_d", [False, True])
def test_conv_transpose_bias_bn_relu_is_one_int8_layer(case, one_d) -> None:
    c, m, k, stride, pads, out_pad, group = case
    onnx_model = head_model(c, m, k, stride, pads, out_pad, group, one_d).SerializeToString()
    shape = (2, 3, 7) if one_d else (2, 3, 6, 7)
    engine = int8rt.build_engine(onnx_model, int8rt.BuilderConfig(calibrator=Cal(shape)))
    ops = [layer["op"] for layer in engine.layers()]
    assert "int8rt.QConvTranspose" in ops, ops
    # 1-D: the importer's Squeeze after the lifted op stands between it and
    # the Add / BatchNormalization, which then stay separate layers.
    for gone in ("ConvTranspose",) if one_d else ("ConvTranspose", "Add", "BatchNormalization", "Relu"):
        assert gone not in ops, ops
    # The same engine with the ConvTranspose in float32 reads the same int8
    # input (dequantized): the difference is the layer's own rounding.
    ref = int8rt.build_engine(onnx_model, int8rt.BuilderConfig(calibrator=Cal(shape), layer_precisions={"up": "fp32"}))
    assert "ConvTranspose" in [layer["op"] for layer in ref.layers()]
    x = eval_input(shape)
    got, want = engine.run({"x": x})["y"], ref.run({"x": x})["y"]
    assert got.shape == want.shape
    assert (got >= 0).all()  # the Relu
    step = float(np.abs(want).max()) / 127
    assert float(np.abs(got - want).max()) <= 2.5 * step
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.999


def test_dynamic_input_size_packs_per_size() -> None:
    onnx_model = head_model(8, 6, 3, 2, (1, 1, 1, 1), 1, 1, dynamic=True).SerializeToString()
    shape = (2, 3, 6, 7)
    engine = int8rt.build_engine(onnx_model, int8rt.BuilderConfig(calibrator=Cal(shape)))
    assert any(layer["op"] == "int8rt.QConvTranspose" for layer in engine.layers())
    ref = int8rt.build_engine(onnx_model, int8rt.BuilderConfig(calibrator=Cal(shape), layer_precisions={"up": "fp32"}))
    step = float(np.abs(ref.run({"x": eval_input(shape)})["y"]).max()) / 127  # the calibrated output step
    for hw in [(6, 7), (5, 4), (6, 7), (1, 1), (3, 6)]:
        x = eval_input(shape)[:1, :, :hw[0], :hw[1]].copy()  # crops of the calibration input
        # A crop's new borders can exceed the calibrated range: int8 clips there.
        got, want = engine.run({"x": x})["y"], np.minimum(ref.run({"x": x})["y"], 127 * step)
        assert got.shape == want.shape == (1, 6, 2 * hw[0], 2 * hw[1])
        assert float(np.abs(got - want).max()) <= 2.5 * step, hw


def test_engine_file_round_trip_gives_the_same_bytes() -> None:
    onnx_model = head_model(8, 6, 3, 2, (1, 1, 1, 1), 1, 2).SerializeToString()
    shape = (2, 3, 6, 7)
    engine = int8rt.build_engine(onnx_model, int8rt.BuilderConfig(calibrator=Cal(shape)))
    loaded = int8rt.Engine.deserialize(engine.serialize())
    assert [layer["op"] for layer in loaded.layers()] == [layer["op"] for layer in engine.layers()]
    x = eval_input(shape)
    np.testing.assert_array_equal(loaded.run({"x": x})["y"], engine.run({"x": x})["y"])
