"""The INT8 build enters If branches (benchmarks/RESULTS.md §98): Silero VAD
imported with its sample rate an input is one Equal + If whose branch holds
the whole network. Calibration measures the tensors of the branch each batch
takes, named "<If>/<branch>/<tensor>" (in the histograms and the cache); each
measured branch is lowered on its own, float32 at its boundary; a branch no
batch took stays float32 and still runs. Here on a small model of that shape:
an If on a 0-d int64 input, three 1-D convolutions in each branch."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt.accuracy.metrics import centred_cosine  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

RNG = np.random.default_rng(47)
THEN, ELSE = "pick/then_branch/", "pick/else_branch/"


def _chain(tag: str, k: int, weights: list[str]) -> list[onnx.NodeProto]:
    """x -> Conv1d(k) -> Relu -> Conv1d(3) -> Relu -> Conv1d(1) -> <tag>y, reading x from the outer graph."""
    return [helper.make_node("Conv", ["x", weights[0]], [f"{tag}c1"], kernel_shape=[k], pads=[k // 2, k // 2],
                             name=f"{tag}conv1"),
            helper.make_node("Relu", [f"{tag}c1"], [f"{tag}r1"], name=f"{tag}relu1"),
            helper.make_node("Conv", [f"{tag}r1", weights[1]], [f"{tag}c2"], kernel_shape=[3], pads=[1, 1],
                             name=f"{tag}conv2"),
            helper.make_node("Relu", [f"{tag}c2"], [f"{tag}r2"], name=f"{tag}relu2"),
            helper.make_node("Conv", [f"{tag}r2", weights[2]], [f"{tag}y"], kernel_shape=[1], name=f"{tag}conv3")]


def rate_branches_model() -> onnx.ModelProto:
    """x [N, 4, T] and sr (int64, 0-d): If sr == 16000 then one conv chain, else another (wider kernel)."""
    then = helper.make_graph(_chain("t_", 3, ["w1", "w2", "w3"]), "at16k", [], [fvi("t_y", None)])
    other = helper.make_graph(_chain("e_", 5, ["v1", "v2", "v3"]), "other", [], [fvi("e_y", None)])
    nodes = [helper.make_node("Equal", ["sr", "rate"], ["is16k"], name="is16k"),
             helper.make_node("If", ["is16k"], ["y"], name="pick", then_branch=then, else_branch=other)]
    weights = {"w1": (8, 4, 3), "w2": (8, 8, 3), "w3": (6, 8, 1), "v1": (8, 4, 5), "v2": (8, 8, 3), "v3": (6, 8, 1)}
    return model(nodes, [fvi("x", ["N", 4, "T"]), helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                 [fvi("y", ["N", 6, "T"])],
                 [init("rate", np.array(16000, np.int64))] +
                 [init(k, RNG.standard_normal(s).astype(np.float32) * 0.4) for k, s in weights.items()])


def _batches(rates: tuple[int, ...], count: int = 6) -> list[dict[str, np.ndarray]]:
    return [{"x": RNG.standard_normal((8, 4, 32)).astype(np.float32), "sr": np.array(rates[i % len(rates)], np.int64)}
            for i in range(count)]


def _build(m: onnx.ModelProto, batches: list, method: str, cache: str | None = None) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm=method, cache_file=cache), accuracy_check=False))


def _branch_ops(engine: int8rt.Engine, branch: str) -> list[str]:
    """The ops of the lowered network's If branch."""
    pick = next(n for n in engine.network().nodes() if n["op"] == "If")
    return [n["op"] for n in pick["attrs"][branch].nodes()]


def _feeds(rate: int) -> list[dict[str, np.ndarray]]:
    """Two shapes: the calibration batch's and another batch and length."""
    return [{"x": RNG.standard_normal((n, 4, t)).astype(np.float32), "sr": np.array(rate, np.int64)}
            for n, t in ((8, 32), (3, 40))]


@pytest.fixture(scope="module")
def net() -> onnx.ModelProto:
    return rate_branches_model()


@pytest.fixture(scope="module")
def fp32(net: onnx.ModelProto) -> int8rt.Engine:
    return int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))


def _same_float_branch(engine: int8rt.Engine, fp32: int8rt.Engine, rate: int) -> None:
    """The branch left float32 runs the FP32 engine's float32 layers: the same bits."""
    for feed in _feeds(rate):
        assert np.array_equal(engine.run(feed)["y"], fp32.run(feed)["y"]), feed["x"].shape


