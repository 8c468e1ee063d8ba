"""auto's per-part choice (int8rt/accuracy/auto_parts.py, BuilderConfig.auto_parts):
on a network whose front end wants a method that keeps its range and whose
back end wants one that clips, no whole-network method is close to float32
and the per-part choice finds the mix; off (the default), the engine is
byte for byte today's."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.accuracy import auto_parts, metrics

from accuracy_models import histogram_engine

D = 128  # channels
T = 128  # positions per sample


def _samples(n: int, rng: np.random.Generator) -> np.ndarray:
    """x [n, T, D], standard normal, but at one position of each sample
    channel 0 is +-20 (a value the output reads) and channel D-1 is 1 (0
    elsewhere: the back end's spike source)."""
    x = rng.standard_normal((n, T, D)).astype(np.float32)
    x[:, :, D - 1] = 0.0
    at = rng.integers(0, T, (2, n))
    x[np.arange(n), at[0], 0] = rng.choice([-20.0, 20.0], n)
    x[np.arange(n), at[1], D - 1] = 1.0
    return x


def two_part_model(seed: int = 0) -> bytes:
    """x -> MatMul (identity) -> g1 -> MatMul -> g2 -> MatMul -> y [N, T, 8].
    The front tensors x and g1 carry channel 0's +-20 at one position in
    T x D = 16384 values per sample (6e-5 of them, below percentile
    99.99's 1e-4: it clips them), which the output reads through g2's
    channel D-1 (x0 / 10) at a large weight: a front threshold that keeps
    them (minmax, mse) is far closer to float32. g2 carries the spike
    source times 200 in channel 0 at one position, which the output does
    not read (a zero row of the last weight): a back threshold that keeps
    it (minmax, mse) spends g2's int8 step (1.6) on it and drowns channels
    1..D-2 (unit scale), which the output reads; percentile clips it."""
    rng = np.random.default_rng(seed)
    w1 = np.eye(D, dtype=np.float32)
    w2 = np.zeros((D, D), np.float32)
    w2[D - 1, 0] = 200.0
    w2[np.arange(1, D - 1), np.arange(1, D - 1)] = 1.0
    w2[0, D - 1] = 0.1
    w3 = (rng.standard_normal((D, 8)) / np.sqrt(D)).astype(np.float32)
    w3[0] = 0.0
    w3[D - 1] *= 24.0
    arrays = {"w1": w1, "w2": w2, "w3": w3}
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["g1"]),
             helper.make_node("MatMul", ["g1", "w2"], ["g2"]),
             helper.make_node("MatMul", ["g2", "w3"], ["y"])]
    graph = helper.make_graph(nodes, "two_parts",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", T, D])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", T, 8])],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(1)
    model, calib, test = two_part_model(), _samples(64, rng), _samples(256, rng)
    want = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).run({"x": test})["y"]
    return model, [calib[i:i + 8] for i in range(0, 64, 8)], test, want


def _auto(model: bytes, batches: list, **config) -> int8rt.Engine:
    return histogram_engine(model, batches, "auto", accuracy_check=False, bias_correction=False,
                            unsigned_activations=False, equalize=False, **config)


def test_split_is_contiguous_in_run_order_and_covers_every_tensor(case) -> None:
    from int8rt import _core
    from int8rt.builder import _to_network

    network = _core.Builder(_to_network(case[0], None), "int8").optimized_network()
    assert auto_parts.split(network, {"g2", "x", "g1"}, 2) == [["x", "g1"], ["g2"]]
    assert auto_parts.split(network, {"g2", "x", "g1"}, 3) == [["x"], ["g1"], ["g2"]]
    assert auto_parts.split(network, {"g2", "x"}, 4) == [["x"], ["g2"]]
    assert auto_parts.split(network, {"g1", "x", "g2"}, 1) == [["x", "g1", "g2"]]


def test_per_part_choice_finds_the_front_and_the_back_methods(case) -> None:
    model, batches, test, want = case
    error = lambda e: metrics.relative_l2(want, e.run({"x": test})["y"])  # noqa: E731
    singles = {m: error(histogram_engine(model, batches, m, accuracy_check=False))
               for m in ("minmax", "mse", "percentile", "entropy")}
    whole = _auto(model, batches)
    parts = _auto(model, batches, auto_parts=2)
    report = parts.build_report().auto_choice
    # The construction: no single method is near float32 (measured on the
    # 256 evaluation samples: minmax 0.474, mse 0.447, percentile 0.261,
    # entropy 0.572 relative L2), and auto's whole-network choice is the best of them.
    assert min(singles.values()) > 0.2, singles
    assert error(whole) <= 1.01 * min(singles.values()), (error(whole), singles)
    # The front part (x, g1) leaves percentile for minmax (mse, also keeping
    # the +-20, measured 0.0691 against 0.0673 on the held-out samples) and
    # the back (g2) keeps percentile.
    assert [(p["from"], p["to"], p["taken"]) for p in report["parts"]] == [("x", "g1", "minmax"), ("g2", "g2", "kept")]
    assert "per part minmax, kept" in parts.build_report().format()
    # On the samples no threshold saw: measured 0.0675, against 0.261 for the
    # best whole-network set; asserted below 0.1 and below 0.4x that.
    assert error(parts) < 0.1 and error(parts) < 0.4 * min(singles.values()), (error(parts), singles)


