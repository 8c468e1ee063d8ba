"""Calibration runs the network on the shapes the user fed (issue 11's
verification, benchmarks/RESULTS.md §87-88): a 0-d input (Silero VAD's
sample rate) stays 0-d through the calibration loop and the auto
calibrator's passes; and every builder an INT8 build makes (auto's trials,
bias correction, mixed precision) learns the input shapes from the
calibration batches as the calibrating one does, so with symbolic dims and
no profile auto lowers as many layers to int8 as minmax."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

RNG = np.random.default_rng(31)
METHODS = ("minmax", "auto")


def _centred_cosine(got: np.ndarray, want: np.ndarray) -> float:
    a, b = (got - got.mean(0)).ravel(), (want - want.mean(0)).ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


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
