"""Element-wise float chains between int8 tensors lowered to int8 tables
(int8rt.QLut, csrc/engine/lut_region.h): a PP-LCNet-style block

    conv -> relu -> x*a+b -> hardswish (Add, Clip, Mul, Div) -> *c+d -> conv
    conv -> swish (x * Sigmoid(x)) -> conv

(the Relu keeps x*a+b from folding into the conv, which fold_scale_bias
does when the conv feeds it directly) must lower each chain to one QLut, give exactly the bytes of the same engine
built without tables (the consumer quantized the chain's float output
anyway), stay near FP32, and leave chains alone that cannot be one table
(per-channel constants, two different inputs, a float consumer)."""
from __future__ import annotations

import numpy as np
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32


def block_model(per_channel_affine: bool = False, float_tail: bool = False, branch: bool = False,
                relu: bool = True):
    rng = np.random.default_rng(7)
    scale_shape = (1, 8, 1, 1) if per_channel_affine else ()
    inits = [
        init("w1", (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(F32)),
        init("b1", rng.standard_normal(8).astype(F32) * 0.1),
        init("w2", (rng.standard_normal((8, 8, 3, 3)) * 0.15).astype(F32)),
        init("b2", rng.standard_normal(8).astype(F32) * 0.1),
        init("w3", (rng.standard_normal((6, 8, 1, 1)) * 0.3).astype(F32)),
        init("a", np.full(scale_shape, 1.3, F32)), init("b", np.full(scale_shape, -0.2, F32)),
        init("c", np.array(0.9, F32)), init("d", np.array(0.05, F32)),
        init("three", np.array(3.0, F32)), init("zero", np.array(0.0, F32)), init("six", np.array(6.0, F32)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c0" if relu else "c1"], name="conv1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        *([helper.make_node("Relu", ["c0"], ["c1"], name="relu1")] if relu else []),
        helper.make_node("Mul", ["c1", "a"], ["m1"], name="affine_mul"),
        helper.make_node("Add", ["m1", "b"], ["h"], name="affine_add"),
        helper.make_node("Add", ["h", "three"], ["h3"], name="hs_add"),
        helper.make_node("Clip", ["h3", "zero", "six"], ["hc"], name="hs_clip"),
        helper.make_node("Mul", ["h", "hc"], ["hm"], name="hs_mul"),
        helper.make_node("Div", ["hm", "six"], ["hs"], name="hs_div"),
        helper.make_node("Mul", ["hs", "c"], ["m2"], name="affine2_mul"),
        helper.make_node("Add", ["m2", "d"], ["t"], name="affine2_add"),
        helper.make_node("Conv", ["t", "w2", "b2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c2"], ["sg"], name="swish_sigmoid"),
        helper.make_node("Mul", ["c2", "sg"], ["sw"], name="swish_mul"),
        helper.make_node("Conv", ["sw", "w3"], ["y"], name="conv3", kernel_shape=[1, 1]),
    ]
    if branch:  # the affine output h also feeds another conv: the chain splits at h
        nodes.append(helper.make_node("Conv", ["h", "w3"], ["z"], name="conv_branch", kernel_shape=[1, 1]))
    if float_tail:  # the swish result also feeds a float Softmax: no table for it
        nodes.append(helper.make_node("Softmax", ["sw"], ["sm"], name="softmax", axis=1))
    outputs = [fvi("y", ["N", 6, 10, 10])] + ([fvi("sm", ["N", 8, 10, 10])] if float_tail else [])
    outputs += [fvi("z", ["N", 6, 10, 10])] if branch else []
    return model(nodes, [fvi("x", ["N", 3, 10, 10])], outputs, inits)


class Cal(int8rt.IInt8MinMaxCalibrator):
    def __init__(self) -> None:
        super().__init__()
        self.left = 2

    def get_batch_size(self) -> int:
        return 8

    def get_batch(self, names):
        self.left -= 1
        if self.left < 0:
            return None
        return [np.random.default_rng(self.left).uniform(-1, 1, (8, 3, 10, 10)).astype(F32)]


def build(m, **kw) -> int8rt.Engine:
    return int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=Cal(), **kw))