def test_option_off_is_todays_engine(case, monkeypatch) -> None:
    model, batches, _, _ = case
    off = _auto(model, batches, auto_parts=0)
    assert "parts" not in off.build_report().auto_choice

    def never(*args, **kwargs):
        raise AssertionError("the per-part choice ran with auto_parts off")

    monkeypatch.setattr(auto_parts, "choose_parts", never)
    assert _auto(model, batches).serialize() == off.serialize()  # the default is off


def test_run_order_places_if_branch_tensors_at_their_if() -> None:
    from int8rt import _core
    from int8rt.builder import _to_network
    from test_if_branch_bias_correction import biased_branch_model

    network = _core.Builder(_to_network(biased_branch_model().SerializeToString(), None), "int8").optimized_network()
    where = auto_parts.run_order(network)
    # the If's index, then the branch (then 0, else 1), then the place inside it
    pick = next(i for i, n in enumerate(network.nodes()) if n["op"] == "If")
    assert where["pick/then_branch/t_y"][:2] == (pick, 0) and len(where["pick/then_branch/t_y"]) == 3
    assert where["pick/else_branch/e_y"][:2] == (pick, 1) and len(where["pick/else_branch/e_y"]) == 3
    assert auto_parts.split(network, {"pick/else_branch/e_y", "x", "pick/then_branch/t_y"}, 3) == \
        [["x"], ["pick/then_branch/t_y"], ["pick/else_branch/e_y"]]


def test_under_recordings_a_part_switches_only_where_lower_on_every_recording() -> None:
    from int8rt.accuracy import recordings
    from int8rt.accuracy.auto_choice import _Errors

    groups, ref = np.repeat(np.arange(5), 2), np.ones(10)
    current = _Errors(np.repeat([0.04, 0.04, 0.09, 0.03, 0.06], 2) ** 2, ref, groups=groups)
    # amfm's shape (acc40): lower overall and on the worst recording, higher on three of five
    mixed = _Errors(np.repeat([0.038, 0.041, 0.075, 0.032, 0.062], 2) ** 2, ref, groups=groups)
    assert recordings.below(mixed, current, 0.01) and not recordings.lower_on_each(mixed, current)
    steady = _Errors(np.repeat([0.035, 0.036, 0.08, 0.029, 0.05], 2) ** 2, ref, groups=groups)
    assert recordings.below(steady, current, 0.01) and recordings.lower_on_each(steady, current)
    assert recordings.lower_on_each(_Errors(current.err, ref), _Errors(current.err, ref)) is None  # no recordings

    def judge(engine):  # the engine stands for its thresholds: the trial's errors
        return {"mixed": mixed, "steady": steady}.get(engine, current)

    sets = {"mse": ({"a": 1.0}, {}), "mixed": ({"a": 2.0}, {}), "steady": ({"a": 3.0}, {})}
    build = lambda scales: {1.0: "mse", 2.0: "mixed", 3.0: "steady"}[round(scales["a"] * 127, 3)]  # noqa: E731
    out = auto_parts.choose_parts(build, judge, {k: v for k, v in sets.items() if k != "steady"}, "mse",
                                  {"a": 1.0}, {"a": "auto:all mse"}, "mse", current, [["a"]])
    assert not out.switched and out.trials[0].tried == {"mixed": pytest.approx(mixed.relative_l2)}
    out = auto_parts.choose_parts(build, judge, sets, "mse", {"a": 1.0}, {"a": "auto:all mse"}, "mse", current,
                                  [["a"]])
    assert out.trials[0].taken == "steady" and out.methods == {"a": "auto:steady"} and out.amaxes == {"a": 3.0}


@pytest.mark.parametrize("parts", [-1, 1.5, True])
def test_a_part_count_that_is_not_a_count_is_refused(parts) -> None:
    from int8rt.data_calibrator import make_calibrator
    from int8rt.quickstart import DATA_PATH, MODEL_PATH

    calibrator = make_calibrator({"input": np.load(DATA_PATH)["calib"][:32]})
    with pytest.raises(int8rt.InvalidArgumentError, match="auto_parts"):
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=calibrator, auto_parts=parts))
