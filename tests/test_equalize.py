"""Cross-layer equalization and SmoothQuant (int8rt/accuracy/equalize.py,
smoothquant.py): the float32 network's outputs stay equal within float
rounding, the rewrite happens where it should and not elsewhere, and INT8
gets closer to FP32 on networks built to need it."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _core
from int8rt.accuracy import equalize, smoothquant
from int8rt.accuracy.metrics import relative_l2


def _model(nodes, inits, x_shape, y_shape, opset=17) -> bytes:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def separable_cnn(seed: int = 0, act: str = "Relu") -> bytes:
    """conv 3x3 (8 ch, ReLU) -> depthwise 3x3 (ReLU) -> pointwise 1x1 (16) ->
    conv 3x3 (4); the first conv's channels span 1e-2..1e1 in scale and the
    depthwise conv undoes it, so the two intermediate tensors have very
    uneven channel ranges while the function is an ordinary one."""
    rng = np.random.default_rng(seed)
    spread = np.geomspace(1e-2, 1e1, 8).astype(np.float32)
    w1 = rng.normal(0, 0.3, (8, 3, 3, 3)) * spread[:, None, None, None]
    b1 = rng.normal(0, 0.1, 8) * spread
    w2 = rng.normal(0, 0.3, (8, 1, 3, 3)) / spread[:, None, None, None]
    w3 = rng.normal(0, 0.3, (16, 8, 1, 1))
    w4 = rng.normal(0, 0.2, (4, 16, 3, 3))
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node(act, ["c1"], ["r1"]) if act else helper.make_node("Identity", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3"], ["c3"]),
             helper.make_node("Conv", ["c3", "w4"], ["y"], pads=[1, 1, 1, 1])]
    if act == "Clip":
        nodes[1] = helper.make_node("Clip", ["c1", "lo", "hi"], ["r1"])
    inits = dict(w1=w1, b1=b1, w2=w2, w3=w3, w4=w4)
    if act == "Clip":
        inits.update(lo=np.array(0.0), hi=np.array(6.0))
    return _model(nodes, inits, [None, 3, 12, 12], [None, 4, 12, 12])


def _fp32_outputs(model: bytes, x: np.ndarray, rewrite=None) -> np.ndarray:
    builder = _core.Builder(int8rt.onnx.import_model(model), precision="fp32")
    if rewrite is not None:
        rewrite(builder)
    engine = builder.build({})
    return next(iter(engine.create_execution_context().run({"x": x}).values()))


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, 3, 12, 12)).astype(np.float32)


def test_equalization_keeps_the_fp32_outputs():
    model = separable_cnn()
    x = _images(8, 1)
    counted = []
    ref = _fp32_outputs(model, x)
    got = _fp32_outputs(model, x, lambda b: counted.append(equalize.equalize_network(b)))
    assert [sorted(c) for c in counted] == [["c3", "r1", "r2"]]  # conv -> dw, dw -> pw, pw -> conv (no activation)
    # Float32 rounding of rescaled weights: relative error of a few ulps per product.
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * float(np.abs(ref).max()))


def test_equalization_evens_the_channel_ranges():
    model = separable_cnn()
    builder = _core.Builder(int8rt.onnx.import_model(model), precision="fp32")
    before = [np.abs(builder.optimized_network().constant_data(builder.optimized_network().node(0)["inputs"][1]))]
    equalize.equalize_network(builder)
    net = builder.optimized_network()
    first = [n for n in net.nodes() if n["op"] == "Conv"][0]
    after = np.abs(net.constant_data(first["inputs"][1]))
    spread_before = before[0].reshape(8, -1).max(1)
    spread_after = after.reshape(8, -1).max(1)
    assert spread_before.max() / spread_before.min() > 100
    assert spread_after.max() / spread_after.min() < spread_before.max() / spread_before.min() / 10


@pytest.mark.parametrize("act", ["Clip", "Sigmoid"])
def test_equalization_leaves_non_homogeneous_activations_alone(act):
    # ReLU6 (Clip 0..6) and sigmoid do not commute with a per-channel scale:
    # the first conv is not paired (the dw -> pw and pw -> conv pairs still are).
    model = separable_cnn(act=act)
    builder = _core.Builder(int8rt.onnx.import_model(model), precision="fp32")
    pairs = equalize.find_pairs(builder.optimized_network())
    nodes = builder.optimized_network().nodes()
    assert len(pairs) == 2
    assert all(nodes[p.first]["op"] == "Conv" and p.first != 0 for p in pairs)
    x = _images(4, 3)
    np.testing.assert_allclose(_fp32_outputs(model, x, equalize.equalize_network), _fp32_outputs(model, x),
                               rtol=1e-4, atol=1e-5)


def _int8_error(model: bytes, calib: np.ndarray, x: np.ndarray, **options) -> float:
    ref = _fp32_outputs(model, x)
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(channel_activations=False, 
        calibrator=int8rt.make_calibrator({"x": calib}, algorithm="minmax", batch_size=16),
        accuracy_check=False, **options))
    out = next(iter(engine.create_execution_context().run({"x": x}).values()))
    return relative_l2(ref, out)


def test_equalization_brings_int8_closer_to_fp32():
    model = separable_cnn()
    calib, x = _images(64, 5), _images(32, 6)
    off = _int8_error(model, calib, x, equalize=False)
    on = _int8_error(model, calib, x, equalize=True)
    assert on < 0.5 * off, (on, off)


def outlier_linear(seed: int = 0) -> bytes:
    """h = x * g [N, 6, 32] (4 channels 40x wider) -> MatMul [32, 24] -> ReLU
    -> MatMul [24, 32] -> + 0.05 h. h's other reader (the Mul of the
    residual branch) must keep reading h; the residual is small so that its
    own int8 error (which smoothing does not touch) does not hide the MatMuls'."""
    rng = np.random.default_rng(seed)
    g = np.ones(32, np.float32)
    g[[3, 10, 17, 30]] = 40.0
    w = rng.normal(0, 0.2, (32, 24))
    w_back = rng.normal(0, 0.2, (24, 32))
    nodes = [helper.make_node("Mul", ["x", "g"], ["h"]),
             helper.make_node("MatMul", ["h", "w"], ["m"]),
             helper.make_node("Relu", ["m"], ["r"]),
             helper.make_node("MatMul", ["r", "w_back"], ["p"]),
             helper.make_node("Mul", ["h", "c"], ["hs"]),
             helper.make_node("Add", ["p", "hs"], ["y"])]
    return _model(nodes, dict(g=g, w=w, w_back=w_back, c=np.array(0.05)), [None, 6, 32], [None, 6, 32])


