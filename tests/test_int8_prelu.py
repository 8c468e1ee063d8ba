"""A PRelu with per-channel slopes folded into its Conv's int8 epilogue
(csrc/engine/lower_int8_prelu.cc, engine/ops/int8/qconv_prelu.cc,
kernels::Epilogue::slope, ref/requantize.h's activate / finish_output).

A small PReLU CNN the test makes (MTCNN's pattern: Conv -> PRelu -> MaxPool
-> Conv -> PRelu -> Conv, slopes [K, 1, 1] and [1, K, 1, 1], one of them
negative): the plan has no float PRelu and each such Conv says it applies the
PReLU; its output bytes on the reference tier (the reference conv applies the
slope in its epilogue) equal those of the optimized tier (a float32-output
kernel finished per value) to the bit; the int8 engine's error against FP32
is bounded and below the error of the same build with the PRelus kept in
float32 (the old plan: the conv's output rounded before the activation); a
numpy model of the epilogue from the engine's own int8 input codes, weights
and scales gives the PRelu output's codes exactly. A LeakyRelu and a
one-value PRelu stay element-wise tables (unchanged)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
import int8rt.kernels

RNG = np.random.default_rng(50)
F32 = np.float32


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)


W = {"w1": _w(8, 3, 3, 3), "b1": (RNG.standard_normal(8) * 0.3).astype(F32),
     "s1": np.array([0.25, -0.2, 0.5, 0.1, 0.0, 0.3, 0.75, 0.05], F32).reshape(8, 1, 1),
     "w2": _w(16, 8, 3, 3), "b2": (RNG.standard_normal(16) * 0.1).astype(F32),
     "s2": RNG.uniform(0.0, 0.6, 16).astype(F32).reshape(1, 16, 1, 1),
     "w3": _w(4, 16, 1, 1), "b3": (RNG.standard_normal(4) * 0.1).astype(F32),
     "one": np.array([0.2], F32)}


def _model(act: str) -> bytes:
    """x [n, 3, 12, 12] -> Conv (c1) -> act (p1) -> MaxPool 2x2 (m1) -> Conv
    pads 1 (c2) -> act (p2) -> Conv 1x1 -> y [n, 4, 6, 6]. act: "prelu"
    (slopes s1 / s2 per channel), "leaky" (LeakyRelu alpha 0.2) or "scalar"
    (PRelu with a one-value slope)."""
    def a(x: str, s: str, y: str):
        if act == "prelu":
            return helper.make_node("PRelu", [x, s], [y], name=f"prelu_{y}")
        if act == "scalar":
            return helper.make_node("PRelu", [x, "one"], [y], name=f"prelu_{y}")
        return helper.make_node("LeakyRelu", [x], [y], alpha=0.2, name=f"leaky_{y}")

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1"), a("c1", "s1", "p1"),
             helper.make_node("MaxPool", ["p1"], ["m1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["m1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"), a("c2", "s2", "p2"),
             helper.make_node("Conv", ["p2", "w3", "b3"], ["y"], name="conv3")]
    graph = helper.make_graph(nodes, "prelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, 5, 5])],
                              [numpy_helper.from_array(v, k) for k, v in W.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


CALIB = {"x": RNG.standard_normal((32, 3, 12, 12)).astype(F32)}
X = RNG.standard_normal((16, 3, 12, 12)).astype(F32)


def _build(act: str, cache: str, float_prelu: bool = False) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=8, cache_file=cache)
    kept = {"prelu_p1": "fp32", "prelu_p2": "fp32"} if float_prelu else None
    # The symmetric PRelu output grid (its lower-bounded one: test_int8_prelu_zero_point.py).
    return int8rt.build_engine(_model(act), int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                                 layer_precisions=kept, asymmetric_activations=False))


def _fp32(act: str) -> np.ndarray:
    return int8rt.build_engine(_model(act), int8rt.BuilderConfig(precision="fp32")).run({"x": X})["y"]


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("prelu") / "scales.cache")  # every build at the same scales


def test_plan_has_no_float_prelu(cache) -> None:
    engine = _build("prelu", cache)
    layers = engine.layers()
    assert not [l for l in layers if l["op"] == "PRelu"], layers
    convs = [l for l in layers if l["op"] == "int8rt.QConv"]
    assert len(convs) == 3, layers
    assert sum("PReLU" in l["detail"] for l in convs) == 2, convs
    sources = {s for l in engine.int8_plan().layers for s in l.sources}
    assert {"prelu_p1", "prelu_p2"} <= sources
    tensors = {t.tensor: t for t in engine.int8_plan().tensors}
    assert "c1" not in tensors and "c2" not in tensors  # the pre-activations are never int8
    assert tensors["p1"].zero_point == 0 and tensors["p2"].zero_point == 0


def test_float_prelu_kept_on_request(cache) -> None:
    """A PRelu the user keeps in float32 is not folded: the old plan."""
    layers = _build("prelu", cache, float_prelu=True).layers()
    assert [l["name"] for l in layers if l["op"] == "PRelu"] == ["prelu_p1", "prelu_p2"], layers
    assert not any("PReLU" in l["detail"] for l in layers)


def test_reference_tier_equals_optimized(cache) -> None:
    fast_engine = _build("prelu", cache)
    fast = fast_engine.run({"x": X})["y"]
    try:
        int8rt.set_max_isa("ref")
        ref_engine = _build("prelu", cache)
        ref = ref_engine.run({"x": X})["y"]
    finally:
        int8rt.set_max_isa(None)
    details = [l["detail"] for l in ref_engine.layers() if "PReLU" in l["detail"]]
    assert details and all("in the epilogue" in d for d in details), details
    if int8rt.kernels.cpu_features().get("avx2"):  # the optimized tier runs the float32 form
        details = [l["detail"] for l in fast_engine.layers() if "PReLU" in l["detail"]]
        assert details and all("finished per value" in d for d in details), details
    np.testing.assert_array_equal(fast, ref)


def tapped_conv2(engine) -> tuple[dict[str, np.ndarray], dict, dict, np.ndarray, np.ndarray, np.ndarray]:
    """conv2 of the tests' model seen from the engine: the int8 codes of its
    input m1 and output p2 (tapped; q with (q - z) * s == the tapped value,
    asserted), the plan's entries, conv2's attributes, int8 weights, float
    bias and int64 accumulators over the input codes (padding = the input's zero point)."""
    from int8rt.accuracy.taps import int8_tap_engine

    plan = {t.tensor: t for t in engine.int8_plan().tensors}
    shapes = {"m1": [16, 8, 5, 5], "p2": [16, 16, 5, 5]}
    tap, where = int8_tap_engine(engine._native.network(), shapes, list(shapes))
    out = tap.create_execution_context().run({"x": X})
    codes = {}
    for name in shapes:
        s, z = F32(plan[name].scale), plan[name].zero_point
        codes[name] = np.rint(out[where[name]] / s).astype(np.int64) + z
        np.testing.assert_array_equal(((codes[name] - z).astype(F32) * s).astype(F32), out[where[name]])
    net = engine._native.network()
    node = next(n for n in net.nodes() if n["name"] == "conv2")
    ins, attrs = node["inputs"], node["attrs"]
    wq = np.asarray(net.constant_data(ins[1])).astype(np.int64).reshape(16, 8, 3, 3)
    bias = np.asarray(net.constant_data(ins[2]), F32).reshape(-1)
    xp = np.pad(codes["m1"], ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=plan["m1"].zero_point)
    acc = np.zeros((16, 16, 5, 5), np.int64)
    for r in range(3):
        for c in range(3):
            acc += np.einsum("nchw,kc->nkhw", xp[:, :, r:r + 5, c:c + 5], wq[:, :, r, c])
    return codes, plan, attrs, wq, bias, acc


def test_epilogue_codes_match_numpy(cache) -> None:
    """conv2's fused epilogue from the engine's own int8 input (the pool's
    codes, tapped), int8 weights, weight scales and scales: q = rne(clip(
    prelu(float32(acc) * scale[k] + bias[k] / s_out, slope[k]), -128, 127)),
    scale[k] = s_in * s_w[k] / s_out, in float32 as requant_params.h says."""
    codes, plan, attrs, _, bias, acc = tapped_conv2(_build("prelu", cache))
    assert plan["m1"].zero_point == 0 and plan["p2"].zero_point == 0
    s_in, s_out = F32(attrs["in_scale"]), F32(attrs["out_scale"])
    s_w = np.asarray(attrs["w_scales"], F32)
    slope = np.asarray(attrs["slopes"], F32)
    scale = ((s_in * s_w).astype(F32) / s_out).astype(F32)
    t = (acc.astype(F32) * scale[None, :, None, None]).astype(F32) + (bias / s_out).astype(F32)[None, :, None, None]
    t = np.where(t < 0, (t * slope[None, :, None, None]).astype(F32), t)
    want = np.rint(np.clip(t, -128, 127)).astype(np.int64)
    np.testing.assert_array_equal(codes["p2"], want)


def test_accuracy_against_fp32(cache) -> None:
    """Relative L2 to FP32 below 0.03, and below the float-PRelu plan's."""
    ref = _fp32("prelu")
    fused = _rel_l2(_build("prelu", cache).run({"x": X})["y"], ref)
    kept = _rel_l2(_build("prelu", cache, float_prelu=True).run({"x": X})["y"], ref)
    assert fused < 0.03, (fused, kept)
    assert fused < kept, (fused, kept)


@pytest.mark.parametrize("act", ["leaky", "scalar"])
def test_one_slope_stays_a_table(act: str, tmp_path) -> None:
    """LeakyRelu and a one-value PRelu: element-wise tables as before, no PReLU epilogue."""
    layers = _build(act, str(tmp_path / "scales.cache")).layers()
    assert not any("PReLU" in l["detail"] for l in layers), layers
    assert len([l for l in layers if l["op"] == "int8rt.QLut"]) == 2, layers


def test_engine_file_keeps_the_slopes(cache) -> None:
    """An engine saved and loaded again runs the folded PReLU: the same bytes."""
    engine = _build("prelu", cache)
    loaded = int8rt.Engine.deserialize(engine.serialize())
    assert sum("PReLU" in l["detail"] for l in loaded.layers()) == 2
    np.testing.assert_array_equal(loaded.run({"x": X})["y"], engine.run({"x": X})["y"])
