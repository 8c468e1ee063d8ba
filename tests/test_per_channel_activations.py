"""Per-channel int8 activations of pre-quantized models
(csrc/engine/lower_int8_qdq.cc): NNCF quantizes MobileNetV2's depthwise
inputs with a QuantizeLinear of axis 1 and one scale per channel. The
depthwise conv's input channel k feeds its output channel k alone, so the
pair stays int8: the producing conv writes each channel at its own scale
(QConv ``out_scales``) and the depthwise conv folds each channel's scale
into that channel's requantization (``in_scales``). Where the producer
cannot (its activation clamps channels differently at their scales) an
int8rt.Quantize with per-channel scales writes the int8 tensor; where a
reader is no depthwise conv the pair runs as QuantizeLinear /
DequantizeLinear, and the builder's report says why.

Against ONNX Runtime running the Q/DQ nodes literally (graph optimizations
off: the ONNX spec's arithmetic) the bound is one output quantization step,
rarely taken: int8rt requantizes the exact int32 accumulator with
s_in[k] * s_w[k] / s_out[k] while ONNX Runtime sums dequantized floats, so a
value within float rounding of a half step can round the other way. The
optimized kernels are bit-exact with the reference kernels (==)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

F32 = np.float32
C, E, K, H, W = 4, 8, 6, 9, 9  # input, expanded, projected channels; image size


def _ort_spec(model: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class _Graph:
    """A QDQ graph written as NNCF writes it: int8 weights behind a
    DequantizeLinear per output channel, activations behind Q/DQ pairs."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def qdq(self, x: str, scale: np.ndarray, dtype: type, axis: int | None = None) -> str:
        s = self.const(f"{x}_scale", np.asarray(scale, F32))
        z = self.const(f"{x}_zp", np.zeros(np.shape(scale), dtype))
        kw = {} if axis is None else {"axis": axis}
        self.nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [f"{x}_q"], **kw))
        self.nodes.append(helper.make_node("DequantizeLinear", [f"{x}_q", s, z], [f"{x}_dq"], **kw))
        return f"{x}_dq"

    def conv(self, x: str, out: str, k: int, c_per_group: int, size: int, *, group: int = 1, stride: int = 1,
             relu6: bool = True, bias_shift: float = 0.0) -> str:
        wq = self.rng.integers(-127, 128, (k, c_per_group, size, size)).astype(np.int8)
        ws = (self.rng.uniform(0.5, 1.5, k) / (127 * c_per_group * size)).astype(F32)
        self.nodes.append(helper.make_node("DequantizeLinear", [self.const(f"{out}_wq", wq),
                                                                self.const(f"{out}_ws", ws)], [f"{out}_w"], axis=0))
        b = self.const(f"{out}_b", (self.rng.standard_normal(k) * 0.3 + bias_shift).astype(F32))
        pad = size // 2
        y = f"{out}_conv" if relu6 else out
        self.nodes.append(helper.make_node("Conv", [x, f"{out}_w", b], [y], group=group, strides=[stride, stride],
                                           pads=[pad] * 4, kernel_shape=[size, size]))
        if relu6:
            self.nodes.append(helper.make_node("Clip", [y, self.const(f"{out}_lo", np.array(0, F32)),
                                                        self.const(f"{out}_hi", np.array(6, F32))], [out]))
        return out

    def model(self, outputs: list[tuple[str, list]]) -> bytes:
        graph = helper.make_graph(self.nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                      ["n", C, H, W])],
                                  [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
                                  self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _channel_scales(dtype: type, clamp_inside: bool = False) -> np.ndarray:
    """NNCF-like per-channel scales of a ReLU6 output: range / levels, the
    first channel one float above 6 / levels (its ReLU6 bound, 6 / s, then
    falls a float rounding below the top code: one int8 clamp still serves
    every channel, kernels::common_int8_clamp). clamp_inside: channel 1's
    range is 12, so its ReLU6 bound clamps inside the int8 range, unlike the
    others'."""
    levels = 255.0 if dtype == np.uint8 else 127.0
    ranges = np.linspace(6.0, 1.5, E)
    if clamp_inside:
        ranges[1] = 12.0
    s = (ranges / levels).astype(F32)
    s[0] = np.nextafter(F32(6.0 / levels), F32(1))
    assert F32(6) / s[0] < F32(levels)
    return s


def block(dtype: type = np.uint8, stride: int = 1, reader: str = "depthwise", clamp_inside: bool = False,
          quantize_input_per_channel: bool = False, dw_output_float: bool = False) -> bytes:
    """x -> Q/DQ -> 1x1 Conv + ReLU6 (C -> E) -> per-channel Q/DQ (axis 1) -> 3x3 depthwise Conv + ReLU6
    -> Q/DQ -> 1x1 Conv (E -> K) -> Q/DQ -> y: an inverted-residual block as NNCF quantizes it.

    reader "conv": a full 3x3 conv reads the per-channel tensor instead (no per-channel int8 form).
    quantize_input_per_channel: the per-channel Q/DQ sits on the network input (E = C channels, no expansion).
    dw_output_float: the depthwise conv's output is the network output, with no Q after it."""
    g = _Graph(seed=3 + stride)
    channels = C if quantize_input_per_channel else E
    if quantize_input_per_channel:
        scales = np.linspace(0.01, 0.03, C).astype(F32)
        t = g.qdq("x", scales, np.int8 if dtype == np.int8 else np.uint8, axis=1)
    else:
        t = g.conv(g.qdq("x", np.array(0.03, F32), np.int8), "expand", E, C, 1, bias_shift=2.0)
        t = g.qdq(t, _channel_scales(dtype, clamp_inside), dtype, axis=1)
    if reader == "conv":
        t = g.conv(t, "dw", channels, channels, 3, stride=stride)
    else:
        t = g.conv(t, "dw", channels, 1, 3, group=channels, stride=stride, relu6=not dw_output_float)
    oh = (H - 1) // stride + 1
    if dw_output_float:
        return g.model([(t, ["n", channels, oh, oh])])
    t = g.qdq(t, np.array(6.0 / 255, F32), np.uint8)
    t = g.conv(t, "project", K, channels, 1, relu6=False)
    g.nodes.append(helper.make_node("QuantizeLinear", [t, g.const("y_s", np.array(0.02, F32)),
                                                       g.const("y_z", np.array(0, np.int8))], ["y_q"]))
    g.nodes.append(helper.make_node("DequantizeLinear", ["y_q", "y_s", "y_z"], ["y"]))
    return g.model([("y", ["n", K, oh, oh])])


def _x(n: int = 3, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, C, H, W)).astype(F32) * 2


