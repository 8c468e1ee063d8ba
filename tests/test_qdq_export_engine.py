"""int8rt.export_qdq(model, engine, path): the Q/DQ export of a built INT8
engine, with each tensor's own grid (uint8 zero points for unsigned
activations, axis-1 scales for per-channel activation grids) and the weights
and biases the engine computes with (folded BatchNormalization, bias
correction, cross-layer equalization, per-channel input grids folded into a
Conv's weights), checked against the engine through ONNX Runtime.

The oracle is ONNX Runtime's CPU provider with graph optimizations off: it
runs the Q/DQ graph as the ONNX spec defines it (DequantizeLinear, the float
op, QuantizeLinear), not through its own int8 kernels, which would fuse only
some of the pairs (per-axis activation Q/DQ and uint8 next to int8 weights
take other paths) and on a CPU without VNNI compute some int8 sums wrongly
(tests/_ort_oracle.py). The engine computes the same quantized values in
integers; the two differ only where ONNX Runtime's float accumulation puts a
value on the other side of a rounding boundary of the next QuantizeLinear
(one step of that tensor), so every comparison below is bounded by one step
of the output's scale and the measured figures are written beside it.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import int8rt  # noqa: E402
from int8rt.data_calibrator import make_calibrator  # noqa: E402
from int8rt.quickstart import DATA_PATH, MODEL_PATH  # noqa: E402

from onnx_models import resnet_block  # noqa: E402
from test_channel_grids import SPREAD, X_EVAL, build, chain_model  # noqa: E402

F32 = np.float32


def spec_session(model) -> "ort.InferenceSession":
    """ONNX Runtime running the Q/DQ graph literally (module docstring)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])


def grids(m: "onnx.ModelProto") -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Quantized tensor -> (scale, zero point, axis or -99) of its QuantizeLinear."""
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear":
            src = n.input[0][: -len("_float")] if n.input[0].endswith("_float") else n.input[0]
            axis = next((a.i for a in n.attribute if a.name == "axis"), -99)
            out[src] = (inits[n.input[1]], inits[n.input[2]], axis)
    return out


@pytest.fixture(scope="module")
def digits():
    return np.load(DATA_PATH)


@pytest.fixture(scope="module")
def digits_auto(digits):
    cal = make_calibrator({"input": digits["calib"]}, algorithm="auto", batch_size=32)
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal))


# Measured (AMD EPYC Zen 3): max 0.032 = 0.31 step, mean 1.8e-4, argmax 540 / 540;
# the symmetric export from engine.scales(): max 0.45 = 4.4 steps.
def test_digits_auto_engine_reproduced(tmp_path, digits, digits_auto):
    engine = digits_auto
    out = tmp_path / "digits_engine_qdq.onnx"
    int8rt.export_qdq(MODEL_PATH, engine, out)
    x = digits["test_x"]
    ours = engine.run({"input": x})["logits"]
    theirs = spec_session(out).run(None, {"input": x})[0]
    step = engine.scales()["logits"]
    assert np.abs(theirs - ours).max() <= step, np.abs(theirs - ours).max() / step
    assert (theirs.argmax(1) == ours.argmax(1)).all()


def test_digits_auto_grids_weights_and_biases(tmp_path, digits_auto):
    """Every plan tensor's grid as the plan says (uint8 zero point z + 128 for
    z != 0), the BatchNormalizations the engine folded gone, and each Conv's
    bias the engine's (bias-corrected) one, bit for bit."""
    engine = digits_auto
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(MODEL_PATH, engine, out)
    m = onnx.load(out)
    onnx.checker.check_model(m)
    got = grids(m)
    plan = engine.int8_plan()
    assert set(got) == {t.tensor for t in plan.tensors}
    unsigned = 0
    for t in plan.tensors:
        scale, zero, axis = got[t.tensor]
        assert axis == -99 and scale.shape == () and scale == F32(t.scale), t.tensor
        if t.zero_point:
            unsigned += 1
            assert zero.dtype == np.uint8 and int(zero) == t.zero_point + 128, t.tensor
        else:
            assert zero.dtype == np.int8 and int(zero) == 0, t.tensor
    assert unsigned >= 7  # the auto engine's non-negative tensors (its report says 7)
    assert not [n for n in m.graph.node if n.op_type == "BatchNormalization"]
    lowered = engine._native.network()
    tensors = lowered.tensors()
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    convs = {n.name: n for n in m.graph.node if n.op_type in ("Conv", "Gemm")}
    checked = 0
    for node in lowered.nodes():
        if node["op"] in ("int8rt.QConv", "int8rt.QGemm") and node["name"] in convs:
            bias = np.asarray(lowered.constant_data(node["inputs"][2]), F32).reshape(-1)
            assert "corrected_bias" in tensors[node["inputs"][2]]["name"]  # the auto engine corrects them
            np.testing.assert_array_equal(inits[convs[node["name"]].input[2]], bias)
            checked += 1
    assert checked >= 6