def luts(engine: int8rt.Engine) -> list[dict]:
    return [layer for layer in engine.layers() if layer["op"] == "int8rt.QLut"]


def test_chains_become_tables_with_the_same_bytes() -> None:
    m = block_model()
    with_tables, without = build(m), build(m, pointwise_tables=False)
    found = luts(with_tables)
    assert [layer["name"] for layer in found] == [
        "affine_mul+affine_add+hs_add+hs_clip+hs_mul+hs_div+affine2_mul+affine2_add", "swish_sigmoid+swish_mul"]
    assert not luts(without)
    assert not any(layer["op"] in ("Mul", "Add", "Clip", "Div", "Sigmoid") for layer in with_tables.layers())
    x = np.random.default_rng(3).uniform(-1.2, 1.2, (5, 3, 10, 10)).astype(F32)
    a, b = with_tables.run({"x": x})["y"], without.run({"x": x})["y"]
    assert a.tobytes() == b.tobytes()
    ref = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    # INT8 error of this random network (identical with and without tables).
    assert np.linalg.norm(a - ref) / np.linalg.norm(ref) < 0.15


def test_an_affine_right_after_the_conv_folds_and_the_table_starts_after_it() -> None:
    m = block_model(relu=False)
    with_tables, without = build(m), build(m, pointwise_tables=False)
    assert [layer["name"] for layer in luts(with_tables)] == [
        "hs_add+hs_clip+hs_mul+hs_div+affine2_mul+affine2_add", "swish_sigmoid+swish_mul"]
    assert [layer["op"] for layer in with_tables.layers() if layer["name"] == "conv1"] == ["int8rt.QConv"]
    x = np.random.default_rng(8).uniform(-1.2, 1.2, (3, 3, 10, 10)).astype(F32)
    assert with_tables.run({"x": x})["y"].tobytes() == without.run({"x": x})["y"].tobytes()


def test_tables_equal_on_every_kernel_tier() -> None:
    engine = build(block_model())
    x = np.random.default_rng(4).uniform(-1, 1, (2, 3, 10, 10)).astype(F32)
    fast = engine.run({"x": x})["y"]
    int8rt.set_max_isa("ref")  # kernels are chosen again when an engine is loaded
    try:
        ref = int8rt.Engine.deserialize(engine.serialize())
    finally:
        int8rt.set_max_isa(None)
    assert all("ref" in layer["detail"] for layer in luts(ref))
    assert ref.run({"x": x})["y"].tobytes() == fast.tobytes()


def test_per_channel_constants_are_not_one_table() -> None:
    engine = build(block_model(per_channel_affine=True))
    names = [layer["name"] for layer in luts(engine)]
    assert "swish_sigmoid+swish_mul" in names
    assert not any("affine_mul" in n for n in names)  # Mul by a [1,8,1,1] tensor stays float
    # the hardswish after the per-channel affine reads a float tensor: no int8 input, no table
    assert not any("hs_clip" in n for n in names)


def test_a_chain_with_a_float_consumer_stays_float() -> None:
    engine = build(block_model(float_tail=True))
    names = [layer["name"] for layer in luts(engine)]
    assert not any("swish" in n for n in names)
    assert any("hs_clip" in n for n in names)


def test_a_chain_whose_middle_is_read_outside_stays_float() -> None:
    """h (the affine's output) also feeds conv_branch: the hardswish after it
    needs float h, so neither part becomes a table (that would feed the
    hardswish int8 h and change its result)."""
    m = block_model(branch=True)
    engine = build(m)
    assert [layer["name"] for layer in luts(engine)] == ["swish_sigmoid+swish_mul"]
    x = np.random.default_rng(5).uniform(-1, 1, (3, 3, 10, 10)).astype(F32)
    a, b = engine.run({"x": x}), build(m, pointwise_tables=False).run({"x": x})
    assert a["y"].tobytes() == b["y"].tobytes() and a["z"].tobytes() == b["z"].tobytes()