def _tokens(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, 6, 32)).astype(np.float32)


def test_smoothquant_keeps_the_fp32_outputs_and_other_readers():
    model = outlier_linear()
    x = _tokens(8, 1)
    sites = []

    def rewrite(builder):
        sites.append(smoothquant.smooth(builder, {"x": _tokens(16, 2)}))
        net = builder.optimized_network()
        muls = [n for n in net.nodes() if n["op"] == "Mul" and n["name"].endswith("::smooth")]
        assert len(muls) == 2  # h (read by the first MatMul) and r (read by the second)
        residual = [n for n in net.nodes() if n["op"] == "Mul" and not n["name"].endswith("::smooth")
                    and net.tensor(n["inputs"][1])["is_constant"] and net.tensor(n["inputs"][1])["shape"] in ([], [1])]
        assert [net.tensor(n["inputs"][0])["name"] for n in residual] == ["h"]  # not h::smoothed

    got = _fp32_outputs(model, x, rewrite)
    assert sites == [2]
    ref = _fp32_outputs(model, x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))


def test_smoothquant_brings_int8_closer_to_fp32_and_reads_every_batch():
    model = outlier_linear()
    calib, x = _tokens(96, 3), _tokens(32, 4)
    off = _int8_error(model, calib, x, smoothquant=False)
    on = _int8_error(model, calib, x, smoothquant=True)
    # Measured 0.023 vs 0.032 (alpha 0.3..0.9 all 0.023-0.025: what is left
    # is the weights' and the later tensors' own rounding).
    assert on < 0.8 * off, (on, off)
    # The prefetched batches are replayed: the calibration sees all 96 samples.
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(channel_activations=False, 
        calibrator=int8rt.make_calibrator({"x": calib}, algorithm="minmax", batch_size=16), smoothquant=True))
    assert engine.build_report().calibration_batches == 6


def test_smoothquant_default_follows_the_network():
    assert smoothquant.find_sites(_core.Builder(int8rt.onnx.import_model(outlier_linear())).optimized_network())
    assert not smoothquant.find_sites(_core.Builder(int8rt.onnx.import_model(separable_cnn())).optimized_network())


def test_equalization_skips_a_conv_with_a_fused_residual():
    # relu(conv(x) + x) -> conv: the skip x is not scaled with the conv's
    # weights, so the first conv cannot be equalized (PP-OCR cls has these).
    rng = np.random.default_rng(4)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c1", "x"], ["s"]),
             helper.make_node("Relu", ["s"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["y"], pads=[1, 1, 1, 1])]
    model = _model(nodes, dict(w1=rng.normal(0, 0.3, (3, 3, 3, 3)) * np.array([0.01, 1, 10])[:, None, None, None],
                               b1=rng.normal(0, 0.1, 3), w2=rng.normal(0, 0.3, (4, 3, 3, 3))),
                   [None, 3, 12, 12], [None, 4, 12, 12])
    builder = _core.Builder(int8rt.onnx.import_model(model), precision="fp32")
    convs = [n for n in builder.optimized_network().nodes() if n["op"] == "Conv"]
    assert "int8rt_residual" in convs[0]["attrs"]  # the pass fused the add, as in the real networks
    assert equalize.find_pairs(builder.optimized_network()) == []
    x = _images(4, 7)
    np.testing.assert_allclose(_fp32_outputs(model, x, equalize.equalize_network), _fp32_outputs(model, x))