def _build(model: bytes) -> int8rt.Engine:
    return int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8"))


def _steps(ours: np.ndarray, theirs: np.ndarray, step: float = 0.02) -> np.ndarray:
    return np.abs(ours - theirs) / step


CASES = [(np.uint8, 1), (np.uint8, 2), (np.int8, 1)]
IDS = ["uint8", "uint8-stride2", "int8"]


@pytest.mark.parametrize("dtype,stride", CASES, ids=IDS)
def test_per_channel_pair_runs_in_int8(dtype: type, stride: int) -> None:
    engine = _build(block(dtype, stride))
    ops = [layer["op"] for layer in engine.layers()]
    assert "QuantizeLinear" not in ops and "DequantizeLinear" not in ops and "Conv" not in ops, ops
    assert ops.count("int8rt.QConv") == 3 and ops.count("int8rt.Quantize") == 1, ops  # the network input's only
    assert not [line for line in engine.report() if "stays float32" in line], engine.report()
    per_channel = [t for t in engine.int8_plan().tensors if t.channel_scales]
    assert [t.tensor for t in per_channel] == ["expand"], per_channel  # the Q and DQ alias it
    (t,) = per_channel
    assert t.produced_in_int8 and t.scale == 0.0 and t.zero_point == (-128 if dtype == np.uint8 else 0)
    np.testing.assert_array_equal(np.asarray(t.channel_scales, F32), _channel_scales(dtype))


@pytest.mark.parametrize("dtype,stride", CASES, ids=IDS)
def test_per_channel_pair_matches_onnx_spec_within_one_step(dtype: type, stride: int) -> None:
    model = block(dtype, stride)
    x = _x()
    steps = _steps(_build(model).run({"x": x})["y"], _ort_spec(model).run(None, {"x": x})[0])
    assert steps.max() <= 1.0 + 1e-4, steps.max()  # a rounding tie taken the other way, at most
    assert (steps > 1e-3).mean() <= 0.01, (steps > 1e-3).mean()


@pytest.mark.parametrize("dtype,stride", CASES, ids=IDS)
def test_optimized_kernels_equal_reference(dtype: type, stride: int) -> None:
    model, x = block(dtype, stride), _x(2, seed=9)
    tiers = ["ref"] + [isa for isa in ("avx2", "avxvnni", "avx512vnni") if int8rt.kernels.isa_info()[isa]["cpu"]]
    outs = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)
        try:
            outs[isa] = _build(model).run({"x": x})["y"]
        finally:
            int8rt.set_max_isa(None)
    for isa in tiers[1:]:
        np.testing.assert_array_equal(outs[isa], outs["ref"], err_msg=isa)


def test_reader_that_is_no_depthwise_conv_keeps_the_pair_at_run_time() -> None:
    model = block(np.uint8, reader="conv")
    engine = _build(model)
    ops = [layer["op"] for layer in engine.layers()]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops, ops
    why = [line for line in engine.report() if "(QuantizeLinear) stays float32" in line]
    assert len(why) == 1 and "per-channel (axis 1) activation Q whose int8 form nothing takes" in why[0], why
    assert "(Conv) reads it and is no depthwise Conv" in why[0], why
    x = _x()
    steps = _steps(engine.run({"x": x})["y"], _ort_spec(model).run(None, {"x": x})[0])
    assert steps.max() <= 1.0 + 1e-4 and (steps > 1e-3).mean() <= 0.01, steps.max()


