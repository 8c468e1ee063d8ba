"""auto's float stem ending at a Log (python/int8rt/accuracy/log_stems.py,
quiet_positions.py): which layers the stem is, where there is none, and the
failure it cures, made up.

The failure (Basic Pitch, benchmarks/RESULTS_accuracy.md acc51 section 5,
acc52): a CQT-like front end (strided convolutions on the waveform, the
squared magnitude) -> Log -> CNN. Each bin's power spans decades (quiet
bins, quiet passages); every int8 tensor of the front end has one step for
all of them, the quiet ones round to nothing and the Log turns that into
the largest errors of its output. No threshold helps; keeping the front end
and the Log in float32 does."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _core
from int8rt.accuracy import log_stems, metrics, quiet_positions
from int8rt.builder import _to_network

L, BINS, K, HOP = 1024, 24, 64, 32  # samples, frequency bins, filter taps, hop
FRAMES = L // HOP


def _filters() -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed cosine / sine filters [BINS, 1, K] at log-spaced frequencies."""
    f = np.geomspace(0.02, 0.45, BINS)[:, None]
    t = np.arange(K)[None, :]
    w = np.hanning(K)[None, :] / K * 4
    return ((w * np.cos(2 * np.pi * f * t))[:, None].astype(np.float32),
            (w * np.sin(2 * np.pi * f * t))[:, None].astype(np.float32))


