"""auto's float stem (python/int8rt/accuracy/quiet_positions.py): which
layers a stem is, the quiet share, and the failure it cures, made up.

The failure (HuBERT, RESULTS.md section 133.3; benchmarks/RESULTS_accuracy.md,
acc33): raw audio with silence -> strided Conv1d / GELU stack without
biases -> Transpose -> a LayerNorm over each frame's channels. The frames'
spreads follow the audio's loudness (silence 45 dB below speech), every
int8 tensor of the stack has one step for all frames, the silent frames
round to nothing and the LayerNorm scales that up to a loud frame's size.
No threshold helps; keeping the stem in float32 does."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _core
from int8rt.accuracy import metrics, quiet_positions
from int8rt.builder import _to_network

HOP = 8  # samples per frame: strides 4 x 2


def _audio_model(seed: int = 0, c: int = 32) -> bytes:
    """x [N, T] -> Unsqueeze -> Conv1d 1->c (k 8, stride 4) -> Gelu ->
    Conv1d c->c (k 3, stride 2) -> Gelu -> Transpose [N, T/8, c] ->
    LayerNorm -> MatMul -> y [N, T/8, 8]: HuBERT's stem in small (no bias)."""
    rng = np.random.default_rng(seed)
    arrays = {"axis": np.array([1], np.int64),
              "w0": (rng.standard_normal((c, 1, 8)) / np.sqrt(8)).astype(np.float32) * 4,
              "w1": (rng.standard_normal((c, c, 3)) / np.sqrt(3 * c)).astype(np.float32) * 2,
              "g": np.ones(c, np.float32), "b": np.zeros(c, np.float32),
              "wo": (rng.standard_normal((c, 8)) / np.sqrt(c)).astype(np.float32)}
    nodes = [helper.make_node("Unsqueeze", ["x", "axis"], ["x1"]),
             helper.make_node("Conv", ["x1", "w0"], ["c0"], kernel_shape=[8], strides=[4], pads=[2, 2]),
             helper.make_node("Gelu", ["c0"], ["g0"]),
             helper.make_node("Conv", ["g0", "w1"], ["c1"], kernel_shape=[3], strides=[2], pads=[1, 1]),
             helper.make_node("Gelu", ["c1"], ["g1"]),
             helper.make_node("Transpose", ["g1"], ["frames"], perm=[0, 2, 1]),
             helper.make_node("LayerNormalization", ["frames", "g", "b"], ["ln"], axis=-1),
             helper.make_node("MatMul", ["ln", "wo"], ["y"])]
    graph = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 512])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 64, 8])],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()


def _audio(n: int, rng: np.random.Generator, quiet: float = 0.002) -> np.ndarray:
    """``n`` clips of 512 samples in runs of 64: a loud tone-and-noise run
    (amplitude 0.3) or silence (noise of std ``quiet``), each half the time."""
    t = np.arange(512)
    x = np.empty((n, 512))
    for i in range(n):
        tone = np.sin(2 * np.pi * t * rng.uniform(0.01, 0.1)) + 0.3 * rng.standard_normal(512)
        loud = np.repeat(rng.random(8) < 0.5, 64)
        x[i] = np.where(loud, 0.3 * tone / 1.3, quiet * rng.standard_normal(512))
    return x.astype(np.float32)


def _engine_score(model: bytes, calib: np.ndarray, evaluation: np.ndarray) -> tuple[float, dict, str]:
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = int8rt.make_calibrator({"x": calib}, algorithm="auto", batch_size=16)
    engine = int8rt.build_engine(model, config)
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    ref, out = fp32.run({"x": evaluation})["y"], engine.run({"x": evaluation})["y"]
    report = engine.build_report()
    return metrics.centred_cosine(ref, out), report.auto_choice, report.format()


def test_the_stem_is_the_chain_from_the_input_to_the_layernorm() -> None:
    """Every layer from x to the Transpose the LayerNorm reads (the Conv1d's
    2-d rewrites included), input side first; not the LayerNorm, nor the
    MatMul after it."""
    network = _core.Builder(_to_network(_audio_model(), None), "int8").optimized_network()
    found = quiet_positions.stems(network)
    assert list(found) == ["frames"]
    ops = {n["name"]: n["op"] for n in network.nodes()}
    chain = found["frames"]
    assert [ops[n] for n in chain if ops[n] in ("Conv", "Gelu", "Transpose")] == [
        "Conv", "Gelu", "Conv", "Gelu", "Transpose"]
    assert ops[chain[0]] == "Unsqueeze" and chain[-1] == [n for n, op in ops.items() if op == "Transpose"][0]
    assert not set(chain) & {n for n, op in ops.items() if op in ("LayerNormalization", "MatMul")}
    # a stem already float32 by hand is not one to try
    assert quiet_positions.stems(network, fp32_layers=chain) == {}