def test_producer_with_unequal_channel_clamps_leaves_the_quantize_to_a_per_channel_convert() -> None:
    """Channel 1's ReLU6 bound clamps inside the int8 range at its scale while the others' do not: one
    epilogue has one clamp, so the producing conv stays float32 and an int8rt.Quantize with per-channel
    scales writes the depthwise conv's int8 input."""
    model = block(np.uint8, clamp_inside=True)
    engine = _build(model)
    layers = engine.layers()
    ops = [layer["op"] for layer in layers]
    assert "QuantizeLinear" not in ops and ops.count("Conv") == 1 and ops.count("int8rt.QConv") == 2, ops
    assert any("clamps its channels at different int8 values" in line for line in engine.report())
    assert any(layer["op"] == "int8rt.Quantize" and f"{E} channel scales" in layer["detail"] for layer in layers)
    x = _x()
    steps = _steps(engine.run({"x": x})["y"], _ort_spec(model).run(None, {"x": x})[0])
    assert steps.max() <= 1.0 + 1e-4 and (steps > 1e-3).mean() <= 0.01, steps.max()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=["uint8", "int8"])
def test_per_channel_network_input_is_quantized_per_channel(dtype: type) -> None:
    model = block(dtype, quantize_input_per_channel=True)
    engine = _build(model)
    layers = engine.layers()
    assert [layer["op"] for layer in layers if layer["op"] in ("int8rt.Quantize", "QuantizeLinear")] == \
        ["int8rt.Quantize"], layers
    assert f"{C} channel scales" in next(la["detail"] for la in layers if la["op"] == "int8rt.Quantize")
    x = _x()
    steps = _steps(engine.run({"x": x})["y"], _ort_spec(model).run(None, {"x": x})[0])
    assert steps.max() <= 1.0 + 1e-4 and (steps > 1e-3).mean() <= 0.01, steps.max()


def test_float_reader_dequantizes_per_channel() -> None:
    """The depthwise conv writes the network output in float32 (no Q after it): it stays a float32
    conv and reads the per-channel int8 tensor through an int8rt.Dequantize with per-channel scales,
    which gives the spec's DequantizeLinear values exactly; the float convs then agree to float rounding."""
    model = block(np.uint8, dw_output_float=True)
    engine = _build(model)
    layers = engine.layers()
    assert any(la["op"] == "int8rt.Dequantize" and f"{E} channel scales" in la["detail"] for la in layers), layers
    assert "QuantizeLinear" not in [la["op"] for la in layers]
    x = _x()
    ours, want = engine.run({"x": x})["dw"], _ort_spec(model).run(None, {"x": x})[0]
    # Inputs one step apart where the producer's requantization took a tie the other way: at most one
    # step of one input channel times the largest tap weight, 9 taps.
    bound = 9 * float(_channel_scales(np.uint8).max()) * float(np.abs(want).max() + 1)
    assert np.abs(ours - want).max() <= bound
    assert np.mean(np.abs(ours - want) > 1e-5 * np.abs(want).max()) <= 0.01


def test_engine_file_keeps_per_channel_scales(tmp_path) -> None:
    model, x = block(np.uint8, 2), _x(2)
    built = _build(model)
    built.save(tmp_path / "pc.i8rt")
    loaded = int8rt.Engine.load(tmp_path / "pc.i8rt")
    np.testing.assert_array_equal(loaded.run({"x": x})["y"], built.run({"x": x})["y"])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=["uint8", "int8"])
def test_block_big_enough_to_fuse_equals_image_by_image(dtype: type, monkeypatch) -> None:
    """32 expanded channels of 48 x 48 at batch 4: expansion -> depthwise -> projection is large enough for
    the fused inverted-residual runner (engine/inverted_residual.h, where nothing stands between the convs:
    int8, zero point 0), which runs each conv's own per-channel epilogue on bands of rows; batch 1 is not.
    The bytes must be the same."""
    import sys
    here = sys.modules[__name__]
    for name, value in (("E", 32), ("H", 48), ("W", 48)):
        monkeypatch.setattr(here, name, value)
    model = block(dtype)
    engine = _build(model)
    x = np.random.default_rng(1).standard_normal((4, C, 48, 48)).astype(F32) * 2
    together = engine.run({"x": x})["y"]
    np.testing.assert_array_equal(together, np.concatenate([engine.run({"x": x[i:i + 1]})["y"] for i in range(4)]))
    steps = _steps(together, _ort_spec(model).run(None, {"x": x})[0])
    assert steps.max() <= 1.0 + 1e-4 and (steps > 1e-3).mean() <= 0.01, steps.max()
