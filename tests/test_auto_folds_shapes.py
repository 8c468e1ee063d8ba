"""auto's folds (python/int8rt/accuracy/crossval.py) over calibration samples
of several input shapes, as a segmenter calibrated on several image sizes
gets them: each fold is fitted on the other samples only, whatever group a
sample came in; and a sample type rare in the calibration data, held only
among the kept samples, reaches the choice through its fold.

The failure this guards against (issue 11's LRASPP row,
benchmarks/RESULTS_accuracy.md, acc15 / acc16): one silhouette crop among
16 calibration samples of four sizes, none of the 4 held out; the held-out
slice chose percentile 99.99, whose thresholds give up that crop's
extremes, and the evaluation data, where such crops recur, carried most of
the error on them. Before, such networks had no folds at all."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt._numerics import scale_from_amax
from int8rt.accuracy import crossval, metrics
from int8rt.calib import Collector
from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY

from test_auto_folds import _builder

SIZES = [(8, 8), (8, 12), (12, 8), (12, 12)]


def _conv_model(seed: int = 0) -> bytes:
    """x [N, 4, H, W] -> Conv 3x3 -> ReLU -> Conv 1x1 -> MaxPool 1x1 -> y [N, 4, H, W], H and W free.

    The 1x1 MaxPool (an identity) is an int8 reader of the last Conv's
    output, so the INT8 engine's output is that Conv's int8 codes,
    dequantized: the output these tests' choices were fitted on (a Conv that
    is itself the network output writes float32, lower_int8_conv_head.cc,
    and auto then picks otherwise)."""
    rng = np.random.default_rng(seed)
    arrays = {"w1": (rng.standard_normal((8, 4, 3, 3)) / 6).astype(np.float32), "b1": np.full(8, 0.1, np.float32),
              "w2": (rng.standard_normal((4, 8, 1, 1)) / 3).astype(np.float32), "b2": np.zeros(4, np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["h"]),
             helper.make_node("Conv", ["h", "w2", "b2"], ["c2"]),
             helper.make_node("MaxPool", ["c2"], ["y"], kernel_shape=[1, 1])]
    graph = helper.make_graph(nodes, "sizes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, "H", "W"])],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_each_fold_over_several_shapes_is_fitted_on_the_other_samples_only() -> None:
    """Kept sample i, counted over the groups in order, is in fold 1 + i % 3:
    minmax's threshold of the input in each fold is the largest |x| of every
    other sample (the held-out ones included), exactly; one sample per fold
    reaches far beyond the rest, in both groups, so no fold saw its own."""
    rng = np.random.default_rng(1)
    kept = [{"x": rng.standard_normal((5, 4, 8, 8)).astype(np.float32)},
            {"x": rng.standard_normal((4, 4, 8, 12)).astype(np.float32)}]
    held = [{"x": rng.standard_normal((2, 4, 12, 12)).astype(np.float32)}]
    kept[0]["x"][0, 0, 0, 0] = 20.0  # sample 0: fold 1
    kept[0]["x"][4, 1, 2, 3] = 30.0  # sample 4: fold 2
    kept[1]["x"][3, 2, 1, 0] = 40.0  # sample 8 (the second group's 4th): fold 3
    captured: list[dict[str, float]] = []
    core = _builder(_conv_model())

    def build(scales: dict[str, float]):
        captured.append(dict(scales))
        return core.build(scales)

    folds = crossval.Folds(build, lambda chunk, col: core.calibrate_batch(chunk, col._native),
                           lambda: Collector("minmax", num_bins=AUTO_NUM_BINS, policy=AUTO_POLICY),
                           core.optimized_network(), kept, held, 4, {"x"}, {"minmax": {"x": 1.0}})
    assert folds.samples == 9
    errors = folds.errors("minmax")
    assert len(captured) == crossval.FOLDS - 1
    every = [x for g in kept for x in g["x"]]  # kept samples in order
    for fold, scales in enumerate(captured):
        others = [x for i, x in enumerate(every) if i % (crossval.FOLDS - 1) != fold] + list(held[0]["x"])
        amax = max(float(np.abs(x).max()) for x in others)
        assert scales["x"] == scale_from_amax(float(np.float32(amax))), fold
        assert len(errors[fold].err) == 3  # scored on the fold's own three samples, of both sizes


def _samples(n: int, size: tuple[int, int], rare: list[int], rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of Gaussian values; those in ``rare`` a silhouette-like
    type: 30% of the values moved to the ends of the range (+-3.5), as a
    black-and-white photograph's pixels sit at both ends of the normalised
    range."""
    x = rng.standard_normal((n, 4, *size)).astype(np.float32)
    for i in rare:
        ends = rng.random(x[i].shape) < 0.3
        x[i][ends] = 3.5 * np.sign(x[i][ends])
    return x


def test_a_rare_sample_type_among_the_kept_samples_reaches_the_choice() -> None:
    """Four sizes x four calibration samples; the one rare sample is the
    first of the last size (index 12: kept, as every 4th is held out), so
    the held-out slice holds none. The evaluation data has the rare type at
    the same rate (one in eight per size). Without folds (before: several
    sizes made none) auto takes entropy, fitted to the common type; with
    them, the rare sample's fold shows entropy failing there and auto takes
    minmax. Judged on the evaluation samples by relative L2 against float32
    (a constant output scores about 1): auto's engine is now closer than
    every single method's, and far closer than before."""
    rng = np.random.default_rng(1)
    calib = [{"x": _samples(4, s, [0] if k == 3 else [], rng)} for k, s in enumerate(SIZES)]
    evaluation = [{"x": _samples(8, s, [k % 8], rng)} for k, s in enumerate(SIZES)]
    model = _conv_model()
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    reference = np.concatenate([fp32.run(e)["y"].reshape(8, -1) for e in evaluation], axis=1)

    def error(engine: int8rt.Engine) -> float:
        out = np.concatenate([engine.run(e)["y"].reshape(8, -1) for e in evaluation], axis=1)
        return metrics.relative_l2(reference, out)

    def build(algorithm: str, folds: bool = True, check: bool = False) -> int8rt.Engine:
        pool = crossval.pool
        if not folds:
            crossval.pool = lambda kept, held: None
        try:
            return int8rt.build_engine(model, int8rt.BuilderConfig(
                calibrator=int8rt.make_calibrator(calib, algorithm=algorithm), accuracy_check=check))
        finally:
            crossval.pool = pool

    before, after = build("auto", folds=False), build("auto")
    assert before.build_report().auto_choice["thresholds"] == "entropy"
    choice = after.build_report().auto_choice
    assert (choice["held_out_choice"], choice["thresholds"]) == ("entropy", "minmax")
    # with the accuracy check (the held-out samples then set no threshold) the folds decide alike
    assert build("auto", check=True).build_report().auto_choice["thresholds"] == "minmax"
    singles = {m: error(build(m)) for m in ("minmax", "mse", "percentile", "entropy")}
    assert error(after) <= min(singles.values()), (error(after), singles)
    assert error(after) <= 0.7 * error(before), (error(after), error(before))
