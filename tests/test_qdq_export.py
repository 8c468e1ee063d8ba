"""int8rt.export_qdq: Q/DQ ONNX export checked against int8rt's own INT8
engine (through ONNX Runtime), its structure, the weight formula (exactly
int8rt's quant::quantize_weights_per_channel), scale sources, missing scales and atomic writing."""
from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt._qdq_graph import quantize_weights  # noqa: E402
from int8rt.data_calibrator import make_calibrator  # noqa: E402
from int8rt.quickstart import DATA_PATH, MODEL_PATH  # noqa: E402

from _ort_oracle import qdq_session  # noqa: E402
from onnx_models import conv_net  # noqa: E402

POOL_IN, POOL_OUT = "/pointwise/pointwise.2/Clip_output_0", "/pool/MaxPool_output_0"
N_ACTIVATIONS = 10  # tensors int8rt holds in int8 in the digits engine (the residual Add is fused into a conv)
N_WEIGHTS = 8       # 7 Conv + 1 Gemm


class CacheCalibrator(int8rt.IInt8EntropyCalibrator2):
    """Hands int8rt a fixed cache, so the build uses exactly these scales."""

    def __init__(self, cache: bytes) -> None:
        super().__init__()
        self.cache = cache

    def get_batch_size(self) -> int:
        return 32

    def get_batch(self, names):
        raise AssertionError("the cache should have skipped calibration")

    def read_calibration_cache(self) -> bytes:
        return self.cache

    def write_calibration_cache(self, cache: bytes) -> None:
        pass


@pytest.fixture(scope="module")
def data():
    return np.load(DATA_PATH)


@pytest.fixture(scope="module")
def calibrated(data):
    """An INT8 engine calibrated like the quickstart, and its cache."""
    cal = make_calibrator({"input": data["calib"]}, algorithm="entropy", batch_size=32)
    written = []
    cal.write_calibration_cache = written.append
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal))
    return engine, written[0]


@pytest.fixture(scope="module")
def tied(calibrated):
    """The calibrated scales with the max-pool output's scale set to its input's,
    and the int8rt engine built from them.

    int8rt's QMaxPool keeps its input's scale (exact) and so does the
    export; tying the two scales checks that a cache whose pool scales are
    already equal (as TensorRT writes them) exports and runs the same way.
    """
    scales = calibrated[0].scales()
    scales[POOL_OUT] = scales[POOL_IN]
    cache = int8rt.calib.write_cache(scales)
    return scales, int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=CacheCalibrator(cache)))


def _ort(path, x) -> np.ndarray:
    return qdq_session(str(path)).run(None, {"input": x})[0]


def _agreement(path, engine, scales, data):
    ort_logits = _ort(path, data["test_x"])
    ours = engine.run({"input": data["test_x"]})["logits"]
    return ort_logits, ours, float(np.abs(ort_logits - ours).max()), float(np.mean(
        ort_logits.argmax(1) == ours.argmax(1)))


# Bound on |ORT-QDQ logits - int8rt INT8 logits|: one step of the logits'
# calibrated output scale (~0.106). ORT runs these Q/DQ convolutions as float
# Conv on dequantized values, then BatchNormalization (not folded), with float
# accumulation, while int8rt folds BN into the weights before quantizing and
# accumulates in int32; per-channel scales commute with BN's per-channel
# factor, so the two differ only by float rounding, which now and then moves
# an intermediate value across a rounding boundary of the next Q (one step
# of that tensor's scale). Measured: max 0.052, mean 8e-5, argmax 540/540.
LOGIT_BOUND_STEPS = 1.0


def test_ort_matches_engine(tmp_path, tied, data):
    scales, engine = tied
    out = tmp_path / "digits_qdq.onnx"
    int8rt.export_qdq(MODEL_PATH, scales, out)
    ort_logits, _, max_diff, agree = _agreement(out, engine, scales, data)
    assert max_diff <= LOGIT_BOUND_STEPS * scales["logits"], max_diff
    assert agree >= 0.99, agree
    fp32 = _ort(MODEL_PATH, data["test_x"])
    top1 = lambda logits: 100.0 * np.mean(logits.argmax(1) == data["test_y"])  # noqa: E731
    assert abs(top1(ort_logits) - top1(fp32)) <= 1.0, (top1(ort_logits), top1(fp32))


def test_ort_matches_engine_with_calibrated_scales(tmp_path, calibrated, data):
    engine, _ = calibrated
    scales = engine.scales()
    assert scales[POOL_OUT] != scales[POOL_IN]
    out = tmp_path / "digits_qdq.onnx"
    int8rt.export_qdq(MODEL_PATH, scales, out)
    _, _, max_diff, agree = _agreement(out, engine, scales, data)
    assert max_diff <= LOGIT_BOUND_STEPS * scales["logits"] and agree >= 0.99