def _close(engine: int8rt.Engine, fp32: int8rt.Engine, rate: int) -> None:
    # int8 activations and weights against float32: a stated bound, not equality
    for feed in _feeds(rate):
        assert centred_cosine(fp32.run(feed)["y"], engine.run(feed)["y"]) > 0.99, feed["x"].shape


@pytest.mark.parametrize("method", ("minmax", "auto"))
def test_the_convs_of_the_branch_calibration_took_run_in_int8(net, fp32, method: str) -> None:
    engine = _build(net, _batches((16000,)), method)
    plan = engine.int8_plan()
    convs = [layer.name for layer in plan.layers if layer.op == "int8rt.QConv"]
    assert convs == [THEN + "t_conv1", THEN + "t_conv2", THEN + "t_conv3"], convs
    assert all(layer.scope == THEN for layer in plan.layers), [layer.name for layer in plan.layers]
    assert {t.tensor for t in plan.tensors} >= {THEN + "t_r1", THEN + "t_r2"}
    assert _branch_ops(engine, "then_branch").count("int8rt.QConv") == 3
    assert not any(op.startswith("int8rt.") for op in _branch_ops(engine, "else_branch"))
    assert [layer["op"] for layer in engine.layers()] == ["Equal", "If"]  # the If's boundary stays float32
    int8_then = sum(op.startswith("int8rt.Q") and op != "int8rt.Quantize" for op in _branch_ops(engine, "then_branch"))
    # 17: t_conv3 (1-D, its output leaves through the Squeeze back to 1-D) writes float32 (lower_int8_conv_head.cc)
    assert engine.layers()[1]["detail"] == f"if: then 17 layers ({int8_then} int8), else 11"  # what inspect shows
    assert "no layer runs in int8" not in engine.metadata["report"]
    _close(engine, fp32, 16000)
    _same_float_branch(engine, fp32, 8000)  # never taken in calibration: float32, and it still runs


def test_batches_taking_both_branches_lower_both(net, fp32) -> None:
    engine = _build(net, _batches((16000, 8000)), "minmax")
    for branch in ("then_branch", "else_branch"):
        assert _branch_ops(engine, branch).count("int8rt.QConv") == 3, branch
    assert {layer.scope for layer in engine.int8_plan().layers} == {THEN, ELSE}
    for rate in (16000, 8000):
        _close(engine, fp32, rate)


def test_the_calibration_cache_names_branch_tensors_and_rebuilds_the_same_engine(net, tmp_path) -> None:
    cache = str(tmp_path / "calib.cache")
    calibrated = _build(net, _batches((16000,)), "minmax", cache)
    names = [line.split(":")[0] for line in open(cache).read().splitlines()[1:]]
    assert any(n.startswith(THEN) for n in names) and not any(n.startswith(ELSE) for n in names), names
    from_cache = _build(net, _batches((16000,)), "minmax", cache)
    assert from_cache.metadata["scales"] == calibrated.metadata["scales"]
    assert _branch_ops(from_cache, "then_branch") == _branch_ops(calibrated, "then_branch")
    for rate in (16000, 8000):
        for feed in _feeds(rate):
            assert np.array_equal(from_cache.run(feed)["y"], calibrated.run(feed)["y"]), (rate, feed["x"].shape)


def test_an_engine_file_keeps_the_int8_branch(net, tmp_path) -> None:
    engine = _build(net, _batches((16000,)), "minmax")
    path = str(tmp_path / "vad.i8rt")
    engine.save(path)
    loaded = int8rt.Engine.load(path)
    assert _branch_ops(loaded, "then_branch") == _branch_ops(engine, "then_branch")
    for rate in (16000, 8000):
        for feed in _feeds(rate):
            assert np.array_equal(loaded.run(feed)["y"], engine.run(feed)["y"]), (rate, feed["x"].shape)