def test_cli_flags_and_compare_on_an_equalized_engine(tmp_path, capsys):
    # --equalize with a TensorRT calibrator (off by default there); the
    # engine lists the rescaled tensors, and int8rt compare divides the
    # model's values by the same factors, so every tensor stays healthy.
    from int8rt.accuracy.compare import compare
    from int8rt.accuracy.equalize import RESCALED_KEY
    from int8rt.cli import main

    model, calib, engine = tmp_path / "m.onnx", tmp_path / "calib.npz", tmp_path / "m.i8rt"
    model.write_bytes(separable_cnn())
    np.savez(calib, x=_images(64, 8))
    for flag, rescaled in (("--equalize", True), ("--no-equalize", False)):
        assert main(["build", str(model), "--calib-data", str(calib), "--calibrator", "minmax", flag,
                     "--no-smoothquant", "-o", str(engine), "--no-progress"]) == 0
        loaded = int8rt.Engine.load(engine)
        assert (RESCALED_KEY in loaded.metadata) == rescaled
    capsys.readouterr()
    built = int8rt.build_engine(model.read_bytes(), int8rt.BuilderConfig(channel_activations=False, 
        calibrator=int8rt.make_calibrator({"x": _images(64, 8)}, algorithm="minmax"), equalize=True))
    rows = {r.name: r for r in compare(model.read_bytes(), built, {"x": _images(16, 9)})}
    assert {"r1", "r2", "c3"} <= set(rows)
    assert all(rows[n].sqnr_db > 25 for n in ("r1", "r2", "c3")), {n: rows[n].sqnr_db for n in rows}


def test_auto_equalizes_where_its_held_out_samples_show_it_helps():
    """With ``equalize=None`` (the default) the auto calibrator tries
    cross-layer equalization after its choice and keeps it on a network
    built to need it (channel ranges 1e-2..1e1 between two convs), says so
    in the build report, and the engine carries the rescaled tensors."""
    model = separable_cnn()
    calib, x = _images(64, 5), _images(32, 6)
    ref = _fp32_outputs(model, x)

    def build(**options) -> int8rt.Engine:
        return int8rt.build_engine(model, int8rt.BuilderConfig(channel_activations=False, 
            calibrator=int8rt.make_calibrator({"x": calib}, algorithm="auto", batch_size=16),
            accuracy_check=False, **options))

    auto, off = build(), build(equalize=False)
    choice = auto.build_report().auto_choice
    assert choice["equalization"].startswith("on (auto"), choice
    assert choice["errors"]["equalization on"] < choice["errors"]["equalization off"]
    assert equalize.RESCALED_KEY in auto.metadata
    err = {k: relative_l2(ref, next(iter(e.create_execution_context().run({"x": x}).values())))
           for k, e in (("auto", auto), ("off", off))}
    assert err["auto"] < 0.7 * err["off"], err
    assert off.build_report().auto_choice["equalization"] == "off (BuilderConfig)"


def test_auto_bins_the_rescaled_tensors_in_the_calibration_pass():
    """The equalization trial's rescaled tensors are binned from every batch
    of the calibration pass (accuracy/rescaled.py: the builder's rows divided
    by the weight-only factors): their histograms give the thresholds of an
    equalized network calibrated on the same samples, to float rounding
    (minmax amax within 1e-5 relative: the rescaled weights are rounded to
    float32), and the report says the thresholds came from every sample."""
    from int8rt.accuracy.rescaled import RescaledHistograms
    from int8rt.calib import Collector

    model = separable_cnn()
    calib = _images(48, 5)
    network = int8rt.onnx.import_model(model)
    builder = _core.Builder(network, precision="int8")
    rescaled = RescaledHistograms.for_network(builder, builder.optimized_network(), set(),
                                              lambda: Collector("minmax"))
    assert rescaled is not None and rescaled.factors
    feed = rescaled.wrap(lambda b: builder.calibrate_batch(b, Collector("minmax")._native))
    for i in range(0, len(calib), 16):
        feed({"x": calib[i:i + 16]})
    assert rescaled.samples == len(calib) and not rescaled.failed
    equalized = _core.Builder(network, precision="int8")
    factors = equalize.equalize_network(equalized)
    assert rescaled.complete(factors)
    direct = Collector("minmax")
    for i in range(0, len(calib), 16):
        equalized.calibrate_batch({"x": calib[i:i + 16]}, direct._native)
    got, want = rescaled.collector.amaxes(), direct.amaxes()
    for name in factors:
        assert abs(got[name] - want[name]) <= 1e-5 * want[name], (name, got[name], want[name])
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(channel_activations=False, 
        calibrator=int8rt.make_calibrator({"x": calib}, algorithm="auto", batch_size=16), accuracy_check=False))
    assert "from all 48 samples of the pass" in engine.build_report().auto_choice["equalization"]