def _inits(m):
    return {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}


def test_structure(tmp_path, tied):
    scales, _ = tied
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(MODEL_PATH, scales, out)
    m = onnx.load(out)
    onnx.checker.check_model(m)
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= 13
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops["QuantizeLinear"] == N_ACTIVATIONS
    assert ops["DequantizeLinear"] == N_ACTIVATIONS + N_WEIGHTS
    inits, producer = _inits(m), {o: n for n in m.graph.node for o in n.output}
    quantized = set()
    for n in m.graph.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        zp = inits[n.input[2]]
        assert zp.dtype == np.int8 and not zp.any(), n.name
        if n.op_type == "QuantizeLinear":
            src = n.input[0]
            src = src[: -len("_float")] if src.endswith("_float") else src
            quantized.add(src)
            expect = scales[POOL_IN] if src == POOL_OUT else scales[src]
            assert inits[n.input[1]] == np.float32(expect) and inits[n.input[1]].shape == (), src
    assert quantized == {"input", "/stem/stem.2/Relu_output_0", "/depthwise/depthwise.2/Relu_output_0", POOL_IN,
                         POOL_OUT, "/Concat_output_0", "/res1/res1.2/Relu_output_0",
                         # (res2's conv output is not here: the residual Add is fused into that
                         # conv, so int8rt never holds it in int8)
                         "/relu/Relu_output_0",
                         "/gap/GlobalAveragePool_output_0", "/Flatten_output_0"}
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm"):
            dq = producer[n.input[1]]
            assert dq.op_type == "DequantizeLinear", n.name
            axis = next(a.i for a in dq.attribute if a.name == "axis")
            q, s = inits[dq.input[0]], inits[dq.input[1]]
            assert axis == 0 and q.dtype == np.int8 and s.shape == (q.shape[0],), n.name  # OIHW; Gemm transB=1
            assert int(np.abs(q.astype(np.int16)).max()) == 127
    assert not any(name.endswith(".0.weight") or name == "fc.weight" for name in inits)  # float weights gone


def test_weights_are_int8rts(tied):
    """quantize_weights reproduces the engine's int8 weights and scales exactly,
    given the weights the engine quantized (BN folded by int8rt's passes)."""
    scales, _ = tied
    network = int8rt.onnx.import_model(str(MODEL_PATH))
    builder = _core.Builder(network, "int8", {}, True)
    optimized = builder.optimized_network()
    lowered = builder.build(scales).network()
    tensors = lowered.tensors()
    checked = 0
    for n in lowered.nodes():
        if n["op"] not in ("int8rt.QConv", "int8rt.QGemm"):
            continue
        wq = tensors[n["inputs"][1]]["name"]
        w = optimized.constant_data(optimized.find_tensor(wq[: -len("::int8")]))
        q, s = quantize_weights(w, 0)
        assert np.array_equal(q.reshape(-1), lowered.constant_data(n["inputs"][1]).reshape(-1)), n["name"]
        assert np.array_equal(s, np.asarray(n["attrs"]["w_scales"], dtype=np.float32)), n["name"]
        checked += 1
    assert checked == 7  # 6 QConv (two branches merged) + 1 QGemm


def test_quantize_weights_rules():
    w = np.array([[0.0, 0.0, 0.0], [1.27, -0.635, 0.0064], [2.54, -1.27, 0.01]], dtype=np.float32)
    q, s = quantize_weights(w, 0)
    assert s[0] == 1.0  # all-zero channel
    assert np.array_equal(s[1:], np.array([1.27, 2.54], np.float32) / np.float32(127))
    assert np.array_equal(q, np.rint(w / s[:, None]).astype(np.int8))  # half to even, float32 division
    assert np.array_equal(q[1], [127, -64, 1]) and np.array_equal(q[2], [127, -64, 0])  # -63.5 -> -64, 0.5 -> 0
    qt, st = quantize_weights(w, None)
    assert st.shape == () and st == np.float32(2.54) / np.float32(127)


def test_scales_from_cache_path_bytes_and_text(tmp_path, calibrated):
    engine, cache = calibrated
    ref = tmp_path / "dict.onnx"
    int8rt.export_qdq(MODEL_PATH, int8rt.calib.read_cache(cache)[2], ref)
    cache_file = tmp_path / "digits.cache"
    cache_file.write_bytes(cache)
    for i, source in enumerate([cache_file, str(cache_file), cache, cache.decode()]):
        out = tmp_path / f"{i}.onnx"
        int8rt.export_qdq(str(MODEL_PATH), source, out)
        assert out.read_bytes() == ref.read_bytes(), type(source)
    with pytest.raises(FileNotFoundError, match="nope.cache"):
        int8rt.export_qdq(MODEL_PATH, str(tmp_path / "nope.cache"), tmp_path / "x.onnx")


