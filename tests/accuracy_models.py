"""A model on which TensorRT's entropy calibration collapses, built by the
tests (no files): issue 12's "small CNN on a discrete-valued input".

Input: the bundled digits images as raw pixel counts (integers 0..16; the
data set's definition, before the bundled model's normalisation). Conv3x3
(1->16) with every channel's bias 0.8, ReLU: over the dark background every
channel outputs exactly 0.8, so the ReLU's histogram has one tall spike at
about 7% of its range on top of a spread. EntropyCalibration2's KL search
then puts the threshold on the spike (0.80 of 11.7), clipping half the
values. Conv3x3 (16->32), ReLU, AveragePool 2x2, Flatten and a Gemm head
fitted in closed form (ridge regression on one-hot labels) on the first half
of the bundled held-out images make a real classifier (FP32 top-1 about 0.94
on the second half), so accuracy is measured against real labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt.quickstart import DATA_PATH


@dataclass
class CollapseCase:
    model: bytes
    calib: np.ndarray     # raw calibration images [256, 1, 8, 8]
    eval_x: np.ndarray    # raw images the head was not fitted on
    eval_y: np.ndarray    # their labels


def _graph(w1, b1, w2, b2, head=None) -> bytes:
    arrays = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("AveragePool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"])]
    out = "f"
    if head is not None:
        arrays.update(w3=head[0], b3=head[1])
        nodes.append(helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1))
        out = "logits"
    graph = helper.make_graph(nodes, "entropy_collapse",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", None])],
                              [numpy_helper.from_array(a, n) for n, a in arrays.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def entropy_collapse_case(seed: int = 0) -> CollapseCase:
    data = np.load(DATA_PATH)
    raw = lambda x: np.rint((x * data["std"] + data["mean"]) * 16).astype(np.float32)  # noqa: E731
    calib, test, labels = raw(data["calib"]), raw(data["test_x"]), data["test_y"]
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((16, 1, 3, 3)) * 0.1).astype(np.float32)
    b1 = np.full(16, 0.8, np.float32)
    w2 = (rng.standard_normal((32, 16, 3, 3)) / np.sqrt(9 * 16)).astype(np.float32)
    b2 = np.zeros(32, np.float32)
    features = int8rt.build_engine(_graph(w1, b1, w2, b2), int8rt.BuilderConfig(precision="fp32")).run({"x": test})["f"]
    half = len(test) // 2
    a = np.c_[features[:half], np.ones(half)]
    w = np.linalg.solve(a.T @ a + 0.1 * np.eye(a.shape[1]), a.T @ np.eye(10)[labels[:half]])
    head = (np.ascontiguousarray(w[:-1].T, dtype=np.float32), w[-1].astype(np.float32))
    return CollapseCase(_graph(w1, b1, w2, b2, head), calib, test[half:], labels[half:])


@dataclass
class OverfitCase:
    model: bytes
    calib: np.ndarray     # [32, 64]: samples 0, 8, 16 carry an outlier; 3, 7, ... (held out) none
    fit: np.ndarray       # the samples the builder keeps for thresholds (index % 4 != 3)
    held: np.ndarray      # the ones it holds out (index % 4 == 3)


def overfit_case(seed: int = 0) -> OverfitCase:
    """A model on which choosing thresholds by the calibration samples they
    were computed from picks the wrong method: x [N, 64] -> Gemm -> ReLU ->
    Gemm -> y [N, 8], calibrated on 32 Gaussian samples, three of which
    (0, 8, 16: kept for thresholds when every 4th is held out) have one input
    feature at 60. On those samples the outlier dominates the output, so
    minmax (no clipping) is far the closest to float32 there; on samples
    without an outlier its step of 60/127 is far the worst, and the clipping
    methods (mse, percentile, entropy) win by an order of magnitude."""
    rng = np.random.default_rng(seed)
    calib = rng.standard_normal((32, 64)).astype(np.float32)
    calib[[0, 8, 16], 5] = 60.0
    w1 = (rng.standard_normal((64, 64)) / 8).astype(np.float32)
    w2 = (rng.standard_normal((64, 8)) / 8).astype(np.float32)
    b1 = np.full(64, 0.1, np.float32)
    b2 = np.zeros(8, np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["g1"]),
             helper.make_node("Relu", ["g1"], ["h"]),
             helper.make_node("Gemm", ["h", "w2", "b2"], ["y"])]
    arrays = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    graph = helper.make_graph(nodes, "overfit", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
                              [numpy_helper.from_array(v, k) for k, v in arrays.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    held = np.arange(32) % 4 == 3
    return OverfitCase(model.SerializeToString(), calib, calib[~held], calib[held])


def histogram_engine(model: bytes, batches: list, algorithm: str, **config) -> int8rt.Engine:
    """An INT8 engine calibrated by `algorithm` on histograms like auto's (its range
    policy and bin count), so every method is compared with auto on equal terms."""
    from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY
    calibrator = int8rt.make_calibrator([{"x": b} for b in batches], algorithm=algorithm, num_bins=AUTO_NUM_BINS,
                                        policy=AUTO_POLICY)
    return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, **config))
