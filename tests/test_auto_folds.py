"""auto's folds (python/int8rt/accuracy/crossval.py, auto_choice.choose
step 4): a set whose worst fold is clearly better overrides the choice the
held-out slice alone makes; each fold's thresholds come from the other
samples only; folds are made only where the samples allow them."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt._numerics import scale_from_amax
from int8rt.accuracy import auto_choice, crossval
from int8rt.accuracy.auto_choice import FOLD_GAIN, _Errors, choose
from int8rt.accuracy.taps import WholeBatch
from int8rt.calib import Collector
from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY


def _errors(rel: float, n: int = 8) -> _Errors:
    """Errors of relative L2 ``rel`` spread evenly over ``n`` samples of energy 1."""
    return _Errors(np.full(n, rel * rel), np.ones(n))


def _choose(held: dict[str, float | _Errors], folds: dict[str, list[float]] | None) -> str:
    """choose() over two sets already built (no build runs), judged by ``held``."""
    sets = {label: ({"t": amax}, {"t": f"auto:all {label}"}) for label, amax in (("minmax", 4.0), ("mse", 2.0))}
    errors = {label: v if isinstance(v, _Errors) else _errors(v) for label, v in held.items()}
    judge = errors.__getitem__  # the "engines" are the labels themselves
    return choose(None, sets, {"t"}, judge, engines={k: k for k in sets},
                  folds=None if folds is None else _FixedFolds(folds)).label


class _FixedFolds:
    """Stands in for crossval.Folds: each label's relative L2 on the other folds."""

    def __init__(self, folds: dict[str, list[float]]) -> None:
        self.folds = folds
        self.asked: list[str] = []

    def errors(self, label: str) -> list[_Errors]:
        self.asked.append(label)
        return [_errors(v) for v in self.folds[label]]


def test_worst_fold_overrides_the_held_out_choice_only_by_its_margin() -> None:
    # levit_128 calibrated on dim crops (RESULTS_accuracy.md, 2026-12-03 late night): the held-out
    # slice favours mse clearly (every sample 30% lower), one fold shows it failing where minmax does not.
    held = {"minmax": 0.26, "mse": 0.18}
    folds = {"minmax": [0.29, 0.23, 0.33], "mse": [0.22, 0.20, 0.44]}
    assert _choose(held, None) == "mse"
    assert _choose(held, folds) == "minmax"
    # The worst folds: minmax 0.33 against mse 0.44; a gain under FOLD_GAIN keeps the held-out choice ...
    just_under = 0.44 * (1.0 - FOLD_GAIN) + 1e-6
    assert _choose(held, {"minmax": [0.29, 0.23, just_under], "mse": folds["mse"]}) == "mse"
    # ... and a fold on which every set fails alike (thresholds fitted without the only samples
    # that reach so far: the overfit case of test_auto_choice) decides nothing.
    assert _choose(held, {"minmax": [0.29, 0.23, 0.95], "mse": [0.22, 0.20, 0.97]}) == "mse"
    # Where the held-out slice is the worst fold of both, the folds add nothing: a lower error
    # there is step 3's to judge (by its t-test), not step 4's.
    # (minmax 22% lower on the held-out slice, carried by two of its eight samples: not clear.)
    spread = _Errors(np.array([0.001] * 6 + [0.15, 0.30]), np.ones(8))
    mse = _errors(0.30)
    assert spread.relative_l2 < 0.8 * mse.relative_l2 and not spread.clearly_below(mse)
    assert _choose({"minmax": spread, "mse": mse}, {"minmax": [0.2, 0.2, 0.2], "mse": [0.21, 0.2, 0.2]}) == "mse"
    assert _choose({"minmax": spread, "mse": mse}, {"minmax": [0.2, 0.2, 0.2], "mse": [0.21, 0.2, 0.5]}) == "minmax"


