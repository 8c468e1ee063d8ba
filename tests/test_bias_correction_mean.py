"""Bias correction's mean shift through the taps (accuracy/bias_correction.py,
``_tap_sums``) against its naive twin, each layer run alone in float32 on x
and W and on q(x) and q(W) (``measure_shifts(linear=False)``): the same
shifts to float rounding (1e-4 of the largest, the naive side summing
float32 conv outputs), over the geometry a conv can have: stride 2,
dilation 2, asymmetric pads, groups, a depthwise conv, a fused residual,
Gemm with and without transB, an input on the unsigned grid."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _core
from int8rt.accuracy import bias_correction as bc
from int8rt.calib import Collector

RNG = np.random.default_rng(11)
F32 = np.float32


def _model() -> bytes:
    def w(*shape: int) -> np.ndarray:
        return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w1", w(8, 3, 3, 3)), ("b1", RNG.standard_normal(8).astype(F32) * 0.1),
        ("w2", w(8, 4, 3, 3)), ("b2", RNG.standard_normal(8).astype(F32) * 0.1),
        ("wd", w(8, 1, 3, 3)), ("bd", RNG.standard_normal(8).astype(F32) * 0.1),
        ("w3", w(8, 8, 1, 1)), ("b3", RNG.standard_normal(8).astype(F32) * 0.1),
        ("wf", w(8, 6)), ("bf", RNG.standard_normal(6).astype(F32) * 0.1),
        ("wg", w(5, 6)), ("bg", RNG.standard_normal(5).astype(F32) * 0.1)]]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 0, 2, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[2, 2, 2, 2], dilations=[2, 2], group=2),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "wd", "bd"], ["cd"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Conv", ["cd", "w3", "b3"], ["c3"]),
        helper.make_node("Add", ["c3", "r2"], ["a"]),
        helper.make_node("Relu", ["a"], ["r3"]),
        helper.make_node("GlobalAveragePool", ["r3"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["h"]),
        helper.make_node("Gemm", ["h", "wg", "bg"], ["y"], transB=1),
    ]
    graph = helper.make_graph(nodes, "bc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 13, 11])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_mean_through_the_taps_equals_running_each_layer() -> None:
    builder = _core.Builder(int8rt.onnx.import_model(_model()), "int8")
    network = builder.optimized_network()
    x = RNG.standard_normal((24, 3, 13, 11)).astype(F32)
    collector = Collector("minmax")
    builder.calibrate_batch({"x": x}, collector._native)
    scales = collector.scales()
    r1 = next(n for n in scales if n == "r1" or n.endswith("r1"))
    affine = {r1: (scales[r1] * F32(127) / F32(255), -128)}  # r1 on the unsigned grid
    data = [{"x": x}]
    for grids in ({}, affine):
        fast = bc.measure_shifts(network, scales, data, 8, set(), affine=grids)
        naive = bc.measure_shifts(network, scales, data, 8, set(), affine=grids, linear=False)
        assert set(fast) == set(naive) and len(naive) >= 6, (sorted(fast), sorted(naive))
        for name, want in naive.items():
            got, want = np.asarray(fast[name]), np.asarray(want)
            assert np.abs(want).max() > 0, name
            assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max() + 1e-7, (name, got, want)
