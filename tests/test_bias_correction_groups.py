"""auto's bias correction decided per group of layers (accuracy/bias_groups.py,
acc30): one correction that hurts no longer vetoes the ones that help.

The model has two independent paths with a known int8 mean shift each (as
test_matmul_lstm_bias_correction.py's: per output column one weight +-1,
the rest round to 0, so the int8 layer loses about 0.2 per column on an
input of mean 1): a Gemm ``x2 [B, K] -> y2`` (group Conv/Gemm) and a
MatMul + Add ``x [B, S, K] -> y`` (group MatMul). The Gemm's correction
is measured as it is; the MatMul's is made harmful on purpose (its measured
shift replaced by -3 times it, so its output's mean error grows about 4x):
the one correction that hurts. Metrics: per-column mean errors against
float32 on new inputs and centred cosines of each output (a constant
output cannot pass either)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt.accuracy import bias_correction as bc  # noqa: E402
from int8rt.accuracy import bias_groups, branch_bias  # noqa: E402
from int8rt.accuracy.metrics import centred_cosine  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402
from test_matmul_lstm_bias_correction import BIAS, K, N, S, W, _build, _x  # noqa: E402


def two_path_model() -> onnx.ModelProto:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="linear"),
             helper.make_node("Add", ["b", "mm"], ["y"], name="linear_bias"),
             helper.make_node("Gemm", ["x2", "wg", "b"], ["y2"], transB=1, name="gemm")]
    return model(nodes, [fvi("x", ["B", S, K]), fvi("x2", ["B", K])], [fvi("y", ["B", S, N]), fvi("y2", ["B", N])],
                 [init("w", W), init("wg", np.ascontiguousarray(W.T)), init("b", BIAS)])


def _feeds(count: int, batch: int = 8) -> list[dict[str, np.ndarray]]:
    return [{"x": _x((batch, S, K)), "x2": _x((batch, K))} for _ in range(count)]


@pytest.fixture
def harmful_matmul(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MatMul's measured shift replaced by -3 times it (a correction
    that hurts); the Gemm's left as measured."""
    measure = bc.measure_shifts

    def measured(*args, **kwargs):
        deltas = measure(*args, **kwargs)
        if "linear" in deltas:
            deltas["linear"] = (-3.0 * np.asarray(deltas["linear"])).tolist()
        return deltas

    monkeypatch.setattr(bc, "measure_shifts", measured)


def _errors(engine: int8rt.Engine, feed: dict[str, np.ndarray], ref: dict[str, np.ndarray]
            ) -> dict[str, tuple[float, float]]:
    """Per output: (largest per-column |mean error|, centred cosine)."""
    out = engine.create_execution_context().run(feed)
    return {k: (float(np.abs((out[k] - ref[k]).reshape(-1, N).mean(axis=0)).max()),
                centred_cosine(ref[k].reshape(len(ref[k]), -1), out[k].reshape(len(out[k]), -1)))
            for k in ("y", "y2")}


def _setting(m: onnx.ModelProto, data: list[dict[str, np.ndarray]]) -> tuple[dict, dict, dict]:
    """The new inputs, float32's outputs on them, and auto without correction's errors."""
    feed = _feeds(1, 32)[0]
    ref = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run(feed)
    return feed, ref, _errors(_build(m, data, "auto", False), feed, ref)


def test_a_harmful_group_is_left_off_and_the_helpful_one_kept(harmful_matmul: None) -> None:
    m, data = two_path_model(), _feeds(8)
    feed, ref, plain = _setting(m, data)
    engine = _build(m, data, "auto", None)
    choice = engine.build_report().auto_choice
    assert choice["bias_correction"] == "on (auto: Conv/Gemm; off: MatMul)", choice
    assert {"bias correction [Conv/Gemm] on", "bias correction [MatMul] on"} <= set(choice["errors"])
    got = _errors(engine, feed, ref)
    assert plain["y2"][0] > 0.15 and got["y2"][0] < 0.1 * plain["y2"][0], (plain, got)  # the Gemm corrected
    assert got["y"] == plain["y"]  # the MatMul path as without correction, exactly
    assert got["y"][1] > 0.9 and got["y2"][1] > 0.9  # outputs that follow the input


def test_decided_all_together_the_harmful_group_vetoes_the_helpful_one(harmful_matmul: None,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule before acc30 (one group of every layer): nothing is kept,
    and the Gemm's shift stays in the engine."""
    monkeypatch.setattr(bias_groups, "split", lambda network, deltas: {"all": dict(deltas)})
    m, data = two_path_model(), _feeds(8)
    feed, ref, plain = _setting(m, data)
    engine = _build(m, data, "auto", None)
    assert engine.build_report().auto_choice["bias_correction"] == "off (auto)"
    assert _errors(engine, feed, ref) == plain


def test_groups_that_all_help_are_all_kept() -> None:
    m, data = two_path_model(), _feeds(8)
    feed, ref, plain = _setting(m, data)
    engine = _build(m, data, "auto", None)
    assert engine.build_report().auto_choice["bias_correction"] == "on (auto)"
    got = _errors(engine, feed, ref)
    for k in ("y", "y2"):
        assert plain[k][0] > 0.15 and got[k][0] < 0.1 * plain[k][0], (k, plain, got)


def test_split_groups_layers_by_op() -> None:
    """Top-level layers by their op; a name of no node in ``other``, last
    (a layer inside an If branch goes by its op: test_if_branch_bias_correction.py's
    network, below)."""
    network = int8rt.onnx.import_model(two_path_model().SerializeToString())
    groups = bias_groups.split(network, {"unknown": [3.0], "linear": [2.0], "gemm": [1.0]})
    assert list(groups) == ["Conv/Gemm", "MatMul", bias_groups.OTHER]
    assert groups["MatMul"] == {"linear": [2.0]} and groups[bias_groups.OTHER] == {"unknown": [3.0]}


def test_a_layer_inside_an_if_branch_goes_by_its_op() -> None:
    from test_if_branch_bias_correction import biased_branch_model

    network = int8rt.onnx.import_model(biased_branch_model().SerializeToString())
    ops = branch_bias.branch_layer_ops(network)
    convs = [k for k, op in ops.items() if op == "Conv"]
    assert convs, ops
    assert bias_groups.split(network, {convs[0]: [1.0]}) == {"Conv/Gemm": {convs[0]: [1.0]}}
