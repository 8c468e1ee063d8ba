"""Swish (Conv -> Sigmoid + Mul(y, Sigmoid(y))) fused into the FP32 Conv
(graph/passes/fuse_swish.cc, engine/ops/conv_f32.cc, the unary_f32 family's
Silu): the fused engine gives the unfused graph's bits (== against the same
network built with optimize=False: Conv, Sigmoid and Mul layers), on every
tier, for every FP32 conv path (the im2col / in-place SGEMM with its tile
epilogue, the output-transposed product, the NHWC conv, the tap conv, per
group SGEMMs, the depthwise walks with and without reference leftovers, a
fused residual), both Mul operand orders, odd lengths through the AVX2
Sigmoid / Silu tail, a saved and reloaded engine; pairs that must stay (the
Sigmoid output read elsewhere or a network output, the conv output read by
a third node) stay, and INT8 engines keep the unfused pair."""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt._testing import run_single_op

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

# (name, C, size, M, k, stride, pad, group): one per FP32 conv path
CONVS = [
    ("pointwise_sgemm", 16, 20, 24, 1, 1, 0, 1),     # B read in place, SGEMM tile epilogue
    ("pointwise_7x7_transposed", 64, 7, 64, 1, 1, 0, 1),  # pixels as rows, then a transpose
    ("stem_nhwc", 3, 23, 32, 3, 2, 1, 1),            # NHWC conv (M a multiple of 16)
    ("taps", 16, 15, 20, 3, 1, 1, 1),                # tap conv (C >= 16, M not a multiple of 16)
    ("im2col", 5, 13, 7, 3, 2, 1, 1),                # im2col SGEMM, partial tiles
    ("grouped", 16, 11, 16, 3, 1, 1, 2),             # per-group SGEMMs
    ("depthwise_c8", 24, 17, 24, 3, 2, 1, 24),       # 8-lane depthwise walk
    ("depthwise_leftover", 12, 9, 12, 5, 1, 2, 12),  # 8 lanes + reference planes
]


def conv_head(c: int, size: int, m: int, k: int, stride: int, pad: int, group: int, residual: bool,
              seed: int) -> tuple:
    """x -> Conv (+ Add r), batch 2: (nodes, inputs, initializers, the result's name, output size)."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c // group, k, k)) / np.sqrt(c // group * k * k)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "B")]
    out = (size + 2 * pad - k) // stride + 1
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y"], pads=[pad] * 4, strides=[stride] * 2, group=group)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, c, size, size])]
    y = "y"
    if residual:
        inputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, m, out, out]))
        nodes.append(helper.make_node("Add", ["y", "r"], ["yr"]))
        y = "yr"
    return nodes, inputs, inits, y, out


def swish_model(c: int, size: int, m: int, k: int, stride: int, pad: int, group: int, *,
                mul_order: int = 0, residual: bool = False, extra: Optional[str] = None) -> onnx.ModelProto:
    """x -> Conv (+ Add r) -> Sigmoid + Mul; `extra`: "sig_output" makes the
    Sigmoid's output a network output too, "third_reader" adds a Relu of the
    conv output as an output."""
    nodes, inputs, inits, y, out = conv_head(c, size, m, k, stride, pad, group, residual,
                                             c * 31 + size * 7 + m + k + group)
    nodes.append(helper.make_node("Sigmoid", [y], ["s"]))
    nodes.append(helper.make_node("Mul", [y, "s"] if mul_order == 0 else ["s", y], ["z"]))
    outputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, m, out, out])]
    if extra == "sig_output":
        outputs.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, [2, m, out, out]))
    elif extra == "third_reader":
        nodes.append(helper.make_node("Relu", [y], ["q"]))
        outputs.append(helper.make_tensor_value_info("q", TensorProto.FLOAT, [2, m, out, out]))
    graph = helper.make_graph(nodes, "swish", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def feeds(model: onnx.ModelProto) -> dict:
    rng = np.random.default_rng(9)
    out = {}
    for inp in model.graph.input:
        shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        out[inp.name] = (rng.standard_normal(shape) * 3).astype(np.float32)
    return out


def run(model: onnx.ModelProto, optimize: bool) -> Tuple[dict, List[str], List[str]]:
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32", optimize=optimize))
    y = engine.create_execution_context().run(feeds(model))
    layers = engine.layers()
    return y, [layer["op"] for layer in layers], [layer["detail"] for layer in layers if layer["op"] == "Conv"]


def fused_and_plain(model: onnx.ModelProto, isa: str, suffix: str) -> Tuple[dict, List[str], dict]:
    """The model built with and without the passes under the ISA cap `isa`:
    (fused outputs, the unfused engine's layer ops, unfused outputs); asserts
    that the fused engine is the one Conv whose detail ends with `suffix`."""
    int8rt.set_max_isa(isa)  # layers choose their kernels when they are created
    try:
        fused, ops, details = run(model, optimize=True)
        plain, plain_ops, _ = run(model, optimize=False)
    finally:
        int8rt.set_max_isa(None)
    assert ops == ["Conv"] and details[0].endswith(suffix), (ops, details)
    return fused, plain_ops, plain


def assert_unfused_where_read_elsewhere(model: onnx.ModelProto, kept: List[str], suffix: str) -> None:
    """The `kept` layers stay, the Conv takes no activation, the outputs are the unfused graph's."""
    fused, ops, details = run(model, optimize=True)
    plain, _, _ = run(model, optimize=False)
    assert all(op in ops for op in kept) and not details[0].endswith(suffix), (ops, details)
    for name in plain:
        assert fused[name].tobytes() == plain[name].tobytes(), name


def assert_survives_save_and_load(model: onnx.ModelProto, path) -> None:
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    engine.save(path)
    loaded = int8rt.Engine.load(path)
    assert [layer["op"] for layer in loaded.layers()] == ["Conv"]
    want = engine.create_execution_context().run(feeds(model))["z"]
    assert loaded.create_execution_context().run(feeds(model))["z"].tobytes() == want.tobytes()


def assert_int8_engine_unfused(model: onnx.ModelProto, word: str) -> None:
    """No INT8 layer carries the fused activation `word`: the pass runs on FP32 engines only."""
    calib = [feeds(model) for _ in range(2)]
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(calibrator=calib))
    assert not any(word in layer["detail"] for layer in engine.layers())


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("case", CONVS, ids=[c[0] for c in CONVS])
def test_fused_swish_same_bits_as_unfused(isa: str, case: tuple) -> None:
    _, c, size, m, k, stride, pad, group = case
    model = swish_model(c, size, m, k, stride, pad, group, mul_order=size % 2)
    fused, plain_ops, plain = fused_and_plain(model, isa, "+swish")
    assert plain_ops == ["Conv", "Sigmoid", "Mul"], plain_ops
    assert fused["z"].tobytes() == plain["z"].tobytes(), (isa, case)


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("case", [CONVS[0], CONVS[1], CONVS[3], CONVS[5], CONVS[6]], ids=lambda c: c[0])
def test_fused_swish_after_a_fused_residual(isa: str, case: tuple) -> None:
    """Conv -> Add(r) -> Swish: the residual is the conv's epilogue, the
    Swish applied after it, as the unfused Add, Sigmoid and Mul do."""
    _, c, size, m, k, stride, pad, group = case
    model = swish_model(c, size, m, k, stride, pad, group, residual=True, mul_order=1)
    fused, _, plain = fused_and_plain(model, isa, "+swish")
    assert fused["z"].tobytes() == plain["z"].tobytes(), (isa, case)