def nested_model() -> onnx.ModelProto:
    """The then-branch is itself an If on a bool input `loud`, a conv chain in each of its branches."""
    inner = helper.make_node("If", ["loud"], ["t_y"], name="inner",
                             then_branch=helper.make_graph(_chain("a_", 3, ["w1", "w2", "w3"]), "a", [],
                                                           [fvi("a_y", None)]),
                             else_branch=helper.make_graph(_chain("b_", 1, ["u1", "w2", "w3"]), "b", [],
                                                           [fvi("b_y", None)]))
    then = helper.make_graph([inner], "at16k", [], [fvi("t_y", None)])
    other = helper.make_graph(_chain("e_", 5, ["v1", "v2", "v3"]), "other", [], [fvi("e_y", None)])
    nodes = [helper.make_node("Equal", ["sr", "rate"], ["is16k"], name="is16k"),
             helper.make_node("If", ["is16k"], ["y"], name="pick", then_branch=then, else_branch=other)]
    weights = {"w1": (8, 4, 3), "w2": (8, 8, 3), "w3": (6, 8, 1), "u1": (8, 4, 1), "v1": (8, 4, 5), "v2": (8, 8, 3),
               "v3": (6, 8, 1)}
    return model(nodes, [fvi("x", ["N", 4, "T"]), helper.make_tensor_value_info("sr", TensorProto.INT64, []),
                         helper.make_tensor_value_info("loud", TensorProto.BOOL, [])],
                 [fvi("y", ["N", 6, "T"])],
                 [init("rate", np.array(16000, np.int64))] +
                 [init(k, RNG.standard_normal(s).astype(np.float32) * 0.4) for k, s in weights.items()])


def test_an_if_inside_a_branch_is_tapped_and_lowered_under_both_scopes() -> None:
    net = nested_model()
    batches = [{**b, "loud": np.array(True)} for b in _batches((16000,))]
    engine = _build(net, batches, "minmax")
    inner = THEN + "inner/then_branch/"
    assert [layer.name for layer in engine.int8_plan().layers if layer.op == "int8rt.QConv"] == [
        inner + "a_conv1", inner + "a_conv2", inner + "a_conv3"]
    fp32 = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    for sr, loud in ((16000, True), (16000, False), (8000, True)):
        for feed in _feeds(sr):
            feed["loud"] = np.array(loud)
            got, want = engine.run(feed)["y"], fp32.run(feed)["y"]
            if loud and sr == 16000:  # the calibrated branch: int8 against float32, a stated bound
                assert centred_cosine(want, got) > 0.99, feed["x"].shape
            else:  # never taken in calibration: the same float32 layers
                assert np.array_equal(got, want), (sr, loud, feed["x"].shape)


def test_the_builder_streams_the_taken_branch_and_shapes_it_from_the_captures(net) -> None:
    """One batch: the histograms gain the taken branch's tensors (scoped), the
    other branch's none; its rows are not traced (observe_rows declines and
    the caller runs the rows); the branch's tensors get the batch's shapes,
    the batch and length dynamic."""
    import int8rt.onnx
    from int8rt import _core
    from int8rt.calib.collector import Collector

    builder = _core.Builder(int8rt.onnx.import_model(net), "int8")
    collector = Collector("minmax")
    builder.calibrate_batch(_batches((16000,), 1)[0], collector._native)
    names = set(builder.calibration_tensors())
    assert {THEN + "t_c1", THEN + "t_r2", THEN + "t_y"} <= names, names
    assert not any(n.startswith(ELSE) for n in names)
    assert names <= set(collector.names), names - set(collector.names)
    assert not builder.observe_rows([0, 1], Collector("minmax")._native)
    pick = next(n for n in builder.optimized_network().nodes() if n["op"] == "If")
    branch = pick["attrs"]["then_branch"]
    shapes = {t["name"]: t["shape"] for t in branch.tensors() if not t["is_constant"]}
    assert shapes["t_c1"] == [-1, 8, -1] and shapes["t_y"] == [-1, 6, -1], shapes


def test_an_if_inside_a_loop_body_is_not_tapped() -> None:
    """A Loop runs its body once per iteration: an If there has no one value
    per tensor to name, so calibration does not see into it (nor the lowering)."""
    import int8rt.onnx
    from int8rt import _core
    from int8rt.calib.collector import Collector
    from test_onnx_control_flow import nested_model as loop_with_if_model

    builder = _core.Builder(int8rt.onnx.import_model(loop_with_if_model()), "int8")
    feed = {k: RNG.standard_normal((3, 2)).astype(np.float32) for k in ("x", "y", "acc0")}
    collector = Collector("minmax")
    builder.calibrate_batch({**feed, "n": np.array(3, np.int64)}, collector._native)
    assert not any("_branch/" in n for n in list(builder.calibration_tensors()) + list(collector.names))


