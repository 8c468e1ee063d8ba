"""Bias correction inside If branches (accuracy/branch_bias.py): the int8
convs of a calibrated branch get their mean shift measured on the branch's
float32 inputs and folded into their bias, under their scoped names
("pick/then_branch/conv"); a branch calibration never took stays float32 and
uncorrected. The model: an If on a 0-d int64 input (as Silero VAD's sample
rate); each branch one 1-D 1x1 conv over 64 channels whose weights round
with a known bias: per output channel one weight of magnitude 1 sets the
int8 step to 1/127 and the other 63 lie between 0.30 and 0.45 steps, so
they round to 0 and the int8 conv loses sum_i W[c, i] * mean(x_i), about
0.2 on an input of mean 1."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt.calib import Collector  # noqa: E402
from int8rt.accuracy import branch_bias  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

RNG = np.random.default_rng(2212)
C_IN, C_OUT, T = 64, 16, 24
THEN, ELSE = "pick/then_branch/", "pick/else_branch/"


def _weights() -> np.ndarray:
    """[C_OUT, C_IN, 1]: column 0 +-1, the rest +-(0.30..0.45)/127, one sign per channel."""
    sign = np.where(np.arange(C_OUT) % 2 == 0, 1.0, -1.0)[:, None]
    w = sign * RNG.uniform(0.30, 0.45, (C_OUT, C_IN)) / 127
    w[:, 0] = sign[:, 0]
    return w[:, :, None].astype(np.float32)


def biased_branch_model() -> onnx.ModelProto:
    """x [N, 64, T], sr (int64, 0-d): If sr == 16000 then conv(x, w) else conv(x, v)."""
    then = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["t_y"], kernel_shape=[1], name="conv")],
                             "at16k", [], [fvi("t_y", None)])
    other = helper.make_graph([helper.make_node("Conv", ["x", "v"], ["e_y"], kernel_shape=[1], name="conv")],
                              "other", [], [fvi("e_y", None)])
    nodes = [helper.make_node("Equal", ["sr", "rate"], ["is16k"], name="is16k"),
             helper.make_node("If", ["is16k"], ["y"], name="pick", then_branch=then, else_branch=other)]
    return model(nodes, [fvi("x", ["N", C_IN, "T"]), helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                 [fvi("y", ["N", C_OUT, "T"])],
                 [init("rate", np.array(16000, np.int64)), init("w", _weights()), init("v", _weights())])


def _x(n: int) -> np.ndarray:
    return (1.0 + 0.5 * RNG.standard_normal((n, C_IN, T))).astype(np.float32)


def _batches(rate: int = 16000, count: int = 6) -> list[dict[str, np.ndarray]]:
    return [{"x": _x(8), "sr": np.array(rate, np.int64)} for _ in range(count)]


def _build(m: onnx.ModelProto, method: str, correction) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(_batches(), algorithm=method), bias_correction=correction,
        accuracy_check=False))


def _run(engine: int8rt.Engine, x: np.ndarray, rate: int) -> np.ndarray:
    return engine.create_execution_context().run({"x": x, "sr": np.array(rate, np.int64)})["y"]


def _branch_bias(engine: int8rt.Engine, branch: str) -> np.ndarray | None:
    """The bias its branch's conv reads in the lowered network (None: none)."""
    pick = next(n for n in engine.network().nodes() if n["op"] == "If")
    net = pick["attrs"][branch]
    conv = next(n for n in net.nodes() if "Conv" in n["op"])
    b = conv["inputs"][2] if len(conv["inputs"]) > 2 else -1
    return None if b < 0 else np.asarray(net.constant_data(b), np.float64)


@pytest.fixture(scope="module")
def net() -> onnx.ModelProto:
    return biased_branch_model()


@pytest.fixture(scope="module")
def fp32(net: onnx.ModelProto) -> int8rt.Engine:
    return int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))


def test_the_shift_is_measured_in_the_taken_branch_only(net: onnx.ModelProto) -> None:
    """measure_branch_shifts names the then-branch conv, scoped, with the
    shift the weights' rounding predicts: -(q(W) - W) @ mean(x) = W[:, 1:] @
    mean(x[1:]) (the 63 small weights round to 0), up to what rounding x to
    its grid adds through the weight 1 (its step is about 0.03; its mean
    error over 6 x 8 x 24 values per channel well under 0.01)."""
    builder = _core.Builder(int8rt.onnx.import_model(net.SerializeToString()), "int8")
    collector = Collector("minmax")
    data = _batches(count=4)
    for batch in data:
        builder.calibrate_batch(batch, collector._native)
    scales = collector.scales()
    assert any(k.startswith(THEN) for k in scales) and not any(k.startswith(ELSE) for k in scales)
    deltas = branch_bias.measure_branch_shifts(builder.optimized_network(), scales, data, 8, set())
    assert list(deltas) == [THEN + "conv"]
    w = _weights_of(net, "w")
    x_mean = np.mean([d["x"].astype(np.float64).mean(axis=(0, 2)) for d in data], axis=0)
    want = w[:, 1:] @ x_mean[1:]
    np.testing.assert_allclose(deltas[THEN + "conv"], want, atol=0.01)
    assert np.abs(want).min() > 0.15  # the shift is there to find


