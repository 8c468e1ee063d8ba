"""Calibration runs the network on the shapes the user fed (issue 11's
verification, benchmarks/RESULTS.md §87-88): a 0-d input (Silero VAD's
sample rate) stays 0-d through the calibration loop and the auto
calibrator's passes; every builder an INT8 build makes (auto's trials,
bias correction, mixed precision, the driver of Ray-sharded calibration)
learns the input shapes from the calibration batches as the calibrating one
does, so with symbolic dims and no profile auto lowers as many layers to
int8 as minmax; and an engine lowered with no shapes at all (from a cache)
runs its int8 tensors of unknown rank in the order their readers take."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
import int8rt.onnx  # noqa: E402
from int8rt.accuracy.metrics import centred_cosine  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

RNG = np.random.default_rng(31)
METHODS = ("minmax", "auto")


def _centred_cosine(got: np.ndarray, want: np.ndarray) -> float:
    return centred_cosine(want, got)


def _build(m: onnx.ModelProto, batches: list, method: str) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm=method), accuracy_check=False))


def scalar_gain_model() -> onnx.ModelProto:
    """x [N, 8] -> MatMul -> Mul by the float input s (0-d) -> Relu -> MatMul."""
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Mul", ["h", "s"], ["g"], name="gain"),
             helper.make_node("Relu", ["g"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    return model(nodes, [fvi("x", ["N", 8]), fvi("s", [])], [fvi("y", ["N", 4])],
                 [init("w1", RNG.standard_normal((8, 16)).astype(np.float32) * 0.4),
                  init("w2", RNG.standard_normal((16, 4)).astype(np.float32) * 0.4)])


def rate_switch_model() -> onnx.ModelProto:
    """Silero VAD's shape of control flow: Conv1d -> If (the int64 0-d input
    sr equals 16000: Relu, else Neg) -> Conv1d."""
    then = helper.make_graph([helper.make_node("Relu", ["c1"], ["t"])], "at16k", [], [fvi("t", None)])
    other = helper.make_graph([helper.make_node("Neg", ["c1"], ["e"])], "other", [], [fvi("e", None)])
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3], pads=[1, 1], name="conv1"),
             helper.make_node("Equal", ["sr", "rate"], ["is16k"], name="is16k"),
             helper.make_node("If", ["is16k"], ["g"], name="pick", then_branch=then, else_branch=other),
             helper.make_node("Conv", ["g", "w2"], ["y"], kernel_shape=[3], pads=[1, 1], name="conv2")]
    return model(nodes, [fvi("x", ["N", 4, 16]), helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                 [fvi("y", ["N", 8, 16])],
                 [init("w1", RNG.standard_normal((8, 4, 3)).astype(np.float32) * 0.3),
                  init("w2", RNG.standard_normal((8, 8, 3)).astype(np.float32) * 0.3),
                  init("rate", np.array(16000, np.int64))])


@pytest.mark.parametrize("method", METHODS)
def test_a_scalar_float_input_stays_a_scalar_through_calibration(method: str) -> None:
    m = scalar_gain_model()
    batches = [{"x": RNG.standard_normal((8, 8)).astype(np.float32), "s": np.array(1.5 + 0.1 * i, np.float32)}
               for i in range(6)]
    engine = _build(m, batches, method)
    assert engine.tensor_shape("s") == ()
    feed = {"x": RNG.standard_normal((16, 8)).astype(np.float32), "s": np.array(1.6, np.float32)}
    want = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run(feed)["y"]
    assert _centred_cosine(engine.run(feed)["y"], want) > 0.98


@pytest.mark.parametrize("method", METHODS)
def test_a_scalar_int_input_picking_an_if_branch_stays_a_scalar_through_calibration(method: str) -> None:
    m = rate_switch_model()
    batches = [{"x": RNG.standard_normal((8, 4, 16)).astype(np.float32), "sr": np.array(16000, np.int64)}
               for _ in range(6)]
    engine = _build(m, batches, method)
    assert engine.tensor_shape("sr") == ()
    ops = [layer["op"] for layer in engine.layers()]
    assert ops.count("int8rt.QConv") == 2, ops
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    x = RNG.standard_normal((16, 4, 16)).astype(np.float32)
    for rate in (16000, 8000):  # the calibrated branch and the other
        feed = {"x": x, "sr": np.array(rate, np.int64)}
        assert _centred_cosine(engine.run(feed)["y"], fp32.run(feed)["y"]) > 0.98, rate


def test_int8rt_compare_runs_a_scalar_input_whole_with_every_chunk() -> None:
    """``int8rt compare`` cuts its data into chunks along axis 0; a 0-d input
    (listed first, so it is not what counts the samples) goes whole with each."""
    from int8rt.accuracy.compare import compare

    m = rate_switch_model()
    engine = _build(m, [{"x": RNG.standard_normal((8, 4, 16)).astype(np.float32), "sr": np.array(16000, np.int64)}
                        for _ in range(4)], "minmax")
    data = {"sr": np.array(16000, np.int64), "x": RNG.standard_normal((10, 4, 16)).astype(np.float32)}
    rows = {r.name: r for r in compare(m, engine, data, batch_size=4)}
    assert {"c1", "y"} <= set(rows) and rows["c1"].precision == "int8", rows
    assert min(r.cosine for r in rows.values()) > 0.98, rows


def conv1d_state_model() -> onnx.ModelProto:
    """Silero VAD's shape of network, small: a chunk x [N, T] (T symbolic)
    through 1-D convolutions (the importer runs them as 2-D ones on
    [N, C, 1, T], whose shapes only the calibration batches tell without a
    profile) and a state s [2, N, 8] (the batch on axis 1, so calibration
    batches are run whole) added in."""
    nodes = [helper.make_node("Unsqueeze", ["x", "ax1"], ["x3"], name="lift_x"),
             helper.make_node("Conv", ["x3", "w1"], ["c1"], kernel_shape=[3], pads=[1, 1], strides=[2], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3], pads=[1, 1], name="conv2"),
             helper.make_node("ReduceMean", ["s"], ["sm"], axes=[0], keepdims=0, name="state_mean"),
             helper.make_node("Unsqueeze", ["sm", "ax2"], ["s3"], name="lift_s"),
             helper.make_node("Add", ["c2", "s3"], ["a"], name="add_state"),
             helper.make_node("Relu", ["a"], ["r2"], name="relu2"),
             helper.make_node("Conv", ["r2", "w3"], ["y"], kernel_shape=[1], name="conv3")]
    return model(nodes, [fvi("x", ["N", "T"]), fvi("s", [2, "N", 8])], [fvi("y", ["N", 4, "T2"])],
                 [init("ax1", np.array([1], np.int64)), init("ax2", np.array([2], np.int64)),
                  init("w1", RNG.standard_normal((8, 1, 3)).astype(np.float32)),
                  init("w2", RNG.standard_normal((8, 8, 3)).astype(np.float32) * 0.3),
                  init("w3", RNG.standard_normal((4, 8, 1)).astype(np.float32) * 0.3)], opset=13)


def _chunks(count: int) -> list:
    return [{"x": RNG.standard_normal((8, 32)).astype(np.float32),
             "s": RNG.standard_normal((2, 8, 8)).astype(np.float32)} for _ in range(count)]


def _int8_layers(engine: int8rt.Engine) -> list[str]:
    return [layer["name"] for layer in engine.layers() if layer.get("precision") == "int8"]


def test_auto_lowers_as_many_layers_to_int8_as_minmax_without_a_profile() -> None:
    """auto's engines come from builders that never ran a calibration batch
    (its unsigned-activation trial here); they take the input shapes from the
    calibrating builder, so they plan the 1-D convolutions as minmax's does.
    Before: those builders knew no rank past each Unsqueeze to 2-D, and the
    engine auto lowered refused its own judging samples."""
    m = conv1d_state_model()
    batches = _chunks(6)
    minmax, auto = (_build(m, batches, method) for method in METHODS)
    assert _int8_layers(auto) == _int8_layers(minmax)
    assert {"conv1", "conv2", "conv3"} <= set(_int8_layers(auto)), _int8_layers(auto)
    for name in ("x", "s"):
        assert auto.tensor_shape(name) == minmax.tensor_shape(name)
    feed = {"x": RNG.standard_normal((3, 40)).astype(np.float32), "s": RNG.standard_normal((2, 3, 8)).astype(np.float32)}
    want = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run(feed)["y"]
    assert _centred_cosine(auto.run(feed)["y"], want) > 0.98


def test_mixed_precision_ranks_layers_on_engines_planned_with_the_calibration_shapes() -> None:
    """Automatic mixed precision builds its candidates (one layer in int8 at a
    time) on new builders too: each convolution's candidate runs it in int8,
    so its measured sensitivity is not 0 (before: no candidate could lower a
    convolution, and every layer measured 0)."""
    m = conv1d_state_model()
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(_chunks(8), algorithm="minmax"), accuracy_target=0.99999))
    sensitivity = engine.build_report().mixed_precision["sensitivity"]
    assert all(sensitivity[name] > 0 for name in ("conv1", "conv2", "conv3")), sensitivity


def test_a_builder_takes_the_shapes_a_calibration_batch_gave_another() -> None:
    from int8rt import _core
    from int8rt.calib.collector import Collector

    network = int8rt.onnx.import_model(conv1d_state_model())
    calibrated, fresh = _core.Builder(network, "int8"), _core.Builder(network, "int8")
    assert calibrated.calibration_shapes() == {}
    batch = _chunks(1)[0]
    calibrated.calibrate_batch(batch, Collector("minmax")._native)
    shapes = calibrated.calibration_shapes()
    assert shapes == {name: list(a.shape) for name, a in batch.items()}
    assert fresh.optimized_network().tensors() != calibrated.optimized_network().tensors()
    with pytest.raises(int8rt.InvalidArgumentError, match="no shape for input 's'"):
        fresh.set_calibration_shapes({"x": [8, 32]})
    with pytest.raises(int8rt.InvalidArgumentError, match="'c1' is not a network input"):
        fresh.set_calibration_shapes({**shapes, "c1": [8, 8, 16]})
    with pytest.raises(int8rt.InvalidArgumentError, match="input 's'"):
        fresh.set_calibration_shapes({**shapes, "s": [3, 8, 8]})
    fresh.set_calibration_shapes(shapes)
    assert fresh.optimized_network().tensors() == calibrated.optimized_network().tensors()
    assert fresh.calibration_shapes() == shapes
    fresh.set_calibration_shapes({"x": [4, 64], "s": [2, 4, 8]})  # shapes known now: nothing changes
    assert fresh.calibration_shapes() == shapes


def test_an_engine_built_from_a_cache_without_a_profile_runs_its_unshaped_int8_tensors_in_order(tmp_path) -> None:
    """From a calibration cache no batch runs, so without a profile the
    lowering knows no rank past the Unsqueeze to 2-D. Such a tensor may still
    be int8 between data-movement layers; its Quantize kept it in its
    logical order only at known ranks, and wrote a rank-4 run's bytes NHWC
    for readers expecting NCHW (before: `cannot squeeze axis 2 of size 16 in
    [8, 1, 16, 8]`)."""
    m = conv1d_state_model()
    cache = str(tmp_path / "calib.cache")
    batches = _chunks(4)
    calibrated = int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="minmax", cache_file=cache), accuracy_check=False))
    from_cache = int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="minmax", cache_file=cache), accuracy_check=False))
    assert from_cache.metadata["scales"] == calibrated.metadata["scales"]
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    for n, t in ((8, 32), (3, 40)):
        feed = {"x": RNG.standard_normal((n, t)).astype(np.float32),
                "s": RNG.standard_normal((2, n, 8)).astype(np.float32)}
        assert _centred_cosine(from_cache.run(feed)["y"], fp32.run(feed)["y"]) > 0.98, (n, t)


def test_sharded_calibration_gives_the_driver_the_calibration_shapes(ray_cluster: object) -> None:
    """With Ray the workers run the batches and the driver's builder none:
    it takes the first batch's input shapes, so its engine lowers as the
    single-process build's (before: the 1-D convolutions stayed float32)."""
    from int8rt.calib.distributed import RayCalibration

    m = conv1d_state_model()
    batches = _chunks(4)
    single = _build(m, batches, "minmax")
    sharded = int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="minmax"), accuracy_check=False,
        distributed=RayCalibration(num_workers=1)))
    assert sharded.scales() == single.scales()
    assert _int8_layers(sharded) == _int8_layers(single)