def _gemm_model(d: int = 16) -> bytes:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((d, 4)) / 4).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w", "b"], ["y"])], "gemm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_each_fold_is_fitted_on_the_other_samples_only() -> None:
    """minmax's threshold of the input in fold g is the largest |x| of every
    sample but fold g's, exactly; a sample far beyond the others in each
    fold shows that no fold saw its own."""
    rng = np.random.default_rng(1)
    kept = {"x": rng.standard_normal((9, 16)).astype(np.float32)}
    held = {"x": rng.standard_normal((3, 16)).astype(np.float32)}
    kept["x"][[0, 1, 2], 3] = [20.0, 30.0, 40.0]  # one per fold: kept sample i is in fold 1 + i % 3
    captured: list[dict[str, float]] = []
    core = _builder(_gemm_model())
    network = core.optimized_network()

    def build(scales: dict[str, float]):
        captured.append(dict(scales))
        return core.build(scales)

    folds = crossval.Folds(build, lambda chunk, col: core.calibrate_batch(chunk, col._native),
                           lambda: Collector("minmax", num_bins=AUTO_NUM_BINS, policy=AUTO_POLICY),
                           network, kept, held, 4, {"x"}, {"minmax": {"x": 1.0}, "percentile 99.99": {"x": 1.0}})
    errors = {"minmax": folds.errors("minmax")}
    assert len(errors["minmax"]) == crossval.FOLDS - 1 and len(captured) == crossval.FOLDS - 1
    assert folds.errors("minmax") == errors["minmax"] and len(captured) == crossval.FOLDS - 1  # kept, not rebuilt
    for fold, scales in enumerate(captured):
        others = np.concatenate([kept["x"][np.arange(9) % 3 != fold], held["x"]])
        assert scales["x"] == scale_from_amax(float(np.float32(np.abs(others).max()))), fold
        assert len(errors["minmax"][fold].err) == 3  # scored on the fold's own three samples


def _builder(model: bytes):
    """The native INT8 builder build_engine makes for ``model``."""
    from int8rt.builder import _builder_args, _to_network

    config = int8rt.BuilderConfig(precision="int8")
    return int8rt._core.Builder(_to_network(model, config.batch_size, config.input_shapes), **_builder_args(config),
                                keep_activation_qdq=False)


def test_folds_only_where_the_samples_allow_them() -> None:
    x = {"x": np.zeros((6, 4), np.float32)}
    assert crossval.pool(x, {"x": np.zeros((2, 4), np.float32)}) is not None
    assert crossval.pool(x, None) is None                                   # nothing held out
    assert crossval.pool([WholeBatch(x)], x) is None                       # whole batches and samples mixed
    assert crossval.pool({"x": np.zeros((2, 4), np.float32)}, x) is None    # fewer kept samples than folds
    assert crossval.pool({"x": np.zeros((6, 4), np.float32), "s": np.float32(1)}, x) is None  # no samples axis
    # several input shapes make folds too (test_auto_folds_shapes.py), each group kept as it is
    kept, held = crossval.pool([x, {"x": np.zeros((6, 5), np.float32)}], {"x": np.zeros((2, 5), np.float32)})
    assert [g["x"].shape for g in kept] == [(6, 4), (6, 5)] and [g["x"].shape for g in held] == [(2, 5)]
    kept, held = crossval.pool({"x": np.zeros((200, 4), np.float32)}, {"x": np.zeros((90, 4), np.float32)})
    assert [len(g["x"]) for g in kept] == [crossval.KEPT_SAMPLES] and [len(g["x"]) for g in held] == [crossval.MAX_SAMPLES]
    kept, _ = crossval.pool([{"x": np.zeros((100, 4), np.float32)}, {"x": np.zeros((100, 5), np.float32)}], x)
    assert [len(g["x"]) for g in kept] == [64, 64]  # spread over both groups (taps.spread), not the first 128


def test_auto_reports_the_worst_folds() -> None:
    """An auto build with held-out samples scores every set on its folds
    and says so in the build report; the choice is one of the sets."""
    rng = np.random.default_rng(2)
    calib = {"x": rng.standard_normal((32, 16)).astype(np.float32)}
    engine = int8rt.build_engine(_gemm_model(), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(calib, algorithm="auto", batch_size=8), accuracy_check=False))
    choice = engine.build_report().auto_choice
    # the held-out choice always, and the sets that could override it
    assert choice["held_out_choice"] in choice["worst_fold_errors"]
    assert set(choice["worst_fold_errors"]) <= set(auto_choice.GLOBAL_METHODS)
    for label, worst in choice["worst_fold_errors"].items():
        assert worst >= choice["errors"][label] - 1e-6  # the held-out slice is one of the folds
    assert choice["thresholds"] in auto_choice.GLOBAL_METHODS and choice["held_out_choice"] in auto_choice.GLOBAL_METHODS
    worst = choice["worst_fold_errors"]
    if choice["thresholds"] != choice["held_out_choice"]:  # step 4 overrode it: by its margin
        assert worst[choice["thresholds"]] < (1.0 - FOLD_GAIN) * worst[choice["held_out_choice"]]


