"""Pre-quantized QDQ models (csrc/engine/lower_int8_qdq.cc): a model ONNX
Runtime's ``quantize_static`` wrote (QDQ format, per-channel int8 weights,
int8 or uint8 activations with zero points) builds as INT8 with no
calibrator, from its own scales and zero points, and runs its Conv / Gemm /
Add on the int8 kernels.

Against ONNX Runtime running the same QDQ model the bound is one output
quantization step, and nearly every value is equal: both round the same
real numbers, but ONNX Runtime adds the int32 bias and the zero-point terms
to the accumulator while int8rt folds them into its float epilogue bias
(kernels::apply_zero_points), so the two can round a value that lies within
float rounding of a half step differently. Optimized kernels against the
reference kernels (INT8RT_MAX_ISA=ref) are bit-exact: compared with ==."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import int8rt
from _ort_oracle import qdq_session
from onnx_models import resnet_block

RNG = np.random.default_rng(11)
F32 = np.float32


def _float_model() -> onnx.ModelProto:
    """The shapes of a ResNet block, with padded convs (the zero-point
    padding); fresh weights from RNG on each call."""
    return resnet_block(RNG, relu_after_pointwise=False)


class _Reader(CalibrationDataReader):
    def __init__(self) -> None:
        self._batches = iter([{"x": RNG.standard_normal((2, 3, 12, 12)).astype(F32)} for _ in range(4)])

    def get_next(self):  # noqa: ANN201 (onnxruntime's protocol)
        return next(self._batches, None)


@pytest.fixture(scope="module", params=["QInt8", "QUInt8", "QInt8 symmetric"])
def qdq_model(request, tmp_path_factory) -> tuple[bytes, str]:
    d = tmp_path_factory.mktemp("qdq")
    onnx.save(_float_model(), d / "float.onnx")
    activations = request.param.split()[0]
    quantize_static(str(d / "float.onnx"), str(d / "qdq.onnx"), _Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=getattr(QuantType, activations), weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": request.param.endswith("symmetric")})
    return (d / "qdq.onnx").read_bytes(), request.param


def _output_scale(model: bytes) -> float:
    m = onnx.load_from_string(model)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    dq = next(n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == "y")
    return float(inits[dq.input[1]])


def test_builds_without_calibrator_and_runs_int8(qdq_model) -> None:
    model, _ = qdq_model
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8"))
    floats = [line for line in engine.report() if "stays float32" in line]
    # Only GlobalAveragePool (no zero-point form of its int8 kernel) stays float32.
    assert all("GlobalAveragePool" in line for line in floats), floats
    ops = {layer["op"] for layer in engine.layers()}
    assert {"int8rt.QConv", "int8rt.QAdd", "int8rt.QGemm", "int8rt.QMaxPool"} <= ops, ops
    assert "QuantizeLinear" not in ops and "DequantizeLinear" not in ops, ops
    # A padded conv pads with its input's zero point inside its kernels (uint8: non-zero), no QPad in front.
    assert "int8rt.QPad" not in ops, ops


def test_matches_onnxruntime_within_one_step(qdq_model) -> None:
    model, _ = qdq_model
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8"))
    sess = qdq_session(model)
    x = RNG.standard_normal((3, 3, 12, 12)).astype(F32)
    ours, theirs = engine.run({"x": x})["y"], sess.run(None, {"x": x})[0]
    steps = np.abs(ours - theirs) / _output_scale(model)
    assert steps.max() <= 1.0 + 1e-4, steps.max()  # a rounding tie taken the other way, at most
    assert (steps > 1e-3).mean() <= 0.05  # and rarely


def test_optimized_kernels_equal_reference(qdq_model) -> None:
    model, _ = qdq_model
    x = RNG.standard_normal((2, 3, 12, 12)).astype(F32)
    try:
        int8rt.set_max_isa("ref")
        ref = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8")).run({"x": x})["y"]
    finally:
        int8rt.set_max_isa(None)
    fast = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8")).run({"x": x})["y"]
    np.testing.assert_array_equal(fast, ref)


def test_float_model_without_calibrator_is_refused() -> None:
    with pytest.raises(ValueError, match="calibrator"):
        int8rt.build_engine(_float_model().SerializeToString(), int8rt.BuilderConfig(precision="int8"))


def test_nncf_model_runs_int8() -> None:
    """NNCF's QDQ export: symmetric int8 pairs, uint8 zero-point-0 pairs after
    the ReLUs, 7-bit weights in the first conv (NNCF's overflow fix), float
    logits. Every Conv, the Add, the pooling and the Gemm run in int8, with
    NNCF's own weights (LoweringOptions::weight_scales; int8rt's amax / 127
    would re-quantize the 7-bit ones). Against ONNX Runtime running the Q/DQ
    nodes literally (graph optimizations off) the int8 tensors agree but for
    rounding ties; the float logits then differ by float rounding: 1e-4 of the
    largest."""
    nncf = pytest.importorskip("nncf")
    calib = [RNG.standard_normal((2, 3, 12, 12)).astype(F32) for _ in range(4)]
    model = nncf.quantize(_float_model(), nncf.Dataset(calib, lambda x: {"x": x}), subset_size=8).SerializeToString()
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8"))
    ops = [layer["op"] for layer in engine.layers()]
    assert ops.count("int8rt.QConv") == 3 and {"int8rt.QGemm", "int8rt.QAdd"} <= set(ops) and "Conv" not in ops, ops
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    spec = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = RNG.standard_normal((3, 3, 12, 12)).astype(F32)
    want = spec.run(None, {"x": x})[0]
    assert np.abs(engine.run({"x": x})["y"] - want).max() <= 1e-4 * np.abs(want).max()


def test_cli_builds_it_without_calibration_data(qdq_model, tmp_path, capsys) -> None:
    from int8rt.cli import main
    model, _ = qdq_model
    (tmp_path / "m.onnx").write_bytes(model)
    assert main(["build", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "m.i8rt"), "--no-progress"]) == 0
    assert "WARNING" not in capsys.readouterr().out  # no "calibration scales" warning: the model has its own
    x = RNG.standard_normal((2, 3, 12, 12)).astype(F32)
    loaded = int8rt.Engine.load(tmp_path / "m.i8rt")
    built = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8"))
    np.testing.assert_array_equal(loaded.run({"x": x})["y"], built.run({"x": x})["y"])


@pytest.mark.parametrize("activations", ["QUInt8", "QInt8"])
def test_concat_with_zero_points_runs_int8(activations: str, tmp_path) -> None:
    """Concat of a Conv+Relu and a Conv whose int8 forms carry different scales and zero points: an
    int8rt.QConcat rescales each input to the output's scale and zero point (one rounding of
    (q - z_in) * s_in / s_out + z_out, kernels::ref::rescale_value_zp) where the model's DQ -> Concat -> Q
    rounds (q - z_in) * s_in / s_out: equal but for float-rounding ties, within one output step."""
    def w(*shape: int) -> np.ndarray:
        return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w1", w(8, 3, 3, 3)), ("b1", RNG.standard_normal(8).astype(F32)),
        ("w2", w(6, 3, 1, 1)), ("b2", RNG.standard_normal(6).astype(F32) + 1),
        ("w3", w(5, 14, 3, 3)), ("b3", np.zeros(5, F32))]]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["x", "w2", "b2"], ["c2"]),
             helper.make_node("Concat", ["r1", "c2"], ["cat"], axis=1),
             helper.make_node("Conv", ["cat", "w3", "b3"], ["y"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "cat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5, 10, 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "f.onnx")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter([{"x": RNG.standard_normal((2, 3, 10, 10)).astype(F32)} for _ in range(4)])

        def get_next(self):  # noqa: ANN201 (onnxruntime's protocol)
            return next(self._batches, None)

    quantize_static(str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=getattr(QuantType, activations), weight_type=QuantType.QInt8)
    model = (tmp_path / "q.onnx").read_bytes()
    inits_q = {i.name: numpy_helper.to_array(i) for i in onnx.load_from_string(model).graph.initializer}
    zero_points = {inits_q[f"{t}_zero_point"].item() for t in ("r1", "c2", "cat")}
    assert len(zero_points) > 1, zero_points  # the inputs are rescaled, not copied
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8"))
    ops = [layer["op"] for layer in engine.layers()]
    assert "int8rt.QConcat" in ops and "Concat" not in ops, ops
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    spec = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = RNG.standard_normal((3, 3, 10, 10)).astype(F32)
    steps = np.abs(engine.run({"x": x})["y"] - spec.run(None, {"x": x})[0]) / _output_scale(model)
    assert steps.max() <= 1.0 + 1e-4 and (steps > 1e-3).mean() <= 0.01, steps.max()