def _weights_of(m: onnx.ModelProto, name: str) -> np.ndarray:
    t = next(i for i in m.graph.initializer if i.name == name)
    return onnx.numpy_helper.to_array(t)[:, :, 0].astype(np.float64)


@pytest.mark.parametrize("method", ["minmax", "auto"])
def test_the_correction_removes_the_branch_mean_shift(net: onnx.ModelProto, fp32: int8rt.Engine,
                                                      method: str) -> None:
    """On new inputs the int8 engine's per-channel mean error against
    float32 falls from about 0.2 to under a tenth of it with the correction
    (BuilderConfig's, or auto's own decision); the else branch, never
    calibrated, stays float32 with its bias untouched and runs as float32."""
    plain = _build(net, "minmax", False)
    corrected = _build(net, method, True if method == "minmax" else None)
    x = _x(16)
    ref = _run(fp32, x, 16000)
    before = np.abs((_run(plain, x, 16000) - ref).mean(axis=(0, 2)))
    after = np.abs((_run(corrected, x, 16000) - ref).mean(axis=(0, 2)))
    assert before.min() > 0.15 and after.max() < 0.1 * before.min(), (before, after)
    assert _branch_bias(plain, "then_branch") is None and _branch_bias(corrected, "then_branch") is not None
    assert _branch_bias(corrected, "else_branch") is None
    np.testing.assert_array_equal(_run(corrected, x, 8000), _run(fp32, x, 8000))
    if method == "auto":
        choice = corrected.build_report().auto_choice
        assert choice["bias_correction"] == "on (auto)"
        assert choice["bias_correction_layers"] == {"top level": 0, "If branches": 1}


def test_add_to_bias_reaches_into_a_branch_by_scoped_name(net: onnx.ModelProto) -> None:
    """Builder.add_to_bias edits the conv of the branch its scope names,
    only that one, and refuses a scoped name no branch holds."""
    builder = _core.Builder(int8rt.onnx.import_model(net.SerializeToString()), "int8")
    delta = np.arange(C_OUT, dtype=np.float32)
    builder.add_to_bias(ELSE + "conv", delta.tolist())
    pick = next(n for n in builder.optimized_network().nodes() if n["op"] == "If")
    for attr, want in (("else_branch", delta), ("then_branch", None)):
        branch = pick["attrs"][attr]
        conv = next(n for n in branch.nodes() if n["op"] == "Conv")
        b = conv["inputs"][2] if len(conv["inputs"]) > 2 else -1
        got = None if b < 0 else branch.constant_data(b)
        assert (got is None) if want is None else np.array_equal(got, want), (attr, got)
    with pytest.raises(_core.InvalidArgumentError, match="pick/then_branch/nope"):
        builder.add_to_bias(THEN + "nope", delta.tolist())


def test_a_table_read_through_an_unsqueeze_is_the_engines() -> None:
    """A 1-D conv is lowered as 2-D behind an Unsqueeze; where its input is
    a table's output (lut_inputs.py), measure_shifts takes it as the engine
    computes it through the Unsqueeze too: the shift is W @ mean(table(p))
    with q(W) - W, against numpy's own table arithmetic (float64 sums of
    float32 terms: 1e-5)."""
    from int8rt.accuracy import bias_correction as bc
    from int8rt.accuracy.lut_inputs import LutInput, table_output

    c, t = 6, 10
    w = (RNG.standard_normal((4, c, 1, 1)) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Relu", ["p"], ["r"], name="relu"),
             helper.make_node("Unsqueeze", ["r", "axis"], ["u"], name="to_2d"),
             helper.make_node("Conv", ["u", "w"], ["y"], kernel_shape=[1, 1], name="conv")]
    m = model(nodes, [fvi("p", ["N", c, t])], [fvi("y", ["N", 4, 1, t])],
              [init("axis", np.array([2], np.int64)), init("w", w)])
    network = _core.Builder(int8rt.onnx.import_model(m.SerializeToString()), "int8").optimized_network()
    codes = np.clip(np.arange(-128, 128) * 3 // 2, -128, 127).astype(np.int8)  # a table unlike rounding r
    lut = LutInput("p", (0.05, 0), codes, (0.04, 0))
    p = (RNG.standard_normal((8, c, t)) * 2).astype(np.float32)
    names = {network.tensor(n["inputs"][0])["name"] for n in network.nodes() if n["op"] == "Conv"}
    assert names == {"u"}, names
    got = bc.measure_shifts(network, {"u": 0.04, "r": 0.04}, [{"p": p}], 8, set(), luts={"r": lut})["conv"]
    xq = table_output(lut, p).astype(np.float64).mean(axis=(0, 2))
    x = np.maximum(p, 0).astype(np.float64).mean(axis=(0, 2))
    qw = bc.quantize_weights(w)[:, :, 0, 0].astype(np.float64)
    np.testing.assert_allclose(got, -(qw @ xq - w[:, :, 0, 0].astype(np.float64) @ x), atol=1e-5)


def test_the_report_says_where_the_corrected_layers_are(net: onnx.ModelProto) -> None:
    report = _build(net, "auto", None).build_report()
    assert "bias correction on (auto) [measured on 0 top-level and 1 If-branch layer(s)]" in report.format()
