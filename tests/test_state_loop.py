"""auto's judge for a network that carries a state across calls
(python/int8rt/accuracy/state_loop.py, issue 12, acc26): which outputs feed
which inputs, and the closed-loop scoring that ranks engines as a stream
ranks them where one step with float32's state ranks them the other way.
auto itself still judges one step (the closed loop is measured by
benchmarks/silero_auto_stream.py --judge; RESULTS_accuracy.md acc26 says why
it is not auto's default)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.accuracy import state_loop
from int8rt.accuracy.auto_choice import Scorer, judge_for, loop_judge_for
from int8rt.accuracy.taps import WholeBatch

B, F, H, STEPS = 4, 3, 6, 24


def _whole(**arrays) -> WholeBatch:
    return WholeBatch({k: np.asarray(v, np.float32) for k, v in arrays.items()}, samples=B)


def test_state_pairs_by_shape_and_name() -> None:
    held = [_whole(input=np.zeros((8, 576)), state=np.zeros((2, 8, 128)))]
    silero = {"output": np.zeros((8, 1), np.float32), "stateN": np.zeros((2, 8, 128), np.float32)}
    assert state_loop.pairs(held, silero) == {"state": "stateN"}
    assert state_loop.shaped_like_input(held, silero)
    rnn = [_whole(x=np.zeros((5, 4, 3)), h0=np.zeros((1, 4, 7)), c0=np.zeros((1, 4, 7)))]
    out = {"y": np.zeros((5, 1, 4, 7), np.float32), "hn": np.zeros((1, 4, 7), np.float32),
           "cn": np.zeros((1, 4, 7), np.float32)}
    assert state_loop.pairs(rnn, out) == {"h0": "hn", "c0": "cn"}
    assert state_loop.pairs([_whole(x=np.zeros((2, 4)), state=np.zeros((2, 4)))],
                            {"new_state": np.zeros((2, 4), np.float32)}) == {"state": "new_state"}


def test_no_pair_without_a_name_pairing_or_whole_batches() -> None:
    # a fixed-batch denoiser: its output is shaped like its input, and is no state
    denoiser = [_whole(x=np.zeros((4, 16)))]
    assert state_loop.shaped_like_input(denoiser, {"y": np.zeros((4, 16), np.float32)})
    assert state_loop.pairs(denoiser, {"y": np.zeros((4, 16), np.float32)}) == {}
    # two outputs could feed the state: none is taken
    two = {"stateN": np.zeros((2, 4), np.float32), "state_out": np.zeros((2, 4), np.float32)}
    assert state_loop.pairs([_whole(x=np.zeros((2, 3)), state=np.zeros((2, 4)))], two) == {}
    # another dtype, or split samples (not whole batches)
    assert state_loop.pairs([_whole(state=np.zeros((2, 4)))], {"stateN": np.zeros((2, 4), np.float16)}) == {}
    assert state_loop.pairs([{"state": np.zeros((2, 4), np.float32)}], {"stateN": np.zeros((2, 4), np.float32)}) == {}


def test_closed_loop_feeds_the_previous_outputs() -> None:
    seen = []

    def run(feed):
        seen.append(float(feed["s"][0]))
        return {"sn": feed["s"] + feed["x"]}

    chunks = [{"x": np.array([float(i)]), "s": np.array([100.0])} for i in range(1, 4)]
    got = state_loop.closed_loop(run, chunks, {"s": "sn"})
    assert seen == [100.0, 101.0, 103.0] and float(got[-1]["sn"][0]) == 106.0


def _recurrence(r: np.ndarray, w: np.ndarray) -> bytes:
    """stateN = state @ r + x @ w (state [1, B, H], as an RNN's [dirs, N, H])."""
    inits = [numpy_helper.from_array(r.astype(np.float32), "r"), numpy_helper.from_array(w.astype(np.float32), "w")]
    nodes = [helper.make_node("MatMul", ["state", "r"], ["sr"]), helper.make_node("MatMul", ["x", "w"], ["xw"]),
             helper.make_node("Add", ["sr", "xw"], ["stateN"])]
    graph = helper.make_graph(nodes, "recurrence",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, F]),
                               helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, B, H])],
                              [helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [1, B, H])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _fp32(model: bytes):
    return int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))


def test_one_step_and_closed_loop_judgments_disagree() -> None:
    """Two float32 engines of a perturbed recurrence: A's state gain is 4%
    high (a small error each step that the state compounds), B's input
    weights are noisy (a larger error each step that decays). One step on
    float32's state ranks A closer; the closed loop, as a stream runs it,
    ranks B closer, and A's loop error is many times its one-step error."""
    rng = np.random.default_rng(0)
    r, w = 0.9 * np.eye(H), 0.3 * rng.standard_normal((F, H))
    exact = _fp32(_recurrence(r, w)).create_execution_context()
    xs = [(rng.standard_normal((B, F)) + 1.0).astype(np.float32) for _ in range(STEPS)]
    state, data = np.zeros((1, B, H), np.float32), []
    for x in xs:  # the calibration stream: each batch with float32's state, as a builder receives it
        data.append(_whole(x=x, state=state))
        state = exact.run({"x": x, "state": state})["stateN"]
    network = int8rt.onnx.import_model(_recurrence(r, w))
    a = _fp32(_recurrence(1.04 * r, w))
    b = _fp32(_recurrence(r, w + 0.07 * rng.standard_normal(w.shape)))
    one_step = Scorer(network, data, B)
    loop = Scorer(network, data, B, feedback={"state": "stateN"})
    assert one_step(a).relative_l2 < one_step(b).relative_l2
    assert loop(b).relative_l2 < loop(a).relative_l2
    assert loop(a).relative_l2 > 4 * one_step(a).relative_l2
    # the closed-loop scorer auto judges bias correction by where there are state pairs
    judge = loop_judge_for(network, data, B, {"state": "stateN"})
    assert judge is not None and judge.feedback == {"state": "stateN"}
    assert judge(a).relative_l2 == pytest.approx(loop(a).relative_l2, rel=1e-6)
    assert loop_judge_for(network, data, B, {}) is None and loop_judge_for(network, data[:1], B, {"state": "x"}) is None
    assert judge_for(network, None, data, B)[0].feedback == {}