def test_folds_choose_better_than_the_held_out_slice_on_unseen_images() -> None:
    """The collapse model (tests/accuracy_models.py, seed 2) calibrated on
    96 real digit images: the held-out slice (24 images) chooses mse, a fold
    shows mse's thresholds failing where minmax's hold (worst fold 0.115
    against 0.091), and on the 270 evaluation images the engine auto builds
    from minmax is closer to float32: relative L2 0.0534 against 0.0539
    with the held-out choice, centred cosine 0.99874 against 0.99868. (It
    was 0.054 against 0.063, bound 0.9x, while auto left bias correction
    off on mse's engine: most of that gap was the output offset the
    correction removes, which auto keeps since it reads the uncentred
    error too; RESULTS_accuracy.md acc20.)"""
    from accuracy_models import entropy_collapse_case
    from int8rt.accuracy import metrics

    c = entropy_collapse_case(seed=2)
    fp32 = int8rt.build_engine(c.model, int8rt.BuilderConfig(precision="fp32")).run({"x": c.eval_x})["logits"]

    def auto(folds: bool) -> tuple[str, float]:
        pool = crossval.pool
        if not folds:
            crossval.pool = lambda kept, held: None
        try:
            engine = int8rt.build_engine(c.model, int8rt.BuilderConfig(
                calibrator=int8rt.make_calibrator({"x": c.calib[:96]}, algorithm="auto", batch_size=16),
                accuracy_check=False))
        finally:
            crossval.pool = pool
        return (engine.build_report().auto_choice["thresholds"],
                metrics.relative_l2(fp32, engine.run({"x": c.eval_x})["logits"]))

    (old_label, old), (new_label, new) = auto(False), auto(True)
    assert (old_label, new_label) == ("mse", "minmax")
    assert new <= old, (new, old)


def test_folds_that_change_no_choice_change_no_output() -> None:
    """The folds only score (their collectors and engines are their own):
    where they do not override the choice, auto's engine computes bit for bit
    what it computes without them, and every other decision is the same (the
    collapse model, seed 1: mse both ways; seed 0, used until the sets were
    scored with unsigned activations, now takes minmax from the folds). (The engine files differ in the
    build report they carry, which lists the folds' errors.)"""
    from accuracy_models import entropy_collapse_case

    c = entropy_collapse_case(seed=1)

    def auto(folds: bool) -> int8rt.Engine:
        pool = crossval.pool
        if not folds:
            crossval.pool = lambda kept, held: None
        try:
            return int8rt.build_engine(c.model, int8rt.BuilderConfig(
                calibrator=int8rt.make_calibrator({"x": c.calib[:96]}, algorithm="auto", batch_size=16),
                accuracy_check=False))
        finally:
            crossval.pool = pool

    with_folds, without = auto(True), auto(False)
    choice = dict(with_folds.build_report().auto_choice)
    assert choice.pop("held_out_choice") == choice["thresholds"] == "mse"
    assert "mse" in choice.pop("worst_fold_errors")
    assert choice == without.build_report().auto_choice  # every other decision and error alike
    x = np.concatenate([c.calib[96:], c.eval_x])
    assert np.array_equal(with_folds.run({"x": x})["logits"], without.run({"x": x})["logits"])


def test_a_set_that_cannot_override_is_not_scored_on_the_folds() -> None:
    """A set whose held-out error is not FOLD_GAIN below the choice's worst
    fold cannot have a worst fold that low: choose() does not ask for it."""
    sets = {label: ({"t": amax}, {"t": f"auto:all {label}"})
            for label, amax in (("minmax", 4.0), ("mse", 2.0), ("entropy", 1.0))}
    held = {"minmax": _errors(0.26), "mse": _errors(0.18), "entropy": _errors(0.40)}
    folds = _FixedFolds({"minmax": [0.29, 0.23, 0.33], "mse": [0.22, 0.20, 0.44], "entropy": [0.1, 0.1, 0.1]})
    got = choose(None, sets, {"t"}, held.__getitem__, engines={k: k for k in sets}, folds=folds)
    # mse (the held-out choice) first; entropy's 0.40 >= 0.9 x 0.44: never asked
    assert folds.asked == ["mse", "minmax"] and got.label == "minmax"
    assert set(got.worst) == {"mse", "minmax"}