# Measured: max 0.0 steps (every output value equal); the symmetric export: max 15 steps.
def test_channel_grids_reproduced(tmp_path):
    m = chain_model(SPREAD)
    engine = build(m)
    plan = {t.tensor: t for t in engine.int8_plan().tensors}
    assert plan["h1"].channel_scales and plan["h2"].channel_scales  # per-channel grids, as test_channel_grids
    out = tmp_path / "chain_qdq.onnx"
    int8rt.export_qdq(m, engine, out)
    ours = engine.run({"x": X_EVAL})["y"]
    theirs = spec_session(out).run(None, {"x": X_EVAL})[0]
    # y, the pointwise Conv's output and the network's, is written in float32 by the engine
    # (lower_int8_conv_head.cc): no int8 grid in the plan, no Q/DQ pair on it in the export.
    assert "y" not in plan
    step = engine.scales()["y"]  # y's calibrated step, the unit of the bound
    assert np.abs(theirs - ours).max() <= step
    assert np.mean(np.abs(theirs - ours) <= 1e-4 * step) >= 0.99  # measured: all, max 8.3e-6 steps
    q = onnx.load(out)
    got = grids(q)
    assert "y" not in got
    for name in ("c1", "h1", "d1", "h2"):
        scale, zero, axis = got[name]
        assert axis == 1 and zero.dtype == np.int8 and not zero.any(), name
        np.testing.assert_array_equal(scale, np.asarray(plan[name].channel_scales, F32))
    # The pointwise Conv reads h2 at scale 1 with h2's scales in its weights:
    # its dequantized weights are multiplied back by in_scale / s[c].
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    mul = next(n for n in q.graph.node if n.op_type == "Mul" and n.name.startswith("pw_"))
    np.testing.assert_array_equal(inits[mul.input[1]].reshape(-1),
                                  F32(1.0) / np.asarray(plan["h2"].channel_scales, F32))


# Measured: max 2.3e-5 steps; the symmetric export from engine.scales(): 1.8 steps.
def test_unsigned_resnet_block_reproduced(tmp_path):
    """Unnamed nodes (as many exporters write them), unsigned activations on."""
    m = resnet_block(np.random.default_rng(0), True).SerializeToString()
    x_cal = np.random.default_rng(1).uniform(-1, 1, (16, 3, 12, 12)).astype(F32)
    x = np.random.default_rng(2).uniform(-1, 1, (16, 3, 12, 12)).astype(F32)
    cal = int8rt.make_calibrator({"x": x_cal}, algorithm="minmax", batch_size=8)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, unsigned_activations=True,
                                                         accuracy_check=False))
    out = tmp_path / "block_qdq.onnx"
    int8rt.export_qdq(m, engine, out)
    ours = engine.run({"x": x})["y"]
    theirs = spec_session(out).run(None, {"x": x})[0]
    assert np.abs(theirs - ours).max() <= engine.scales()["y"]
    got = grids(onnx.load(out))
    unsigned = {t.tensor for t in engine.int8_plan().tensors if t.zero_point == -128}
    assert unsigned == {"r1", "r2", "p", "r3", "g", "f"}
    for name in unsigned:
        assert got[name][1].dtype == np.uint8 and int(got[name][1]) == 0, name


# Measured: max 0.031 = 0.32 step; the symmetric export from engine.scales(): 0.62 = 6.4 steps.
def test_equalized_and_bias_corrected_engine_reproduced(tmp_path, digits):
    """Cross-layer equalization rescales consecutive Convs' weights (and the
    tensor between them); bias correction shifts biases: the export carries
    both, so ONNX Runtime computes the engine's network, not the model's."""
    def build_digits(**config) -> int8rt.Engine:
        cal = make_calibrator({"input": digits["calib"]}, algorithm="entropy", batch_size=32)
        return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal, **config))

    def stem_w_scales(e: int8rt.Engine) -> np.ndarray:
        return next(np.asarray(n["attrs"]["w_scales"]) for n in e._native.network().nodes()
                    if n["name"] == "/stem/stem.0/Conv")

    engine = build_digits(equalize=True, bias_correction=True)
    assert engine.build_report().bias_corrected_layers == 7
    plain = build_digits(equalize=False, bias_correction=False)
    assert not np.allclose(stem_w_scales(engine), stem_w_scales(plain), rtol=0.1)  # equalized: rescaled weights
    out = tmp_path / "cle_qdq.onnx"
    int8rt.export_qdq(MODEL_PATH, engine, out)
    x = digits["test_x"]
    ours = engine.run({"input": x})["logits"]
    theirs = spec_session(out).run(None, {"input": x})[0]
    assert np.abs(theirs - ours).max() <= engine.scales()["logits"]


