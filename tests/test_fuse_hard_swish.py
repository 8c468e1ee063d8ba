"""HardSwish on the unary_f32 kernel family and fused into the FP32 Conv
(graph/passes/fuse_swish.cc, engine/ops/conv_f32.cc, kernels/ref/math_f32.h's
hard_swish_f32).

The HardSwish layer on every tier equals NumPy's float32 evaluation of ONNX's
formula, x * min(max(x / 6 + 0.5, 0), 1), bit for bit: each step is one IEEE
float32 operation (a division, an add, two selections, a multiply; nothing
for an FMA to contract), so the reference loop, its vectorisation and the
AVX-512 intrinsics must all give NumPy's bits, NaN, infinities and signed
zeros included, at every length through the vector tails. The Conv with
HardSwish fused gives the unfused graph's bits (== against optimize=False:
Conv then HardSwish layers) on every tier and every FP32 conv path
(test_fuse_swish.CONVS), after a fused residual, and after save / load; a
HardSwish whose input has another reader stays a layer; INT8 engines keep
it unfused."""
from __future__ import annotations

from typing import Optional

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import int8rt
from int8rt._testing import run_single_op
from test_fuse_swish import (CONVS, TIERS, assert_int8_engine_unfused, assert_survives_save_and_load, conv_head,
                             assert_unfused_where_read_elsewhere, fused_and_plain, run)


def hard_swish_numpy(x: np.ndarray) -> np.ndarray:
    """ONNX's HardSwish in float32, one rounding per operation; NaN -> NaN."""
    h = (x / np.float32(6)) + np.float32(0.5)
    v = np.where(h > 0, h, np.float32(0)).astype(np.float32)  # NaN h -> 0, as clip_value
    v = np.where(v < 1, v, np.float32(1)).astype(np.float32)
    with np.errstate(invalid="ignore"):
        return (x * v).astype(np.float32)


def hard_swish_model(c: int, size: int, m: int, k: int, stride: int, pad: int, group: int, *,
                     residual: bool = False, extra: Optional[str] = None) -> onnx.ModelProto:
    """x -> Conv (+ Add r) -> HardSwish; `extra` = "third_reader" adds a Relu
    of the conv output as a second network output."""
    nodes, inputs, inits, y, out = conv_head(c, size, m, k, stride, pad, group, residual,
                                             c * 37 + size * 5 + m + k + group)
    nodes.append(helper.make_node("HardSwish", [y], ["z"]))
    outputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, m, out, out])]
    if extra == "third_reader":
        nodes.append(helper.make_node("Relu", [y], ["q"]))
        outputs.append(helper.make_tensor_value_info("q", TensorProto.FLOAT, [2, m, out, out]))
    graph = helper.make_graph(nodes, "hard_swish", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("isa", TIERS)
def test_hard_swish_layer_is_the_float32_formula(isa: str) -> None:
    """Every length 1..40 of values across the formula's three pieces (and
    the ties at -3 and 3), then the special values."""
    x = np.concatenate([np.linspace(-5, 5, 37), [-3.0, 3.0, -0.0]]).astype(np.float32)
    special = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 3e38, -3e38,
                        2.9999998, -2.9999998, 6e-8], np.float32)
    want = hard_swish_numpy(x)
    int8rt.set_max_isa(isa)
    try:
        for n in range(1, len(x) + 1):
            (got,) = run_single_op("HardSwish", [x[:n]], {}, [False])
            assert got.tobytes() == want[:n].tobytes(), (isa, n, got, want[:n])
        (got,) = run_single_op("HardSwish", [special], {}, [False])
    finally:
        int8rt.set_max_isa(None)
    assert got.tobytes() == hard_swish_numpy(special).tobytes(), (isa, got, hard_swish_numpy(special))


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("case", CONVS, ids=[c[0] for c in CONVS])
def test_fused_hard_swish_same_bits_as_unfused(isa: str, case: tuple) -> None:
    _, c, size, m, k, stride, pad, group = case
    model = hard_swish_model(c, size, m, k, stride, pad, group)
    fused, plain_ops, plain = fused_and_plain(model, isa, "+hardswish")
    assert plain_ops == ["Conv", "HardSwish"], plain_ops
    assert fused["z"].tobytes() == plain["z"].tobytes(), (isa, case)
    assert fused["z"].tobytes() == hard_swish_numpy(plain_conv_output(model, isa)).tobytes(), (isa, case)


def plain_conv_output(model: onnx.ModelProto, isa: str) -> np.ndarray:
    """The network's conv output (no activation), from int8rt unfused on
    tier `isa`: NumPy's HardSwish of it must give the fused bits."""
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    bare.graph.node.pop()
    bare.graph.output[0].name = "y"  # the HardSwish's input, of its output's shape
    int8rt.set_max_isa(isa)
    try:
        out, _, _ = run(bare, optimize=False)
    finally:
        int8rt.set_max_isa(None)
    return out["y"]


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("case", [CONVS[0], CONVS[1], CONVS[2], CONVS[3], CONVS[6]], ids=lambda c: c[0])
def test_fused_hard_swish_after_a_fused_residual(isa: str, case: tuple) -> None:
    _, c, size, m, k, stride, pad, group = case
    model = hard_swish_model(c, size, m, k, stride, pad, group, residual=True)
    fused, _, plain = fused_and_plain(model, isa, "+hardswish")
    assert fused["z"].tobytes() == plain["z"].tobytes(), (isa, case)


def test_hard_swish_with_another_reader_of_its_input_stays() -> None:
    model = hard_swish_model(16, 20, 24, 1, 1, 0, 1, extra="third_reader")
    assert_unfused_where_read_elsewhere(model, ["HardSwish"], "+hardswish")


def test_fused_hard_swish_survives_save_and_load(tmp_path) -> None:
    assert_survives_save_and_load(hard_swish_model(16, 20, 24, 1, 1, 0, 1), tmp_path / "hard_swish.i8rt")


def test_int8_engine_keeps_the_hard_swish_layer() -> None:
    """The INT8 lowering reads the unfused HardSwish (a table)."""
    assert_int8_engine_unfused(hard_swish_model(16, 20, 24, 1, 1, 0, 1), "hardswish")