def se_model(channels: int = 12, size: int = 10, reduced: int = 4, outputs: int = 6,
             rng: np.random.Generator | None = None,
             scales: tuple[float, float, float, float, float] = (0.3, 0.1, 0.3, 0.3, 0.3)):
    """conv -> hardswish -> squeeze-and-excitation gate (GAP, conv, Relu,
    conv, HardSigmoid) -> Mul(x, gate) -> conv, as in MobileNetV3 / PP-LCNet:
    ``channels`` wide on ``size`` x ``size``, the gate's reduction ``reduced``
    wide; ``scales`` multiply the random conv1 weights, conv1 bias, reduce,
    expand and conv2 weights."""
    rng = rng if rng is not None else np.random.default_rng(11)
    s1, sb, sr, se, s2 = scales
    inits = [
        init("w1", (rng.standard_normal((channels, 3, 3, 3)) * s1).astype(F32)),
        init("b1", rng.standard_normal(channels).astype(F32) * sb),
        init("wr", (rng.standard_normal((reduced, channels, 1, 1)) * sr).astype(F32)),
        init("we", (rng.standard_normal((channels, reduced, 1, 1)) * se).astype(F32)),
        init("w2", (rng.standard_normal((outputs, channels, 1, 1)) * s2).astype(F32)),
        init("three", np.array(3.0, F32)), init("zero", np.array(0.0, F32)), init("six", np.array(6.0, F32)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c1", "three"], ["h3"], name="hs_add"),
        helper.make_node("Clip", ["h3", "zero", "six"], ["hc"], name="hs_clip"),
        helper.make_node("Mul", ["c1", "hc"], ["hm"], name="hs_mul"),
        helper.make_node("Div", ["hm", "six"], ["h"], name="hs_div"),
        helper.make_node("GlobalAveragePool", ["h"], ["g"], name="se_pool"),
        helper.make_node("Conv", ["g", "wr"], ["r"], name="se_reduce", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["r"], ["rr"], name="se_relu"),
        helper.make_node("Conv", ["rr", "we"], ["e"], name="se_expand", kernel_shape=[1, 1]),
        helper.make_node("HardSigmoid", ["e"], ["gate"], name="se_gate", alpha=0.2, beta=0.5),
        helper.make_node("Mul", ["h", "gate"], ["s"], name="se_scale"),
        helper.make_node("Conv", ["s", "w2"], ["y"], name="conv2", kernel_shape=[1, 1]),
    ]
    return model(nodes, [fvi("x", ["N", 3, size, size])], [fvi("y", ["N", outputs, size, size])], inits)


def test_squeeze_excitation_gate_stays_float_on_request() -> None:
    ops = {layer["name"]: layer["op"] for layer in build(se_model(), int8_gates=False).layers()}
    assert ops["se_scale"] == "Mul"  # its x, the float hardswish, has no int8 reader then
    assert "int8rt.QLut" not in ops.values()


def test_squeeze_excitation_gate_runs_in_int8_by_default() -> None:
    """By default (int8_gates) the pool and the gate read conv1's int8 output through
    the hardswish's 256 float values, and the gate reads se_expand's int8
    output through the HardSigmoid's (no table layer, no float layer, no
    Dequantize left in the block; tests/test_se_gates.py) and compute what
    the float hardswish, pool, HardSigmoid, Mul and Quantize compute: the
    same bytes as the engine without int8_gates, on every tier."""
    m = se_model()
    engine = build(m)
    layers = {layer["name"]: layer for layer in engine.layers()}
    assert layers["se_scale"]["op"] == "int8rt.QChannelMul"
    assert layers["se_pool"]["op"] == "int8rt.QGlobalAveragePool"
    assert "float table" in layers["se_pool"]["detail"] and "float table" in layers["se_scale"]["detail"]
    assert not luts(engine)
    # the only float layer: conv2's (the network output's, float32 from the conv) Transpose to NCHW
    assert [name for name, layer in layers.items() if layer["precision"] == "fp32"] == ["conv2::to_nchw"]
    x = np.random.default_rng(6).uniform(-1, 1, (4, 3, 10, 10)).astype(F32)
    got = engine.run({"x": x})["y"]
    assert got.tobytes() == build(m, int8_gates=False).run({"x": x})["y"].tobytes()
    for isa in ("avx2", "ref"):
        int8rt.set_max_isa(isa)
        try:
            slow = int8rt.Engine.deserialize(engine.serialize())
        finally:
            int8rt.set_max_isa(None)
        assert slow.run({"x": x})["y"].tobytes() == got.tobytes(), isa


def gate_exactness_model():
    """conv1 -> hardswish -> Mul(h, gate) -> conv2, the gate computed from
    conv1's int8 output (GAP, conv, Relu, conv, HardSigmoid) and conv1 also
    read by a side conv: with int8_gates off and on, the gate and conv1's
    int8 bytes are the same, so the gated path alone differs."""
    rng = np.random.default_rng(12)
    inits = [
        init("w1", (rng.standard_normal((12, 3, 3, 3)) * 0.3).astype(F32)),
        init("b1", rng.standard_normal(12).astype(F32) * 0.1),
        init("ws", (rng.standard_normal((5, 12, 1, 1)) * 0.3).astype(F32)),
        init("wr", (rng.standard_normal((4, 12, 1, 1)) * 0.3).astype(F32)),
        init("we", (rng.standard_normal((12, 4, 1, 1)) * 0.3).astype(F32)),
        init("w2", (rng.standard_normal((6, 12, 1, 1)) * 0.3).astype(F32)),
        init("three", np.array(3.0, F32)), init("zero", np.array(0.0, F32)), init("six", np.array(6.0, F32)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "ws"], ["z"], name="side", kernel_shape=[1, 1]),
        helper.make_node("Add", ["c1", "three"], ["h3"], name="hs_add"),
        helper.make_node("Clip", ["h3", "zero", "six"], ["hc"], name="hs_clip"),
        helper.make_node("Mul", ["c1", "hc"], ["hm"], name="hs_mul"),
        helper.make_node("Div", ["hm", "six"], ["h"], name="hs_div"),
        helper.make_node("GlobalAveragePool", ["c1"], ["g"], name="se_pool"),
        helper.make_node("Conv", ["g", "wr"], ["r"], name="se_reduce", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["r"], ["rr"], name="se_relu"),
        helper.make_node("Conv", ["rr", "we"], ["e"], name="se_expand", kernel_shape=[1, 1]),
        helper.make_node("HardSigmoid", ["e"], ["gate"], name="se_gate", alpha=0.2, beta=0.5),
        helper.make_node("Mul", ["h", "gate"], ["s"], name="se_scale"),
        helper.make_node("Conv", ["s", "w2"], ["y"], name="conv2", kernel_shape=[1, 1]),
    ]
    return model(nodes, [fvi("x", ["N", 3, 10, 10])], [fvi("y", ["N", 6, 10, 10]), fvi("z", ["N", 5, 10, 10])],
                 inits)


def test_int8_gate_reads_the_table_input_exactly_as_the_float_path() -> None:
    """The gate reads conv1's int8 output through the hardswish's 256 float
    values (QChannelMul's table input), so conv2 sees exactly the bytes the
    float hardswish, float Mul and Quantize gave it: ==, on every ISA tier."""
    m = gate_exactness_model()
    gated, plain = build(m), build(m, int8_gates=False)
    ops = {layer["name"]: layer["op"] for layer in gated.layers()}
    assert ops["se_scale"] == "int8rt.QChannelMul"
    assert {layer["name"]: layer["op"] for layer in plain.layers()}["se_scale"] == "Mul"
    x = np.random.default_rng(13).uniform(-1, 1, (3, 3, 10, 10)).astype(F32)
    want = plain.run({"x": x})
    got = gated.run({"x": x})
    assert got["z"].tobytes() == want["z"].tobytes()
    assert got["y"].tobytes() == want["y"].tobytes()
    int8rt.set_max_isa("ref")
    try:
        slow = int8rt.Engine.deserialize(gated.serialize())
    finally:
        int8rt.set_max_isa(None)
    assert slow.run({"x": x})["y"].tobytes() == want["y"].tobytes()