def test_engine_export_errors(tmp_path, digits_auto):
    with pytest.raises(int8rt.InvalidArgumentError, match="no int8 plan"):
        int8rt.export_qdq(MODEL_PATH, int8rt.Engine.deserialize(digits_auto.serialize()), tmp_path / "a.onnx")
    fp32 = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))
    with pytest.raises(int8rt.InvalidArgumentError, match="no int8 plan"):
        int8rt.export_qdq(MODEL_PATH, fp32, tmp_path / "b.onnx")
    with pytest.raises(int8rt.InvalidArgumentError, match="engine's own"):
        int8rt.export_qdq(MODEL_PATH, digits_auto, tmp_path / "c.onnx", per_channel=False)
    with pytest.raises(int8rt.InvalidArgumentError, match="engine's own"):
        int8rt.export_qdq(MODEL_PATH, digits_auto, tmp_path / "d.onnx", fp32_layers=["/fc/Gemm"])
    assert not list(tmp_path.iterdir())


def test_matmul_bias_add_computed_by_the_layer(tmp_path):
    """A MatMul + bias Add the engine runs as one int8 GEMM (its plan lists
    both nodes): the export gives the MatMul the engine's int8 weights and
    replaces the Add by one of the engine's bias (which a correction would
    have changed), not leaving the model's Add beside it."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("W1", (rng.standard_normal((16, 32)) * 0.3).astype(F32)), ("B1", rng.standard_normal(32).astype(F32)),
        ("W2", (rng.standard_normal((32, 8)) * 0.3).astype(F32)), ("k", np.array(0.5, F32))]]
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["m1"], name="mm1"),
             helper.make_node("Add", ["m1", "B1"], ["a1"], name="add1"),
             helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
             helper.make_node("MatMul", ["r1", "W2"], ["m2"], name="mm2"),
             helper.make_node("Mul", ["m2", "k"], ["y"], name="scale")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 8])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = rng.standard_normal((32, 5, 16)).astype(F32)
    cal = int8rt.make_calibrator({"x": x[:16]}, algorithm="minmax", batch_size=8)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))
    assert ["mm1", "add1"] in [list(layer.sources) for layer in engine.int8_plan().layers]
    lowered = engine._native.network()
    qgemm = next(n for n in lowered.nodes() if n["name"] == "mm1")
    bias = np.asarray(lowered.constant_data(qgemm["inputs"][2]), F32).reshape(-1)
    out = tmp_path / "mm_qdq.onnx"
    int8rt.export_qdq(m, engine, out)
    q = onnx.load(out)
    q_inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    adds = [n for n in q.graph.node if n.op_type == "Add"]
    assert [n.name for n in adds] == ["mm1_engine_bias_add"]
    np.testing.assert_array_equal(q_inits[adds[0].input[1]], bias)
    ours = engine.run({"x": x[16:]})["y"]
    theirs = spec_session(out).run(None, {"x": x[16:]})[0]
    assert np.abs(theirs - ours).max() <= engine.scales()["y"]


# Measured: max 0.039 = 0.40 step; the symmetric export from engine.scales(): 6.7 steps.
def test_float_layer_takes_the_engines_float_weights(tmp_path, digits):
    """A Conv the engine keeps in float32 (layer_precisions) with its
    BatchNormalization folded and its weights equalized: the export gives it
    the engine's float weights and bias and drops the BatchNormalization."""
    cal = make_calibrator({"input": digits["calib"]}, algorithm="entropy", batch_size=32)
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(
        calibrator=cal, equalize=True, layer_precisions={"/res1/res1.0/Conv": "fp32"}))
    assert "/res1/res1.0/Conv" not in {s for layer in engine.int8_plan().layers for s in layer.sources}
    out = tmp_path / "float_layer_qdq.onnx"
    int8rt.export_qdq(MODEL_PATH, engine, out)
    q = onnx.load(out)
    assert "/res1/res1.1/BatchNormalization" not in {n.name for n in q.graph.node}
    conv = next(n for n in q.graph.node if n.name == "/res1/res1.0/Conv")
    lowered = engine._native.network()
    twin = next(n for n in lowered.nodes() if n["name"] == "/res1/res1.0/Conv")
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    np.testing.assert_array_equal(inits[conv.input[1]].reshape(-1),
                                  np.asarray(lowered.constant_data(twin["inputs"][1]), F32).reshape(-1))
    x = digits["test_x"]
    ours = engine.run({"input": x})["logits"]
    theirs = spec_session(out).run(None, {"input": x})[0]
    assert np.abs(theirs - ours).max() <= engine.scales()["logits"], np.abs(theirs - ours).max()