def _spectro_model(seed: int = 0, head: int = 64, trunk: str = "", floor: str = "Add") -> bytes:
    """x [N, L] -> Unsqueeze -> two strided Conv1d (cosine, sine: the real and
    imaginary parts) -> re*re + im*im, + 1e-8 (``floor`` "Add") or clipped
    to [1e-8, 1e4] ("Clip") -> Log -> Conv1d BINS->``head`` (k 5) -> Relu ->
    Conv1d head->8 (k 3) -> y [N, 8, FRAMES]. With ``trunk`` ("Relu",
    "Clip": a ReLU6), that activation sits between the front end and the
    squares: the Log then reads a trunk feature, not a magnitude of x."""
    rng = np.random.default_rng(seed)
    wr, wi = _filters()
    arrays = {"axis": np.array([1], np.int64), "wr": wr, "wi": wi, "eps": np.array(1e-8, np.float32),
              "zero": np.array(0.0, np.float32), "six": np.array(6.0, np.float32),
              "big": np.array(1e4, np.float32),
              "w1": (rng.standard_normal((head, BINS, 5)) / np.sqrt(5 * BINS)).astype(np.float32),
              "b1": (rng.standard_normal(head) * 0.1).astype(np.float32),
              "w2": (rng.standard_normal((8, head, 3)) / np.sqrt(3 * head)).astype(np.float32)}
    conv = {"kernel_shape": [K], "strides": [HOP], "pads": [K // 2 - HOP // 2, K // 2 - HOP // 2]}
    re, im = ("re1", "im1") if trunk else ("re", "im")
    nodes = [helper.make_node("Unsqueeze", ["x", "axis"], ["x1"]),
             helper.make_node("Conv", ["x1", "wr"], ["re"], **conv),
             helper.make_node("Conv", ["x1", "wi"], ["im"], **conv)]
    if trunk:
        bounds = ["zero", "six"] if trunk == "Clip" else []
        nodes += [helper.make_node(trunk, [t] + bounds, [t + "1"]) for t in ("re", "im")]
    nodes += [helper.make_node("Mul", [re, re], ["re2"]),
              helper.make_node("Mul", [im, im], ["im2"]),
              helper.make_node("Add", ["re2", "im2"], ["power"]),
              helper.make_node(floor, ["power", "eps"] + (["big"] if floor == "Clip" else []), ["power_eps"]),
              helper.make_node("Log", ["power_eps"], ["logp"]),
              helper.make_node("Conv", ["logp", "w1", "b1"], ["h"], kernel_shape=[5], pads=[2, 2]),
              helper.make_node("Relu", ["h"], ["hr"]),
              helper.make_node("Conv", ["hr", "w2"], ["y"], kernel_shape=[3], pads=[1, 1])]
    graph = helper.make_graph(nodes, "logstem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", L])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, FRAMES])],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _audio(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` clips of L samples: three tones at levels drawn over four decades
    (log-uniform) with a little noise, in runs of 256 samples that are
    loud or 40 dB down, as a recording's notes and rests are."""
    t = np.arange(L)
    x = np.empty((n, L))
    for i in range(n):
        f = rng.uniform(0.02, 0.45, 3)
        amp = 10.0 ** rng.uniform(-4, 0, 3)
        tones = (amp[:, None] * np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 6.3, (3, 1)))).sum(axis=0)
        level = np.repeat(np.where(rng.random(4) < 0.5, 1.0, 0.01), L // 4)
        x[i] = level * tones + 1e-4 * rng.standard_normal(L)
    return x.astype(np.float32)


def _network(model: bytes) -> Any:
    return _core.Builder(_to_network(model, None), "int8").optimized_network()


def _score(model: bytes, calib: np.ndarray, evaluation: np.ndarray, algorithm: str) -> tuple[float, dict, str]:
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = int8rt.make_calibrator({"x": calib}, algorithm=algorithm, batch_size=16)
    engine = int8rt.build_engine(model, config)
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    ref, out = fp32.run({"x": evaluation})["y"], engine.run({"x": evaluation})["y"]
    report = engine.build_report()
    return metrics.centred_cosine(ref, out), report.auto_choice or {}, report.format()


def test_the_stem_is_the_front_end_and_the_log() -> None:
    """Every layer from x to the Log (both Convs, the squares, the sums) and
    the Log itself, in run order, keyed by the tensor the Log reads; not the
    CNN after it."""
    network = _network(_spectro_model())
    ops = {n["name"]: n["op"] for n in network.nodes()}
    found = quiet_positions.stems(network)
    assert list(found) == ["power_eps"] and found == log_stems.log_stems(network)
    chain = found["power_eps"]
    assert [ops[n] for n in chain if ops[n] not in ("Reshape", "Unsqueeze", "Squeeze")] == [
        "Conv", "Conv", "Mul", "Mul", "Add", "Add", "Log"]
    assert ops[chain[0]] == "Unsqueeze" and ops[chain[-1]] == "Log"
    assert sum(op == "Conv" for op in ops.values()) == 4  # the head's two are not in it
    assert 0 < log_stems.macs(network, chain) <= log_stems.MAX_MAC_SHARE * log_stems.macs(network)
    assert quiet_positions.stems(network, fp32_layers=chain) == {}  # already float by hand: nothing to try


@pytest.mark.parametrize("trunk", ["Relu", "Clip"])
def test_no_stem_where_the_log_reads_a_trunk_feature(trunk: str) -> None:
    """A Relu or a ReLU6 (Clip 0..6) between the front end and the squares:
    the Log reads a rectified feature, not a magnitude computed from x (the
    walk stops at the first layer that does not build one; a Clip passes
    only as the Log's own floor), so there is no stem."""
    network = _network(_spectro_model(trunk=trunk))
    assert {trunk, "Log"} <= {n["op"] for n in network.nodes()}
    assert quiet_positions.stems(network) == {}


def test_a_clip_floor_before_the_log_is_in_the_stem() -> None:
    """log(clip(power, 1e-8, 1e4)) (openWakeWord's mel spectrogram floors it
    so): the Clip is the Log's guard, in the stem like the Add of 1e-8."""
    network = _network(_spectro_model(floor="Clip"))
    ops = {n["name"]: n["op"] for n in network.nodes()}
    (chain,) = quiet_positions.stems(network).values()
    assert [ops[n] for n in chain[-2:]] == ["Clip", "Log"]
    assert sum(ops[n] == "Conv" for n in chain) == 2


def test_no_stem_past_the_mac_share() -> None:
    """The same front end before a 4-channel head: the front end is most of
    the network's multiply-accumulates (above MAX_MAC_SHARE), the network's
    body, not a stem to give up."""
    network = _network(_spectro_model(head=4))
    share = log_stems.macs(network, [n["name"] for n in network.nodes() if n["op"] == "Conv"][:2])
    assert share > log_stems.MAX_MAC_SHARE * log_stems.macs(network)
    assert quiet_positions.stems(network) == {}


def test_no_stem_where_the_log_reads_two_inputs() -> None:
    """log(x * m + 1): the tensor depends on two inputs' values, no stem."""
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    nodes = [helper.make_node("Mul", ["x", "m"], ["p"]), helper.make_node("Add", ["p", "one"], ["q"]),
             helper.make_node("Log", ["q"], ["y"])]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["N", 8])
                                             for k in ("x", "m")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])], [one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    assert quiet_positions.stems(_network(model)) == {}


def test_a_log_counts_quiet_values_not_positions() -> None:
    """Rows of RMS above one step (threshold 127: step 1.0) whose values are
    mostly below it: no quiet position, but 3 of 4 values quiet (a loud
    frame's soft bins, which a Log spreads out)."""
    rows = np.array([[4.0, 0.1, 0.2, 0.3], [0.5, 3.0, 0.1, 0.1]])
    assert quiet_positions.quiet_share(rows, 127.0) == 0.0
    assert quiet_positions.quiet_share(quiet_positions.per_value(rows), 127.0) == pytest.approx(6 / 8)
    assert quiet_positions.quiet_share(quiet_positions.per_value([rows, rows[:1]]), 127.0) == pytest.approx(9 / 12)
    # the stem's measure: the tensor a Log reads, per value
    network = _network(_spectro_model())
    layers, shares = quiet_positions.quiet_stems(network, {"power_eps": 127.0}, lambda names: {"power_eps": [rows]})
    assert shares == {"power_eps": 0.75} and layers == quiet_positions.stems(network)["power_eps"]


def test_auto_keeps_the_front_end_and_the_log_out_of_int8() -> None:
    """Tones over four decades with rests: every single method loses the
    quiet bins (centred cosine below 0.8); auto tries the stem (its share of
    the Log's input below one step reported per value), keeps it, and is
    within 0.005 of float32."""
    rng = np.random.default_rng(2)
    model, calib, evaluation = _spectro_model(), _audio(64, rng), _audio(32, rng)
    single = max(_score(model, calib, evaluation, alg)[0] for alg in ("minmax", "entropy", "percentile", "mse"))
    score, report, text = _score(model, calib, evaluation, "auto")
    assert report["float_stem"].startswith("on (auto: 11 layers, "), report["float_stem"]
    assert "power_eps" in report["float_stem"] and "of its values" in report["float_stem"]
    assert report["errors"]["float stem on"] < report["errors"]["float stem off"]
    assert f"float stem {report['float_stem']}" in text
    assert single < 0.8 and score > 0.995, (single, score)
