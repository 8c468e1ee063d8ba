"""auto's float stem for a recurrent layer that reads a network input
(python/int8rt/accuracy/quiet_positions.py): which layers the stem is, and
the failure it cures, made up.

The failure (Resemblyzer's voice encoder, benchmarks/RESULTS_accuracy.md
acc51): a power mel spectrogram (not log) -> Transpose -> LSTM. The frames'
powers span five decades; the int8 LSTM quantizes its input on one grid for
every time step, the quiet frames round to nothing, and every single method
collapses (centred cosine 0.05-0.44). Keeping the LSTM (and the layout
layers before it) in float32 cures it; a recurrent layer that reads a
network's computed features (a CRNN's LSTM after its CNN) has no stem."""
from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _core
from int8rt.accuracy import metrics, quiet_positions
from int8rt.builder import _to_network

T, F, H = 24, 8, 16


def conv_over_time() -> list:
    """x [N, T, F] -> Transpose -> Conv1d over time (weights "wc" [F, F, 3]) -> Transpose -> xt [N, T, F]:
    computed features in front of a recurrent layer (a CRNN's shape, no float stem)."""
    return [helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 2, 1]),
            helper.make_node("Conv", ["xc", "wc"], ["c"], kernel_shape=[3], pads=[1, 1]),
            helper.make_node("Transpose", ["c"], ["xt"], perm=[0, 2, 1])]


def _lstm_model(seed: int = 0, conv: bool = False) -> bytes:
    """x [N, T, F] -> (Conv1d over time, with ``conv``) -> Transpose [T, N, F]
    -> LSTM (hidden 16) -> Y_h [1, N, 16] -> Squeeze -> Gemm -> y [N, 4]."""
    rng = np.random.default_rng(seed)
    arrays = {"w": (rng.standard_normal((1, 4 * H, F)) * 3.0).astype(np.float32),
              "r": (rng.standard_normal((1, 4 * H, H)) / np.sqrt(H)).astype(np.float32),
              "b": np.zeros((1, 8 * H), np.float32), "ax0": np.array([0], np.int64),
              "wo": (rng.standard_normal((4, H)) / np.sqrt(H)).astype(np.float32),
              "wc": (rng.standard_normal((F, F, 3)) / np.sqrt(3 * F)).astype(np.float32)}
    nodes, x = (conv_over_time(), "xt") if conv else ([], "x")
    nodes += [helper.make_node("Transpose", [x], ["seq"], perm=[1, 0, 2]),
              helper.make_node("LSTM", ["seq", "w", "r", "b"], ["", "h"], hidden_size=H),
              helper.make_node("Squeeze", ["h", "ax0"], ["h2"]),
              helper.make_node("Gemm", ["h2", "wo"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "rnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", T, F])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _powers(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` sequences of power-like frames: each frame's level drawn over six
    decades (log-uniform), its channels around it - most frames far below the
    loudest, as a power spectrogram's are."""
    level = 10.0 ** rng.uniform(-4, 2, (n, T, 1))
    return (level * rng.uniform(0.2, 1.0, (n, T, F))).astype(np.float32)


def _network(model: bytes) -> Any:
    return _core.Builder(_to_network(model, None), "int8").optimized_network()


def _score(model: bytes, calib: np.ndarray, evaluation: np.ndarray, algorithm: str) -> tuple[float, dict]:
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = int8rt.make_calibrator({"x": calib}, algorithm=algorithm, batch_size=16)
    engine = int8rt.build_engine(model, config)
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    ref, out = fp32.run({"x": evaluation})["y"], engine.run({"x": evaluation})["y"]
    return metrics.centred_cosine(ref, out), engine.build_report().auto_choice or {}


def test_the_stem_is_the_layout_chain_and_the_recurrent_layer() -> None:
    """x -> Transpose -> LSTM: the stem is the Transpose and the LSTM, input
    side first, keyed by the tensor the LSTM reads; not the Gemm after it."""
    network = _network(_lstm_model())
    ops = {n["name"]: n["op"] for n in network.nodes()}
    found = quiet_positions.stems(network)
    assert len(found) == 1
    (chain,) = found.values()
    assert [ops[n] for n in chain] == ["Transpose", "LSTM"]
    assert quiet_positions.stems(network, fp32_layers=chain) == {}


def test_no_stem_where_the_recurrent_layer_reads_computed_features() -> None:
    """x -> Conv1d -> LSTM (a CRNN in small): the LSTM's input is the Conv's
    output, no stem (the Conv is not a layout layer)."""
    network = _network(_lstm_model(conv=True))
    assert "Conv" in {n["op"] for n in network.nodes()}
    assert quiet_positions.stems(network) == {}


def test_auto_keeps_the_recurrent_layer_reading_quiet_frames_out_of_int8() -> None:
    """Power-like frames: minmax and mse lose the quiet frames (centred cosine
    below 0.9); auto tries the stem, keeps it, reports it, and is within 0.01
    of float32."""
    rng = np.random.default_rng(1)
    model, calib, evaluation = _lstm_model(), _powers(64, rng), _powers(32, rng)
    single = max(_score(model, calib, evaluation, alg)[0] for alg in ("minmax", "mse"))
    score, report = _score(model, calib, evaluation, "auto")
    assert report["float_stem"].startswith("on (auto: 2 layers, 0 of them in BF16; "), report["float_stem"]
    assert report["errors"]["float stem on"] < report["errors"]["float stem off"]
    assert single < 0.9 < 0.99 < score, (single, score)