def test_missing_scale_leaves_tensor_and_layer_float(tmp_path, tied):
    scales, _ = tied
    scales = dict(scales)
    # Without these two scales int8rt runs the global pooling in float, so the
    # Flatten (which stays int8 only on an int8 [N, C, 1, 1] input) and the
    # Gemm run in float too.
    del scales["/gap/GlobalAveragePool_output_0"]
    del scales["/Flatten_output_0"]
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(MODEL_PATH, scales, out)
    m = onnx.load(out)
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops["QuantizeLinear"] == N_ACTIVATIONS - 2
    assert ops["DequantizeLinear"] == N_ACTIVATIONS - 2 + N_WEIGHTS - 1
    gemm = next(n for n in m.graph.node if n.op_type == "Gemm")
    assert list(gemm.input[:2]) == ["/Flatten_output_0", "fc.weight"]


def test_fp32_layers_and_errors(tmp_path, tied):
    scales, _ = tied
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(MODEL_PATH, scales, out, fp32_layers=["/fc/Gemm"])
    gemm = next(n for n in onnx.load(out).graph.node if n.op_type == "Gemm")
    assert gemm.input[1] == "fc.weight"
    with pytest.raises(int8rt.InvalidArgumentError, match="no layer '/nope'"):
        int8rt.export_qdq(MODEL_PATH, scales, tmp_path / "a.onnx", fp32_layers=["/nope"])
    with pytest.raises(int8rt.InvalidArgumentError, match="no layer runs in int8"):
        int8rt.export_qdq(MODEL_PATH, {"other_model_tensor": 0.1}, tmp_path / "b.onnx")
    assert sorted(os.listdir(tmp_path)) == ["q.onnx"]


def test_per_tensor_weights(tmp_path, tied):
    scales, _ = tied
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(MODEL_PATH, scales, out, per_channel=False)
    m = onnx.load(out)
    inits = _inits(m)
    weight_dqs = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None]
    assert len(weight_dqs) == N_WEIGHTS
    for dq in weight_dqs:
        assert inits[dq.input[1]].shape == () and not any(a.name == "axis" for a in dq.attribute)


def test_atomic_write(tmp_path, tied, monkeypatch):
    scales, _ = tied
    out = tmp_path / "q.onnx"
    out.write_bytes(b"old")

    def fail(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(int8rt.qdq_export.os, "replace", fail)
    with pytest.raises(OSError, match="simulated"):
        int8rt.export_qdq(MODEL_PATH, scales, out)
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["q.onnx"]
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError):
        int8rt.export_qdq(MODEL_PATH, scales, tmp_path / "missing_dir" / "q.onnx")
    assert os.listdir(tmp_path) == ["q.onnx"]


