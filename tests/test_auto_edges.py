"""The auto calibrator and the accuracy check at their edges (issue 12):
fewer calibration samples than ``holdout_every`` (nothing can be held out,
so the choice and the check fall back to the calibrating samples and say
so), and a network whose inputs are not batch-first (a recurrent state
``[2, N, H]`` beside ``x[N, D]``, as Silero VAD's), whose calibration
batches must be run whole, never cut or joined along axis 0."""
from __future__ import annotations

import logging
from typing import Optional

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.accuracy import metrics
from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY
from int8rt.quickstart import DATA_PATH, MODEL_PATH

DIGITS = np.load(DATA_PATH)


def _builds(batches: list[dict[str, np.ndarray]], model, algorithm: str, options: Optional[dict] = None,
            **config) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(batches, algorithm=algorithm, **(options or {}))
    return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, **config))


@pytest.mark.parametrize("check", [True, False])
def test_auto_with_fewer_samples_than_the_holdout_rule(check: bool, caplog) -> None:
    x = DIGITS["calib"][:3]  # holdout_every=4: sample 3 would be the first held out
    model = MODEL_PATH.read_bytes()
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).run({"input": x})["logits"]
    with caplog.at_level(logging.INFO, logger="int8rt"):
        auto = _builds([{"input": x}], model, "auto", accuracy_check=check)
    assert any("no calibration samples held out" in r.getMessage() for r in caplog.records)
    # Judged on the samples it calibrated on, auto keeps its default (mse,
    # auto_choice.DEFAULT_METHOD) unless another set is clearly better there:
    # no worse than mse on them (same histograms, exact searches), and three
    # samples are too few for a t-test to call minmax's lower error there
    # (which the thresholds were fitted to) clearly lower.
    err = {m: metrics.relative_l2(fp32, _builds([{"input": x}], model, m, accuracy_check=False)
                                  .run({"input": x})["logits"])
           for m in ("minmax", "mse", "percentile")}
    got = metrics.relative_l2(fp32, auto.run({"input": x})["logits"])
    assert got <= err["mse"] * (1 + 1e-6), (got, err)
    report = auto.build_report()
    assert report.measured is check
    if check:  # measured on the calibrating samples, and says so
        assert report.held_out is False and report.check_samples == 3


def _state_model(n: int) -> bytes:
    """y = relu(x @ w + state[0]); new_state = relu(state @ u): the state's
    axis 0 is h/c-like (2), the batch is its axis 1 (fixed at ``n``, as
    a model imported with fixed shapes)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    u = rng.standard_normal((4, 4)).astype(np.float32) * 0.5
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"]),
             helper.make_node("Slice", ["state", "zero", "one", "zero"], ["s0"]),
             helper.make_node("Squeeze", ["s0", "zero"], ["s"]),
             helper.make_node("Add", ["xw", "s"], ["pre"]),
             helper.make_node("Relu", ["pre"], ["y"]),
             helper.make_node("MatMul", ["state", "u"], ["su"]),
             helper.make_node("Relu", ["su"], ["new_state"])]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(u, "u"),
             numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([1], np.int64), "one")]
    graph = helper.make_graph(nodes, "state", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, 8]),
                                               helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, n, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, 4]),
                               helper.make_tensor_value_info("new_state", TensorProto.FLOAT, [2, n, 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("algorithm", ["minmax", "auto"])
def test_inputs_that_are_not_batch_first(n: int, algorithm: str) -> None:
    rng = np.random.default_rng(1)
    model = _state_model(n)
    batches = [{"x": rng.standard_normal((n, 8)).astype(np.float32),
                "state": rng.standard_normal((2, n, 4)).astype(np.float32)} for _ in range(12)]
    engine = _builds(batches, model, algorithm)
    report = engine.build_report()
    assert report.measured and report.held_out  # every 4th batch, whole
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    held = batches[3::4]  # the report's figures are those of these batches, each run whole
    want = {k: np.concatenate([fp32.run(b)[k] for b in held]) for k in ("y", "new_state")}
    got = {k: np.concatenate([engine.run(b)[k] for b in held]) for k in ("y", "new_state")}
    measured = {out.name: out.relative_l2 for out in report.outputs}
    for k in want:
        # int8 of a 4-wide layer on 3 rows: a few percent (stated bound: 0.15)
        assert metrics.relative_l2(want[k], got[k]) < 0.15, k
        assert measured[k] == pytest.approx(metrics.relative_l2(want[k], got[k]), rel=1e-4), k


@pytest.mark.parametrize("method", ["mse", "minmax"])
def test_auto_choosing_one_method_is_that_calibrator_bit_for_bit(method: str, monkeypatch) -> None:
    """Where auto's choice is one method for every tensor, its engine is that
    calibrator's with auto's histogram options: thresholds from the histograms of every calibration sample
    (the held-out ones too, in stream order) with the method's exact search.
    The choice is pinned to ``method`` here (which method wins on a given
    model is another test's business)."""
    from int8rt.accuracy import auto_choice

    real = auto_choice.choose

    def pinned(build, sets, *args, **kwargs):
        got = real(build, sets, *args, **kwargs)  # the real steps run, their result is replaced
        return auto_choice.Choice(method, dict(sets[method][0]), dict(sets[method][1]), got.errors, got.engines)

    monkeypatch.setattr(auto_choice, "choose", pinned)
    model = MODEL_PATH.read_bytes()
    batches = [{"input": DIGITS["calib"][i:i + 32]} for i in range(0, 256, 32)]
    # the corrections off (bias correction, unsigned activations, equalization): the thresholds are the subject
    auto = _builds(batches, model, "auto", accuracy_check=False, bias_correction=False, unsigned_activations=False,
                   equalize=False)
    single = _builds(batches, model, method, dict(num_bins=AUTO_NUM_BINS, policy=AUTO_POLICY),  # auto's histograms
                     accuracy_check=False)
    x = DIGITS["test_x"]
    assert np.array_equal(auto.run({"input": x})["logits"], single.run({"input": x})["logits"]), method
