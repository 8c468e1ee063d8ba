"""Squeeze-and-excitation gates and output tables read from int8
(csrc/engine/lower_int8_gates.cc, issue 14 §2).

- The gate region on [N, C, 1, 1] (Sigmoid as in EfficientNet-B0,
  HardSigmoid as in MobileNetV3 / PP-OCR) read only by channel gates emits
  no layer: int8rt.QChannelMul reads the excitation conv's int8 output and
  the region's 256 float values, so no Dequantize and no float layer is
  left in the block, and the bytes are those of the engine that keeps the
  gate in float32 (the float gate's own values, looked up), on every tier.
- A region whose output only leaves the network (PP-OCR det's output
  Sigmoid) becomes int8rt.QLutFloat: int8 in, the float32 values out, the
  bytes of Dequantize + float Sigmoid.
- Where the region is read by anything else, it stays as before."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model
from test_pointwise_tables import build, se_model  # the min-max build on [8, 3, 10, 10] inputs

F32 = np.float32
TIERS = ("avx2", "ref")


def se_block(gate_op: str = "Sigmoid", gate_also_output: bool = False):
    """conv1 -> Relu -> GAP -> conv -> Relu -> conv -> gate -> Mul(x, gate) -> conv2,
    x conv1's (int8) output as in EfficientNet / MobileNetV3 blocks without
    a swish in front of the gate."""
    rng = np.random.default_rng(21)
    inits = [
        init("w1", (rng.standard_normal((16, 3, 3, 3)) * 0.3).astype(F32)),
        init("b1", rng.standard_normal(16).astype(F32) * 0.1),
        init("wr", (rng.standard_normal((4, 16, 1, 1)) * 0.4).astype(F32)),
        init("br", rng.standard_normal(4).astype(F32) * 0.1),
        init("we", (rng.standard_normal((16, 4, 1, 1)) * 0.6).astype(F32)),
        init("be", rng.standard_normal(16).astype(F32) * 0.3),
        init("w2", (rng.standard_normal((6, 16, 1, 1)) * 0.3).astype(F32)),
    ]
    gate = (helper.make_node("HardSigmoid", ["e"], ["gate"], name="se_gate", alpha=1.0 / 6, beta=0.5)
            if gate_op == "HardSigmoid" else helper.make_node("Sigmoid", ["e"], ["gate"], name="se_gate"))
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c0"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["c1"], name="relu1"),
        helper.make_node("GlobalAveragePool", ["c1"], ["g"], name="se_pool"),
        helper.make_node("Conv", ["g", "wr", "br"], ["r"], name="se_reduce", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["r"], ["rr"], name="se_relu"),
        helper.make_node("Conv", ["rr", "we", "be"], ["e"], name="se_expand", kernel_shape=[1, 1]),
        gate,
        helper.make_node("Mul", ["c1", "gate"], ["s"], name="se_scale"),
        helper.make_node("Conv", ["s", "w2"], ["y"], name="conv2", kernel_shape=[1, 1]),
    ]
    outputs = [fvi("y", ["N", 6, 10, 10])] + ([fvi("gate", ["N", 16, 1, 1])] if gate_also_output else [])
    return model(nodes, [fvi("x", ["N", 3, 10, 10])], outputs, inits)


def sigmoid_head(channels: int = 1, also_read: bool = False):
    """conv1 -> Relu -> conv2 -> Sigmoid -> output (PP-OCR det's head); with
    also_read the Sigmoid's output feeds a conv too."""
    rng = np.random.default_rng(22)
    inits = [
        init("w1", (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(F32)),
        init("w2", (rng.standard_normal((channels, 8, 3, 3)) * 0.3).astype(F32)),
        init("w3", (rng.standard_normal((2, channels, 1, 1)) * 0.3).astype(F32)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c0"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["c1"], name="relu1"),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c2"], ["p"], name="out_sigmoid"),
    ]
    outputs = [fvi("p", ["N", channels, 10, 10])]
    if also_read:
        nodes.append(helper.make_node("Conv", ["p", "w3"], ["z"], name="conv3", kernel_shape=[1, 1]))
        outputs.append(fvi("z", ["N", 2, 10, 10]))
    return model(nodes, [fvi("x", ["N", 3, 10, 10])], outputs, inits)


def ops_of(engine: int8rt.Engine) -> dict[str, str]:
    return {layer["name"]: layer["op"] for layer in engine.layers()}


def converts(engine: int8rt.Engine) -> list[str]:
    return sorted(c.tensor for c in engine.int8_plan().converts)


def same_bytes_on_every_tier(engine: int8rt.Engine, want: dict, x: np.ndarray) -> None:
    got = engine.run({"x": x})
    for k in want:
        assert got[k].tobytes() == want[k].tobytes(), k
    for isa in TIERS:
        int8rt.set_max_isa(isa)
        try:
            slow = int8rt.Engine.deserialize(engine.serialize())
        finally:
            int8rt.set_max_isa(None)
        out = slow.run({"x": x})
        for k in want:
            assert out[k].tobytes() == want[k].tobytes(), (isa, k)


@pytest.mark.parametrize("gate_op", ["Sigmoid", "HardSigmoid"])
def test_gate_reads_the_excitation_codes_with_no_float_layer(gate_op: str) -> None:
    m = se_block(gate_op)
    engine = build(m)
    layers = {layer["name"]: layer for layer in engine.layers()}
    assert layers["se_scale"]["op"] == "int8rt.QChannelMul"
    assert "int8 gate" in layers["se_scale"]["detail"]
    assert "se_gate" not in layers  # no layer computes the gate on its own
    # the only float layer: conv2's Transpose to NCHW (the network output, float32 from the
    # conv: lower_int8_conv_head.cc); the only convert: the input's Quantize
    assert [n for n, layer in layers.items() if layer["precision"] == "fp32"] == ["conv2::to_nchw"]
    assert converts(engine) == ["x"]
    assert any("gate " + gate_op in line and "256 float values" in line for line in engine.report())
    # The engine that keeps the gate float (Dequantize, float gate, QChannelMul
    # with a float gate) computes the same bytes: the gate values are the float
    # layer's own, looked up.
    kept = build(m, layer_precisions={"se_gate": "fp32"})
    kept_ops = ops_of(kept)
    assert kept_ops["se_gate"] == gate_op and kept_ops["se_scale"] == "int8rt.QChannelMul"
    assert "e" in converts(kept)
    x = np.random.default_rng(23).uniform(-1, 1, (5, 3, 10, 10)).astype(F32)
    same_bytes_on_every_tier(engine, kept.run({"x": x}), x)


def test_gate_with_a_float_table_input_and_an_int8_gate() -> None:
    """tests/test_pointwise_tables.py's SE block (hardswish in front of the
    gate: QChannelMul reads both x and the gate through float tables) ==
    the engine keeping the HardSigmoid float."""
    m = se_model()
    engine = build(m)
    layers = {layer["name"]: layer for layer in engine.layers()}
    assert "float table" in layers["se_scale"]["detail"] and "int8 gate" in layers["se_scale"]["detail"]
    assert converts(engine) == ["x"]  # conv2, the output, writes float32
    x = np.random.default_rng(24).uniform(-1, 1, (3, 3, 10, 10)).astype(F32)
    same_bytes_on_every_tier(engine, build(m, layer_precisions={"se_gate": "fp32"}).run({"x": x}), x)


def test_gate_also_read_elsewhere_stays_float() -> None:
    engine = build(se_block(gate_also_output=True))
    ops = ops_of(engine)
    assert ops["se_gate"] == "Sigmoid"
    assert "e" in converts(engine)


def test_gates_off_keep_the_gate_float() -> None:
    ops = ops_of(build(se_block(), int8_gates=False))
    assert ops["se_gate"] == "Sigmoid"


@pytest.mark.parametrize("channels", [1, 3])
def test_output_sigmoid_is_a_float_table_read(channels: int) -> None:
    m = sigmoid_head(channels)
    engine = build(m)
    ops = ops_of(engine)
    assert ops["out_sigmoid"] == "int8rt.QLutFloat"
    assert converts(engine) == ["x"]  # no Dequantize before the output
    kept = build(m, layer_precisions={"out_sigmoid": "fp32"})
    assert ops_of(kept)["out_sigmoid"] == "Sigmoid" and "c2" in converts(kept)
    x = np.random.default_rng(25).uniform(-1, 1, (3, 3, 10, 10)).astype(F32)
    want = kept.run({"x": x})
    same_bytes_on_every_tier(engine, want, x)
    fp32 = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    ref = fp32.run({"x": x})["p"]
    # int8 bound: the Sigmoid's slope is <= 1/4, so one step of c2's grid
    # moves p by at most a quarter step; conv1's and conv2's roundings add a
    # few steps: 8 steps of c2 bounds it on these small random convs.
    step = engine.scales()["c2"]
    assert np.abs(engine.run({"x": x})["p"] - ref).max() <= 8 * step / 4


def test_output_sigmoid_read_by_a_layer_is_no_output_table() -> None:
    ops = ops_of(build(sigmoid_head(also_read=True)))
    assert ops["out_sigmoid"] != "int8rt.QLutFloat"


def test_output_sigmoid_of_a_float_input_stays_float() -> None:
    """Sigmoid(x) of the network input, which a conv reads in int8 too: the
    float input exists, so the Sigmoid keeps reading it (a table would add
    the input's rounding)."""
    rng = np.random.default_rng(26)
    m = model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[1, 1]),
               helper.make_node("Sigmoid", ["x"], ["p"], name="in_sigmoid")],
              [fvi("x", ["N", 3, 10, 10])], [fvi("y", ["N", 4, 10, 10]), fvi("p", ["N", 3, 10, 10])],
              [init("w", (rng.standard_normal((4, 3, 1, 1)) * 0.3).astype(F32))])
    assert ops_of(build(m))["in_sigmoid"] == "Sigmoid"
