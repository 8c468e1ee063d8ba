"""BF16 channel-blocked regions with the activations of EfficientNet-B0,
MobileNetV3 and PP-OCR (engine/bf16_blocked.h, RESULTS.md section 255):
convs whose fused activation is Swish, HardSwish or an element-wise chain
(PP-OCR's x * Clip(x + 3, 0, 6) / 6 written out), and the
squeeze-and-excitation Mul (int8rt.ChannelScaleBf16x16c).

What is exact and what is bounded:

1. A blocked conv applies the conv's FusedActivation (the NCHW BF16 conv's
   own function, kernels/abi/nchw16c_bf16.h Bf16x16cAct) to the FP32 values
   before their rounding, so where the NCHW BF16 engine keeps the activated
   output float32 and its reader rounds it, the blocked tensor holds that
   rounding: the network output == to_bf16(NCHW engine's), bits, for 1x1,
   depthwise (stride 1 and 2, edge and inner steps) and dense 3x3 convs, odd
   channel counts, batch 1 and 3, 1 and 2 threads, and on the reference
   kernels after save / load.
2. The scale is y = to_bf16(x * s) of the region's own x (exact BF16) and
   gate s (float32): == that, bits, either input order, on the reference
   kernels too. Against the NCHW engine, which multiplies the unrounded
   FP32 x and rounds the product once (in its reader), that is a second
   rounding: |y - x s| <= 2^-7 |x s| (each rounding at most 2^-8 relative,
   BF16's unit roundoff), checked on the NCHW engine's x and the region's s.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (autouse: the VDPBF16PS order where AMX-BF16 runs)
from test_bf16_blocked import _blocked_ops, _build, _run_at, _same_bits, to_bf16

F32 = np.float32


def _act_nodes(kind: str, src: str, dst: str, helper) -> list:
    """dst = the activation `kind` of src (Swish as Sigmoid then Mul, which
    the builder fuses; the chain as Add, Clip, Mul, Div)."""
    if kind == "hardswish":
        return [helper.make_node("HardSwish", [src], [dst])]
    if kind == "swish":
        return [helper.make_node("Sigmoid", [src], [src + "_s"]), helper.make_node("Mul", [src, src + "_s"], [dst])]
    return [helper.make_node("Add", [src, "three"], [src + "_a"]),
            helper.make_node("Clip", [src + "_a", "zero", "six"], [src + "_c"]),
            helper.make_node("Mul", [src, src + "_c"], [src + "_m"]),
            helper.make_node("Div", [src + "_m", "six"], [dst])]


def _act_model(kinds: tuple, hw: tuple, c_in: int = 5, mid: int = 37, c_out: int = 19) -> bytes:
    """x -> 1x1 (c_in -> mid) + act0 -> depthwise 3x3 + act1 -> dense 3x3
    (mid -> c_out) + act2 -> depthwise 3x3 / 2 + act0 -> 1x1 (c_out -> mid)
    + act1 -> y = 1x1 (mid -> c_out), no activation (the region's exit)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(60)
    inits = {
        "w0": rng.standard_normal((mid, c_in, 1, 1)) * 0.5, "b0": rng.standard_normal(mid),
        "w1": rng.standard_normal((mid, 1, 3, 3)) * 0.5, "b1": rng.standard_normal(mid),
        "w2": rng.standard_normal((c_out, mid, 3, 3)) * 0.1, "b2": rng.standard_normal(c_out),
        "w3": rng.standard_normal((c_out, 1, 3, 3)) * 0.5, "b3": rng.standard_normal(c_out),
        "w4": rng.standard_normal((mid, c_out, 1, 1)) * 0.3, "b4": rng.standard_normal(mid),
        "w5": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b5": rng.standard_normal(c_out),
        "three": np.array(3.0), "zero": np.array(0.0), "six": np.array(6.0),
    }
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"])]
    nodes += _act_nodes(kinds[0], "c0", "t0", helper)
    nodes.append(helper.make_node("Conv", ["t0", "w1", "b1"], ["c1"], group=mid, pads=[1, 1, 1, 1]))
    nodes += _act_nodes(kinds[1], "c1", "t1", helper)
    nodes.append(helper.make_node("Conv", ["t1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]))
    nodes += _act_nodes(kinds[2], "c2", "t2", helper)
    nodes.append(helper.make_node("Conv", ["t2", "w3", "b3"], ["c3"], group=c_out, pads=[1, 1, 1, 1], strides=[2, 2]))
    nodes += _act_nodes(kinds[0], "c3", "t3", helper)
    nodes.append(helper.make_node("Conv", ["t3", "w4", "b4"], ["c4"]))
    nodes += _act_nodes(kinds[1], "c4", "t4", helper)
    nodes.append(helper.make_node("Conv", ["t4", "w5", "b5"], ["y"]))
    h, w = hw
    graph = helper.make_graph(
        nodes, "bf16_blocked_act", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c_in, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, c_out, (h - 1) // 2 + 1, (w - 1) // 2 + 1])],
        [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("kinds", [("hardswish", "swish", "chain"), ("swish", "chain", "hardswish")],
                         ids=["hs-swish-chain", "swish-chain-hs"])
@pytest.mark.parametrize("hw,batch", [((11, 9), 1), ((11, 9), 3), ((7, 30), 3)], ids=["edges-b1", "edges-b3", "wide-b3"])
def test_activated_convs_join_the_region_with_the_nchw_bf16_bits(tmp_path, kinds, hw, batch) -> None:
    """(The wide planes take the depthwise kernel's inner steps, 8 and 4
    pixels; the narrow ones its edge steps.)"""
    pytest.importorskip("onnx")
    path = tmp_path / "act.onnx"
    path.write_bytes(_act_model(kinds, hw))
    x = np.random.default_rng(61).standard_normal((batch, 5, *hw)).astype(F32)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    convs = [la["detail"] for la in blocked.layers() if la["op"] == "int8rt.ConvBf16x16c"]
    assert len(convs) == 6, [la["op"] for la in blocked.layers()]
    for kind, tag in (("hardswish", "+hardswish"), ("swish", "+swish"), ("chain", "+chain(")):
        assert any(tag in d for d in convs), (kind, convs)
    want = to_bf16(_build(path, False).run({"x": x})["y"])
    for threads in (1, 2):
        _same_bits(_run_at(blocked, {"x": x}, threads)["y"], want, f"{kinds} {threads} threads")
    saved = tmp_path / "act.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert all("nchw16c_bf16_ref" in la["detail"] for la in ref.layers() if la["op"] == "int8rt.ConvBf16x16c")
        got_ref = ref.run({"x": x})["y"]
    _same_bits(got_ref, want, f"{kinds} reference kernels")


def _se_model(gate_first: bool, hw: tuple = (9, 13), c_in: int = 5, mid: int = 37, c_out: int = 19) -> bytes:
    """A MobileNetV3 block and more: t = HardSwish(depthwise 3x3 (Relu(1x1
    (x)))), s = HardSigmoid(1x1 (Relu(1x1 (GlobalAveragePool(t))))), m =
    Mul(t, s) (or Mul(s, t)), then six more convs to y (8 region convs for
    the 4 conversions of outputs t, m and y); outputs y, t, s, m."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(62)
    inits = {
        "w0": rng.standard_normal((mid, c_in, 1, 1)) * 0.5, "b0": rng.standard_normal(mid),
        "w1": rng.standard_normal((mid, 1, 3, 3)) * 0.5, "b1": rng.standard_normal(mid),
        "f1": rng.standard_normal((8, mid, 1, 1)) * 0.3, "g1": rng.standard_normal(8),
        "f2": rng.standard_normal((mid, 8, 1, 1)) * 0.5, "g2": rng.standard_normal(mid),
        "w2": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b2": rng.standard_normal(c_out),
        "w3": rng.standard_normal((mid, c_out, 1, 1)) * 0.3, "b3": rng.standard_normal(mid),
        "w4": rng.standard_normal((mid, 1, 3, 3)) * 0.5, "b4": rng.standard_normal(mid),
        "w5": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b5": rng.standard_normal(c_out),
        "w6": rng.standard_normal((mid, c_out, 1, 1)) * 0.3, "b6": rng.standard_normal(mid),
        "w7": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b7": rng.standard_normal(c_out),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"]), helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], group=mid, pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["t"]),
        helper.make_node("GlobalAveragePool", ["t"], ["p"]),
        helper.make_node("Conv", ["p", "f1", "g1"], ["q1"]), helper.make_node("Relu", ["q1"], ["q2"]),
        helper.make_node("Conv", ["q2", "f2", "g2"], ["q3"]), helper.make_node("HardSigmoid", ["q3"], ["s"]),
        helper.make_node("Mul", ["s", "t"] if gate_first else ["t", "s"], ["m"]),
        helper.make_node("Conv", ["m", "w2", "b2"], ["c2"]),
        helper.make_node("Conv", ["c2", "w3", "b3"], ["c3"]), helper.make_node("HardSwish", ["c3"], ["t3"]),
        helper.make_node("Conv", ["t3", "w4", "b4"], ["c4"], group=mid, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c4"], ["t4"]),
        helper.make_node("Conv", ["t4", "w5", "b5"], ["c5"]),
        helper.make_node("Conv", ["c5", "w6", "b6"], ["c6"]), helper.make_node("Relu", ["c6"], ["t6"]),
        helper.make_node("Conv", ["t6", "w7", "b7"], ["y"]),
    ]
    h, w = hw
    shapes = {"y": [None, c_out, h, w], "t": [None, mid, h, w], "s": [None, mid, 1, 1], "m": [None, mid, h, w]}
    graph = helper.make_graph(
        nodes, "bf16_blocked_se", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c_in, h, w])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()],
        [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("gate_first", [False, True], ids=["mul-x-s", "mul-s-x"])
@pytest.mark.parametrize("batch", [1, 3])
def test_the_squeeze_excitation_scale_rounds_x_times_s(tmp_path, gate_first, batch) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "se.onnx"
    path.write_bytes(_se_model(gate_first))
    x = np.random.default_rng(63).standard_normal((batch, 5, 9, 13)).astype(F32)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    ops = [la["op"] for la in blocked.layers()]
    assert ops.count("int8rt.ChannelScaleBf16x16c") == 1 and ops.count("int8rt.ConvBf16x16c") == 8 and \
        "Mul" not in ops, ops
    out = blocked.run({"x": x})
    t, s, m = (out[k] for k in ("t", "s", "m"))
    _same_bits(t, to_bf16(t), "t is a blocked (BF16) tensor")
    want = to_bf16(t * s)
    assert not np.array_equal(want, t * s), "the product was BF16 already: the test cannot tell"
    _same_bits(m, want, "m = to_bf16(t * s)")
    _same_bits(_run_at(blocked, {"x": x}, 2)["m"], want, "m at 2 threads")
    # Against the product of the unrounded FP32 x (the NCHW engine's t, whose
    # BF16 rounding the region's t is) and s: two roundings, each within 2^-8.
    nchw = _build(path, False).run({"x": x})
    _same_bits(t, to_bf16(nchw["t"]), "t = to_bf16(the NCHW engine's t)")
    exact = nchw["t"].astype(np.float64) * s.astype(np.float64)
    err, bound = np.abs(m - exact), 2.0 ** -7 * np.abs(exact)
    assert np.all(err <= bound), f"{np.sum(err > bound)} values past 2^-7 |x s|, worst {np.max(err - bound)}"
    assert np.max(err / np.maximum(bound, 1e-30)) > 0.5, "no error near the bound: the check cannot tell"
    saved = tmp_path / "se.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved)).run({"x": x})
    for k in ("y", "t", "s", "m"):
        _same_bits(ref[k], out[k], f"{k} on the reference kernels")
