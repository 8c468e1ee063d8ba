"""A Gemm whose output only leaves the network, through data movement
(Gemm -> Flatten -> logits: calib15_mtcnn.py's RNet / ONet heads), writes
float32 from its accumulators (Lowerer::lower_gemm's int8_out, the rule
Lowerer::leaves_as_float_only): the logits are not rounded to int8 before
the Flatten. RESULTS_accuracy.md acc54: MTCNN ONet's relative L2 0.046 ->
0.033 with it.

MTCNN's pattern in small: x [n, 16] -> Gemm (fc1) -> PRelu (one slope per
feature) -> Gemm (fc2) -> Flatten -> logits [n, 2]. The engine with the
Flatten gives the same bytes as the same network without it (fc2's output
the network output, written float32 before this rule too); the Flatten runs
in float32 and no Dequantize follows fc2; the same holds on the reference
tier; a Gemm whose output an int8 layer also reads still writes int8."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

RNG = np.random.default_rng(54)
F32 = np.float32
W = {"w1": (RNG.standard_normal((32, 16)) * 0.35).astype(F32), "b1": (RNG.standard_normal(32) * 0.2).astype(F32),
     "s1": RNG.uniform(-0.1, 0.6, 32).astype(F32),
     "w2": (RNG.standard_normal((2, 32)) * 0.3).astype(F32), "b2": np.array([0.3, -0.2], F32),
     "w3": (RNG.standard_normal((4, 2)) * 0.5).astype(F32)}
CALIB = {"x": RNG.standard_normal((48, 16)).astype(F32)}
X = RNG.standard_normal((20, 16)).astype(F32)


def _model(head: str) -> bytes:
    """fc1 -> PRelu -> fc2 (output y2), then by ``head``: "flatten" (y2 ->
    Flatten -> logits), "direct" (y2 is the output, named logits), "shared"
    (y2 -> Flatten -> logits, and y2 -> Gemm fc3 -> second output z)."""
    y2 = "logits" if head == "direct" else "y2"
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], transB=1, name="fc1"),
             helper.make_node("PRelu", ["h1", "s1"], ["p1"], name="prelu1"),
             helper.make_node("Gemm", ["p1", "w2", "b2"], [y2], transB=1, name="fc2")]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])]
    if head != "direct":
        nodes.append(helper.make_node("Flatten", ["y2"], ["logits"], axis=1, name="flatten"))
    if head == "shared":
        nodes.append(helper.make_node("Gemm", ["y2", "w3"], ["z"], transB=1, name="fc3"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 4]))
    inits = [numpy_helper.from_array(v, k) for k, v in W.items() if k != "w3" or head == "shared"]
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _build(head: str, max_isa: str | None = None) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=16)
    return int8rt.build_engine(_model(head), int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                                  max_isa=max_isa))


def _layers(engine: int8rt.Engine) -> dict[str, dict[str, str]]:
    return {layer["name"]: layer for layer in engine.layers()}


def _head_dequantized(layers: dict[str, dict[str, str]]) -> bool:
    """Whether fc2's output (y2, or the Flatten's logits) goes through an int8rt.Dequantize."""
    return "y2::dequantize" in layers or "logits::dequantize" in layers


@pytest.fixture(scope="module")
def flatten_engine() -> int8rt.Engine:
    return _build("flatten")


def test_head_gemm_writes_float32(flatten_engine: int8rt.Engine) -> None:
    layers = _layers(flatten_engine)
    assert layers["fc2"]["op"] == "int8rt.QGemm", layers["fc2"]
    assert not _head_dequantized(layers), list(layers)
    assert layers["flatten"]["precision"] == "fp32", layers["flatten"]


def test_flatten_adds_no_rounding(flatten_engine: int8rt.Engine) -> None:
    """The same bytes as the network whose fc2 output is the output itself."""
    got = flatten_engine.run({"x": X})["logits"]
    want = _build("direct").run({"x": X})["logits"]
    assert got.dtype == want.dtype == F32
    bad = np.flatnonzero(got.ravel() != want.ravel())
    assert bad.size == 0, f"{bad.size} of {got.size} differ, first at {bad[0]}: {got.ravel()[bad[0]]} != {want.ravel()[bad[0]]}"
    # not on fc2's int8 grid (the old plan's logits were codes * scale)
    fp32 = int8rt.build_engine(_model("flatten"), int8rt.BuilderConfig(precision="fp32")).run({"x": X})["logits"]
    step = float(np.abs(fp32).max()) / 127.0
    assert np.mean(np.abs(got / step - np.rint(got / step)) > 1e-3) > 0.5


def test_reference_tier_gives_the_same_bytes(flatten_engine: int8rt.Engine) -> None:
    ref = _build("flatten", max_isa="ref")
    assert not _head_dequantized(_layers(ref)), list(_layers(ref))
    np.testing.assert_array_equal(ref.run({"x": X})["logits"], flatten_engine.run({"x": X})["logits"])


def test_gemm_with_an_int8_reader_keeps_int8() -> None:
    """y2 also feeds fc3 (int8): fc2 writes int8 and the Flatten moves int8 bytes."""
    layers = _layers(_build("shared"))
    assert layers["fc3"]["op"] == "int8rt.QGemm", layers["fc3"]
    assert layers["flatten"]["precision"] == "int8", layers["flatten"]
    assert _head_dequantized(layers), list(layers)