def test_no_stem_where_the_layernorm_reads_two_inputs_values() -> None:
    """x + m -> LayerNorm: the tensor depends on two inputs, no stem."""
    g, b = (numpy_helper.from_array(np.full(8, v, np.float32), k) for k, v in (("g", 1.0), ("b", 0.0)))
    nodes = [helper.make_node("Add", ["x", "m"], ["s"]),
             helper.make_node("LayerNormalization", ["s", "g", "b"], ["y"], axis=-1)]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["N", 4, 8])
                                             for k in ("x", "m")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8])], [g, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()
    network = _core.Builder(_to_network(model, None), "int8").optimized_network()
    assert quiet_positions.stems(network) == {}


def test_quiet_share_counts_positions_below_one_step() -> None:
    """Rows (positions) of RMS 0.5, 1.0 and 2.0 steps at threshold 127 (step
    1.0): the first is below one step, the second is not (not strictly below)."""
    rows = np.array([[0.5, -0.5, 0.5, -0.5], [1.0, -1.0, 1.0, -1.0], [2.0, 2.0, -2.0, -2.0]])
    assert quiet_positions.quiet_share(rows, 127.0) == pytest.approx(1 / 3)
    assert quiet_positions.quiet_share(rows[None], 127.0 * 1.5) == pytest.approx(2 / 3)  # step 1.5: RMS 1.0 too
    assert quiet_positions.quiet_share(rows, 0.0) == 0.0


def test_stem_precisions_bf16_convs_where_native() -> None:
    """The stem's Convs in BF16 where BF16 runs natively, every other layer
    (and everything under an ISA cap below AVX-512) in float32."""
    network = _core.Builder(_to_network(_audio_model(), None), "int8").optimized_network()
    chain = quiet_positions.stems(network)["frames"]
    ops = {n["name"]: n["op"] for n in network.nodes()}
    try:
        int8rt.set_max_isa("avx2")
        assert not quiet_positions.native_bf16()
        assert set(quiet_positions.stem_precisions(network, chain).values()) == {"fp32"}
    finally:
        int8rt.set_max_isa(None)
    if not quiet_positions.native_bf16():
        pytest.skip("no AVX512-BF16 here: the float32 case above is the one that runs")
    got = quiet_positions.stem_precisions(network, chain)
    assert {n for n, p in got.items() if p == "bf16"} == {n for n in chain if ops[n] == "Conv"}


@pytest.mark.parametrize("cap", [None, "avx2"])
def test_auto_keeps_the_quiet_stem_out_of_int8(monkeypatch: pytest.MonkeyPatch, cap) -> None:
    """Half the frames silent: auto with the rule off (QUIET_SHARE above 1)
    loses the silent frames (centred cosine below 0.9); with it, the stem is
    tried, kept, reported, and the engine is within 0.01 of float32; its
    Convs in BF16 where that runs natively (no ISA cap), in float32 under
    an AVX2 cap."""
    rng = np.random.default_rng(3)
    model, calib, evaluation = _audio_model(), _audio(64, rng), _audio(32, rng)
    int8rt.set_max_isa(cap)
    try:
        monkeypatch.setattr(quiet_positions, "QUIET_SHARE", 2.0)
        without, report, _ = _engine_score(model, calib, evaluation)
        assert report["float_stem"].startswith("off (positions below one int8 step: frames")
        monkeypatch.undo()
        with_, report, text = _engine_score(model, calib, evaluation)
        bf16 = 2 if quiet_positions.native_bf16() else 0
    finally:
        int8rt.set_max_isa(None)
    assert bf16 == 0 or cap is None
    assert report["float_stem"].startswith(f"on (auto: 10 layers, {bf16} of them in BF16; ")
    assert report["errors"]["float stem on"] < report["errors"]["float stem off"]
    assert f"float stem {report['float_stem']}" in text  # the build report's auto line says it
    assert without < 0.9 < 0.99 < with_, (without, with_)


def test_no_trial_where_no_position_is_quiet() -> None:
    """The same network on audio without silence (the quiet runs at the loud
    runs' level): no position below a step, nothing tried, int8 throughout."""
    rng = np.random.default_rng(4)
    model, calib, evaluation = _audio_model(), _audio(64, rng, quiet=0.2), _audio(16, rng, quiet=0.2)
    score, report, _ = _engine_score(model, calib, evaluation)
    assert report["float_stem"].startswith("off (positions below one int8 step: frames 0%")
    assert "float stem on" not in report["errors"]
    assert score > 0.98
