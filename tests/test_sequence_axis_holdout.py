"""A time-major recurrent network's calibration batches are held out whole
(accuracy/sequence_axis.py, run.py; acc30).

The holdout router cuts batches into samples along axis 0 where it is free;
for ``x [T, B, K] -> GRU`` axis 0 is time, and before acc30 auto's judge ran
the engines on time steps stitched from several windows against float32
outputs of those steps in their own windows: the float32 engine itself
scored a relative L2 far from 0 (gru_kws: 0.62). Now the judge's samples
are whole sequences and float32 scores 0 on it."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt.accuracy import auto_choice, sequence_axis  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

RNG = np.random.default_rng(3030)
T, K, H = 10, 6, 8


def gru_model(batch_first_input: bool = False) -> onnx.ModelProto:
    """x -> MatMul -> Relu -> GRU (time-major X) -> Y [T, 1, B, H]; with
    ``batch_first_input`` x is [B, T, K], transposed to time-major first."""
    nodes = []
    src = "x"
    if batch_first_input:
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]))
        src = "xt"
    nodes += [helper.make_node("MatMul", [src, "p"], ["pm"]), helper.make_node("Relu", ["pm"], ["pr"]),
              helper.make_node("GRU", ["pr", "w", "r", "b"], ["Y"], hidden_size=H, name="gru")]
    inits = [init("p", (0.4 * RNG.standard_normal((K, K))).astype(np.float32)),
             init("w", (0.4 * RNG.standard_normal((1, 3 * H, K))).astype(np.float32)),
             init("r", (0.4 * RNG.standard_normal((1, 3 * H, H))).astype(np.float32)),
             init("b", (0.1 * RNG.standard_normal((1, 6 * H))).astype(np.float32))]
    x = fvi("x", ["B", "T", K] if batch_first_input else ["T", "B", K])
    return model(nodes, [x], [fvi("Y", ["T", 1, "B", H])], inits)


def test_inputs_whose_axis_0_is_a_recurrent_layers_time() -> None:
    assert sequence_axis.time_major_inputs(int8rt.onnx.import_model(gru_model().SerializeToString())) == {"x"}
    batch_first = int8rt.onnx.import_model(gru_model(batch_first_input=True).SerializeToString())
    assert sequence_axis.time_major_inputs(batch_first) == set()  # axis 0 is the batch, transposed away


def _judge_of_float32(monkeypatch: pytest.MonkeyPatch) -> tuple[float, list[tuple[int, ...]]]:
    """auto on the time-major GRU: the relative L2 its judge gives the
    float32 engine, and the shapes of the judging samples."""
    captured = {}
    judge_for = auto_choice.judge_for

    def capture(network, fit, held, batch_size, reference=None):
        scorer, where = judge_for(network, fit, held, batch_size, reference)
        captured.update(scorer=scorer, shapes=[d["x"].shape for d in auto_choice.spread(held, 64)])
        return scorer, where

    monkeypatch.setattr(auto_choice, "judge_for", capture)
    m = gru_model()
    steps = np.cumsum(RNG.standard_normal((T, 4 * 12, K)), axis=0) / 3  # correlated in time
    data = [{"x": np.ascontiguousarray(steps[:, i:i + 4]).astype(np.float32)} for i in range(0, 48, 4)]
    int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(data, algorithm="auto"),
                                                accuracy_check=False))
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    return captured["scorer"](fp32._native).relative_l2, captured["shapes"]


def test_the_judge_of_a_time_major_network_reads_whole_sequences(monkeypatch: pytest.MonkeyPatch) -> None:
    error, shapes = _judge_of_float32(monkeypatch)
    assert shapes and all(s[0] == T for s in shapes), shapes  # whole [T, B, K] batches
    assert error < 1e-5, error


def test_cut_along_time_the_judge_scores_float32_far_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule before acc30 (axis 0 cut as samples): the bug reproduced."""
    monkeypatch.setattr(sequence_axis, "time_major_inputs", lambda network: set())
    error, shapes = _judge_of_float32(monkeypatch)
    assert any(s[0] != T for s in shapes) and error > 0.05, (error, shapes)