def test_int8rt_build_takes_a_0d_input_from_npz_calibration_data(net, tmp_path) -> None:
    """``int8rt build --calib-data data.npz`` for Silero's kind of model: the
    rate is one 0-d array beside the chunks (before: ``zero-dimensional
    arrays cannot be concatenated``, then ``len() of unsized object``)."""
    from int8rt.cli import main

    onnx.save(net, str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "calib.npz", x=RNG.standard_normal((24, 4, 32)).astype(np.float32),
             sr=np.array(16000, np.int64))
    out = str(tmp_path / "m.i8rt")
    main(["build", str(tmp_path / "m.onnx"), "--calib-data", str(tmp_path / "calib.npz"), "--calibrator", "minmax",
          "--batch-size", "8", "-o", out, "-q"])
    assert _branch_ops(int8rt.Engine.load(out), "then_branch").count("int8rt.QConv") == 3


def spread_channels_model() -> onnx.ModelProto:
    """x [N, 3, 8, 8]; If sr == 16000: conv 3x3 whose output channel k is
    scaled by 2^k (ranges spreading 128-fold) -> conv 1x1; else Relu."""
    w1 = RNG.standard_normal((8, 3, 3, 3)).astype(np.float32) * (2.0 ** np.arange(8, dtype=np.float32))[:, None, None, None]
    w2 = RNG.standard_normal((4, 8, 1, 1)).astype(np.float32) / (2.0 ** np.arange(8, dtype=np.float32))[None, :, None, None]
    then = helper.make_graph([helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
                              helper.make_node("Conv", ["c1", "w2"], ["t_y"], name="conv2")], "at16k", [],
                             [fvi("t_y", None)])
    other = helper.make_graph([helper.make_node("Conv", ["x", "w3"], ["e_y"], name="conv3")], "other", [],
                              [fvi("e_y", None)])
    nodes = [helper.make_node("Equal", ["sr", "rate"], ["is16k"], name="is16k"),
             helper.make_node("If", ["is16k"], ["y"], name="pick", then_branch=then, else_branch=other)]
    return model(nodes, [fvi("x", ["N", 3, 8, 8]), helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                 [fvi("y", ["N", 4, 8, 8])],
                 [init("rate", np.array(16000, np.int64)), init("w1", w1), init("w2", w2),
                  init("w3", RNG.standard_normal((4, 3, 1, 1)).astype(np.float32))])


def test_a_branch_tensor_whose_channels_spread_gets_a_grid_per_channel() -> None:
    """channel_activations (on by default) inside a branch: the per-channel
    ranges are recorded under the scoped name, so the branch's lowering gives
    the conv output one scale per channel as it would at the top level."""
    net = spread_channels_model()
    batches = [{"x": RNG.standard_normal((4, 3, 8, 8)).astype(np.float32), "sr": np.array(16000, np.int64)}
               for _ in range(4)]
    engine = _build(net, batches, "minmax")
    grids = {t.tensor: len(t.channel_scales) for t in engine.int8_plan().tensors}
    assert grids.get(THEN + "c1") == 8, grids
    fp32 = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    feed = {"x": RNG.standard_normal((3, 3, 8, 8)).astype(np.float32), "sr": np.array(16000, np.int64)}
    assert centred_cosine(fp32.run(feed)["y"], engine.run(feed)["y"]) > 0.99


def test_layer_precisions_names_a_branch_layer_by_its_scoped_name(net, fp32) -> None:
    """BuilderConfig.layer_precisions takes "pick/then_branch/t_conv2" (the
    name inspect and the plan give it; before: "names no layer"), and the
    branch's lowering keeps that conv float32; an unknown scoped name is
    still refused."""
    engine = int8rt.build_engine(net, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(_batches((16000,)), algorithm="minmax"), accuracy_check=False,
        layer_precisions={THEN + "t_conv2": "fp32"}))
    convs = [layer.name for layer in engine.int8_plan().layers if layer.op == "int8rt.QConv"]
    assert convs == [THEN + "t_conv1", THEN + "t_conv3"], convs
    assert "Conv" in _branch_ops(engine, "then_branch")
    _close(engine, fp32, 16000)
    with pytest.raises(int8rt.InvalidArgumentError, match="names no layer 'pick/then_branch/t_conv9'"):
        int8rt.build_engine(net, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(_batches((16000,)), algorithm="minmax"),
            layer_precisions={THEN + "t_conv9": "fp32"}))
