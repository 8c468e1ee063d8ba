"""int8 convs whose input holds no negative value by construction
(engine/ops/int8/nonneg_input.h): the engine promises it to the conv kernel
(``kernels::ConvShape::nonneg_input``), which on AVX512-VNNI then runs its
tile without the +128 sign shift, on AVX2 its u8 tile without scanning each
run's input.

- Which convs get the promise: those reading a ReLU / Clip(0, 6) conv output,
  directly or through a max pool or byte movers (a Reshape between NCHW
  transposes), or an Add + ReLU that stays an int8rt.QAdd; not the one
  reading the quantized network input, not one reading a conv output with no
  activation, and none in an engine with unsigned activations (their ReLU
  outputs use codes -128..127). The layer's detail says "(input >= 0)".
- The promised engine's outputs equal, bit for bit, the same engine loaded
  under the reference tier (every kernel the reference), on inputs of both
  signs: a conv wrongly promised a signed input (the second conv below reads
  about half negative values) would read -1 as 255 on AVX512-VNNI and differ.
- The kernels themselves, promised and not, against the reference:
  tests/test_x86_kernels.py.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt

F32 = np.float32


def _model() -> bytes:
    """x -> conv a (no activation) -> conv b + Relu -> MaxPool -> 1x1 conv c +
    Clip(0, 6) -> conv d -> y; conv d's output also feeds a residual Add."""
    rng = np.random.default_rng(14)
    inits = []

    def w(name: str, *shape: int) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5)
                                             .astype(F32), name))
        inits.append(numpy_helper.from_array((rng.standard_normal(shape[0]) * 0.1).astype(F32), name + "_b"))
        return name

    inits += [numpy_helper.from_array(np.array(0.0, F32), "lo"), numpy_helper.from_array(np.array(6.0, F32), "hi")]
    nodes = [
        helper.make_node("Conv", ["x", w("wa", 16, 3, 3, 3), "wa_b"], ["a"], name="conv_a", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", w("wb", 16, 16, 3, 3), "wb_b"], ["b0"], name="conv_b", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b0"], ["b"], name="relu_b"),
        helper.make_node("MaxPool", ["b"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p", w("wc", 24, 16, 1, 1), "wc_b"], ["c0"], name="conv_c"),
        helper.make_node("Clip", ["c0", "lo", "hi"], ["c"], name="clip_c"),
        helper.make_node("Conv", ["c", w("wd", 8, 24, 3, 3), "wd_b"], ["y"], name="conv_d", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(nodes, "nonneg_inputs",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 14, 14])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 7, 7])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _add_model(relu_e: bool) -> bytes:
    """x -> conv a + Relu -> r; Add(r, MaxPool(r)) + Relu (r has two readers,
    so the Add stays an int8rt.QAdd) -> 1x1 conv e (+ Relu when asked) ->
    Reshape (lowered between NCHW transposes) -> 1x1 conv f -> y."""
    rng = np.random.default_rng(15)
    inits = [numpy_helper.from_array(np.array([-1, 8, 10, 10], np.int64), "shape")]
    for name, shape in (("wa", (8, 3, 3, 3)), ("we", (8, 8, 1, 1)), ("wf", (8, 8, 1, 1))):
        inits += [numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(F32), name),
                  numpy_helper.from_array((rng.standard_normal(shape[0]) * 0.1).astype(F32), name + "_b")]
    nodes = [
        helper.make_node("Conv", ["x", "wa", "wa_b"], ["a0"], name="conv_a", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a0"], ["r"], name="relu_a"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["r", "p"], ["s0"], name="add"),
        helper.make_node("Relu", ["s0"], ["s"], name="relu_s"),
        helper.make_node("Conv", ["s", "we", "we_b"], ["e0" if relu_e else "e"], name="conv_e"),
        *([helper.make_node("Relu", ["e0"], ["e"], name="relu_e")] if relu_e else []),
        helper.make_node("Reshape", ["e", "shape"], ["f"], name="reshape"),
        helper.make_node("Conv", ["f", "wf", "wf_b"], ["y"], name="conv_f"),
    ]
    graph = helper.make_graph(nodes, "nonneg_add",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 10, 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _build(unsigned: bool = False, model: Optional[bytes] = None, hw: int = 14) -> int8rt.Engine:
    calib = {"x": np.random.default_rng(3).uniform(-1, 1, (16, 3, hw, hw)).astype(F32)}
    cal = int8rt.make_calibrator(calib, algorithm="minmax", batch_size=8)
    return int8rt.build_engine(model or _model(), int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                                       unsigned_activations=unsigned))


def _promised(engine: int8rt.Engine, names=("conv_a", "conv_b", "conv_c", "conv_d")) -> Dict[str, bool]:
    """Per named conv: whether its layer was promised a non-negative input."""
    convs = {l["name"]: l["detail"] for l in engine.layers() if l["op"] == "int8rt.QConv"}
    out = {}
    for conv in names:
        details = [d for name, d in convs.items() if conv in name]
        assert len(details) == 1, convs
        out[conv] = "(input >= 0)" in details[0]
    return out


def _tiers() -> List[str]:
    info = int8rt.kernels.isa_info()
    return [isa for isa in ("avx2", "avxvnni", "avx512vnni", "amx") if info[isa]["cpu"] and info[isa]["compiled"]]


def test_promised_exactly_where_a_clamp_makes_the_input_nonnegative() -> None:
    assert _promised(_build()) == {"conv_a": False, "conv_b": False, "conv_c": True, "conv_d": True}
    # Unsigned activations: a ReLU output's real 0 is code -128.
    assert _promised(_build(unsigned=True)) == {"conv_a": False, "conv_b": False, "conv_c": False, "conv_d": False}


@pytest.mark.parametrize("relu_e", [True, False])
def test_promise_through_a_relu_add_and_byte_movers(relu_e: bool) -> None:
    engine = _build(model=_add_model(relu_e), hw=10)
    ops = [l["op"] for l in engine.layers()]
    assert "int8rt.QAdd" in ops and "int8rt.QReshape" in ops, ops
    assert _promised(engine, ("conv_a", "conv_e", "conv_f")) == {"conv_a": False, "conv_e": True, "conv_f": relu_e}


@pytest.mark.parametrize("net", ["chain", "add"])
@pytest.mark.parametrize("tier", _tiers())
def test_promised_engine_equals_the_reference_tier(tier: str, net: str) -> None:
    hw = 14 if net == "chain" else 10
    data = _build(model=_model() if net == "chain" else _add_model(relu_e=True), hw=hw).serialize()
    x = {"x": np.random.default_rng(5).uniform(-1.5, 1.5, (3, 3, hw, hw)).astype(F32)}
    try:
        int8rt.set_max_isa("ref")
        want = int8rt.Engine.deserialize(data).create_execution_context().run(x)["y"]
        int8rt.set_max_isa(tier)
        engine = int8rt.Engine.deserialize(data)
    finally:
        int8rt.set_max_isa(None)
    assert any("(input >= 0)" in l["detail"] for l in engine.layers())
    got = engine.create_execution_context().run(x)["y"]
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), \
        f"tier {tier}, {net}: {np.count_nonzero(got != want)} of {got.size} outputs differ from the reference tier's"