@pytest.mark.parametrize("extra", ["sig_output", "third_reader"])
def test_swish_pair_with_other_readers_stays(extra: str) -> None:
    assert_unfused_where_read_elsewhere(swish_model(16, 20, 24, 1, 1, 0, 1, extra=extra), ["Sigmoid", "Mul"], "+swish")


def test_fused_swish_survives_save_and_load(tmp_path) -> None:
    assert_survives_save_and_load(swish_model(16, 20, 24, 1, 1, 0, 1), tmp_path / "swish.i8rt")


def test_int8_engine_keeps_the_unfused_swish() -> None:
    """The INT8 lowering reads Sigmoid + Mul (a swish table)."""
    assert_int8_engine_unfused(swish_model(16, 20, 24, 1, 1, 0, 1), "swish")


@pytest.mark.parametrize("isa", TIERS)
def test_sigmoid_same_bits_at_every_position(isa: str) -> None:
    """Every length 1..40 (the AVX2 loop's 16-wide steps and its zero-padded
    8-lane tail): each value's Sigmoid does not depend on where it sits, and
    the fused conv's Silu equals Sigmoid then Mul on each length (a 1x1
    identity conv: its output is x exactly)."""
    x = np.linspace(-12, 12, 40).astype(np.float32)
    int8rt.set_max_isa(isa)
    try:
        (full,) = run_single_op("Sigmoid", [x], {}, [False])
        for n in range(1, 41):
            (part,) = run_single_op("Sigmoid", [x[:n]], {}, [False])
            assert part.tobytes() == full[:n].tobytes(), (isa, n)
            xs = x[:n].reshape(1, 1, 1, n)
            (silu,) = run_single_op("Conv", [xs, np.ones((1, 1, 1, 1), np.float32)],
                                    {"int8rt_activation": "Swish"}, [False, True])
            (mul,) = run_single_op("Mul", [xs, full[:n].reshape(1, 1, 1, n)], {}, [False, False])
            assert silu.tobytes() == mul.tobytes(), (isa, n)
    finally:
        int8rt.set_max_isa(None)