def _small_net(op: str, trans_b: int = 0) -> onnx.ModelProto:
    """x[N, 16] -> {MatMul W[16, 6] | Gemm (W[16, 6] or, transB, [6, 16])} -> Relu -> Gemm -> y[N, 3]."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w1 = rng.standard_normal((6, 16) if trans_b else (16, 6)).astype(np.float32) * 0.4
    w2 = rng.standard_normal((3, 6)).astype(np.float32) * 0.4
    first = (helper.make_node("MatMul", ["x", "w1"], ["h"], name="first") if op == "MatMul" else
             helper.make_node("Gemm", ["x", "w1"], ["h"], name="first", transB=trans_b))
    nodes = [first, helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2"], ["y"], name="second", transB=1)]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                              [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("op,trans_b,axis", [("MatMul", 0, 1), ("Gemm", 0, 1), ("Gemm", 1, 0)])
def test_matmul_gemm_weight_axis(tmp_path, op, trans_b, axis):
    model = _small_net(op, trans_b)
    x = np.random.default_rng(3).standard_normal((64, 16)).astype(np.float32)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=make_calibrator({"x": x}, algorithm="minmax")))
    scales = engine.scales()
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(model, scales, out)
    m = onnx.load(out)
    inits, producer = _inits(m), {o: n for n in m.graph.node for o in n.output}
    first = next(n for n in m.graph.node if n.name == "first")
    dq = producer[first.input[1]]
    assert next(a.i for a in dq.attribute if a.name == "axis") == axis
    assert inits[dq.input[1]].shape == (6,)
    w1 = onnx.numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "w1"))
    q, s = quantize_weights(w1, axis)
    assert np.array_equal(inits[dq.input[0]], q) and np.array_equal(inits[dq.input[1]], s)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=CacheCalibrator(
        int8rt.calib.write_cache(scales))))
    ours = engine.run({"x": x})["y"]
    theirs = qdq_session(str(out)).run(None, {"x": x})[0]
    # Same bound as the digits test: one step of the output's scale (float vs int32 accumulation).
    assert np.abs(ours - theirs).max() <= scales["y"], np.abs(ours - theirs).max()


def test_old_opset_is_converted(tmp_path):
    model = conv_net(opset=11)
    x = np.random.default_rng(5).standard_normal((16, 3, 8, 8)).astype(np.float32)
    scales = {name: 0.05 for name in [i.name for i in model.graph.input] + [o for n in model.graph.node
                                                                              for o in n.output]}
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(model.SerializeToString(), scales, out)
    m = onnx.load(out)
    assert next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) == 13
    assert any(n.op_type == "QuantizeLinear" for n in m.graph.node)
    ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})


def test_int8_graph_output_and_float_reader(tmp_path):
    """An int8-produced tensor that is also a graph output keeps its name (the
    DequantizeLinear writes it); a quantized input read by a float layer too
    reaches that layer unquantized, as in int8rt."""
    from onnx import helper

    model = conv_net()
    model.graph.node.append(helper.make_node("Sigmoid", ["input"], ["side"], name="side"))
    model.graph.output.extend([onnx.helper.make_tensor_value_info("relu_out", onnx.TensorProto.FLOAT, ["N", 8, 8, 8]),
                               onnx.helper.make_tensor_value_info("side", onnx.TensorProto.FLOAT, ["N", 3, 8, 8])])
    x = np.random.default_rng(11).standard_normal((64, 3, 8, 8)).astype(np.float32)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=make_calibrator({"input": x},
                                                                                         algorithm="minmax")))
    scales = engine.scales()
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(model, scales, out)
    m = onnx.load(out)
    assert [o.name for o in m.graph.output] == ["logits", "relu_out", "side"]
    producer = {o: n for n in m.graph.node for o in n.output}
    assert producer["relu_out"].op_type == "DequantizeLinear"
    assert next(n for n in m.graph.node if n.name == "side").input[0] == "input"
    assert producer[next(n for n in m.graph.node if n.name == "conv").input[0]].op_type == "DequantizeLinear"
    theirs = dict(zip(["logits", "relu_out", "side"],
                      ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})))
    ours = engine.run({"input": x})
    # int8 values may differ by one step where float rounding crosses a boundary (see LOGIT_BOUND_STEPS).
    assert np.abs(ours["relu_out"] - theirs["relu_out"]).max() <= scales["relu_out"] * 1.0001
    assert np.abs(ours["logits"] - theirs["logits"]).max() <= scales["logits"]
    np.testing.assert_allclose(ours["side"], theirs["side"], rtol=0, atol=1e-6)  # float sigmoid of the float input


@pytest.mark.parametrize("group", [1, 2])
def test_conv_transpose_weights(tmp_path, group):
    """A ConvTranspose's weights [C, M/group, k, k] get a per-axis DequantizeLinear on axis 1 (group 1);
    a grouped one keeps float weights (its output channels span two axes)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    wc = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.4
    wt = rng.standard_normal((4, 6 // group, 2, 2)).astype(np.float32) * 0.4
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("ConvTranspose", ["c", "wt"], ["y"], name="up", strides=[2, 2], group=group)]
    graph = helper.make_graph(nodes, "ct", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, 12, 12])],
                              [numpy_helper.from_array(wc, "wc"), numpy_helper.from_array(wt, "wt")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = rng.standard_normal((32, 3, 6, 6)).astype(np.float32)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=make_calibrator({"x": x}, algorithm="minmax")))
    assert "int8rt.QConvTranspose" in [layer["op"] for layer in engine.layers()]
    scales = engine.scales()
    out = tmp_path / "q.onnx"
    int8rt.export_qdq(model, scales, out)
    m = onnx.load(out)
    inits, producer = _inits(m), {o: n for n in m.graph.node for o in n.output}
    up = next(n for n in m.graph.node if n.name == "up")
    if group == 2:
        assert up.input[1] == "wt" and "wt" in inits
        return
    dq = producer[up.input[1]]
    assert dq.op_type == "DequantizeLinear" and next(a.i for a in dq.attribute if a.name == "axis") == 1
    q, s = quantize_weights(wt, 1)
    assert np.array_equal(inits[dq.input[0]], q) and np.array_equal(inits[dq.input[1]], s)
    ours = engine.run({"x": x})["y"]
    theirs = qdq_session(str(out)).run(None, {"x": x})[0]
    # The engine's output is int8 at scales["y"], dequantized; ORT's is float: one step apart at most.
    assert np.abs(ours - theirs).max() <= scales["y"], np.abs(ours - theirs).max()
