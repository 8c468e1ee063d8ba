"""BF16 channel-blocked regions through a feature pyramid (engine/bf16_blocked.h,
bf16_blocked_moves.h, ops/bf16_blocked_moves.cc; RESULTS.md section 265): the
FPN / head of PP-OCR det, where an Add of two planes, nearest Resizes and a
Concat along channels used to end the region (FromBf16x16c, FP32 layers,
ToBf16x16c or NCHW BF16 convs).

What is exact and what is bounded:

1. Resize (nearest, the FP32 layer's own picks) and Concat (any channel
   counts: lanes moved between blocks) copy BF16 values, so where the NCHW
   BF16 engine keeps their FP32 inputs and the reading conv rounds, the
   region gives that conv's bits: the network output == to_bf16(NCHW
   engine's), for channel counts off and on the 16-lane blocks, batch 1 and
   3, 1 and 2 threads, and on the reference kernels after save / load.
2. The Add is y = to_bf16(f32(a) + f32(b)) of the region's BF16 a and b, and
   those are the NCHW engine's FP32 a and b rounded (their convs' contract):
   == to_bf16(to_bf16(a_nchw) + to_bf16(b_nchw)) (float32 add), bits. Against
   the NCHW engine's FP32 sum s = a + b: |y - s| <= 2^-8 (|a| + |b|) + 2^-8 |y|
   (1 + 2^-7) + 2^-23 |s| (the inputs' roundings, the output's, float32's).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (autouse: the VDPBF16PS order where AMX-BF16 runs)
from test_bf16_blocked import _blocked_ops, _build, _run_at, _same_bits, to_bf16

F32 = np.float32
MOVES = ("int8rt.AddBf16x16c", "int8rt.ResizeNearestBf16x16c", "int8rt.ConcatBf16x16c")


def _fpn_model(hw: tuple, cat: tuple, add: bool, linear: bool = False, inputs_out: bool = False) -> bytes:
    """x (5 channels) -> a = 1x1 (37) -> b = 3x3 / 2 -> c = 1x1 at half size;
    r = Resize(c) x2 (nearest, asymmetric, floor); s = Add(a, r) (or r alone
    without `add`); d = 3x3 (s) and f = Resize(1x1 (c)) x2 (half_pixel,
    round_prefer_ceil; linear with `linear`), g = 1x1 (a), h = 1x1 (a):
    channel counts `cat`; y = 3x3 (Concat(d, f, g, h)) (13 channels).
    Outputs y, and s where there is an Add (with `inputs_out`, a and r too)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2365)
    cd, cf, cg, ch = cat
    inits = {
        "wa": rng.standard_normal((37, 5, 1, 1)) * 0.5, "ba": rng.standard_normal(37),
        "wb": rng.standard_normal((37, 37, 3, 3)) * 0.1, "bb": rng.standard_normal(37),
        "wc": rng.standard_normal((37, 37, 1, 1)) * 0.2, "bc": rng.standard_normal(37),
        "wd": rng.standard_normal((cd, 37, 3, 3)) * 0.1, "bd": rng.standard_normal(cd),
        "we": rng.standard_normal((cf, 37, 1, 1)) * 0.2, "be": rng.standard_normal(cf),
        "wg": rng.standard_normal((cg, 37, 1, 1)) * 0.2, "bg": rng.standard_normal(cg),
        "wh": rng.standard_normal((ch, 37, 1, 1)) * 0.2, "bh": rng.standard_normal(ch),
        "wy": rng.standard_normal((13, sum(cat), 3, 3)) * 0.05, "by": rng.standard_normal(13),
        "scales": np.array([1.0, 1.0, 2.0, 2.0]),
    }
    nodes = [
        helper.make_node("Conv", ["x", "wa", "ba"], ["a"]),
        helper.make_node("Conv", ["a", "wb", "bb"], ["b"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Conv", ["b", "wc", "bc"], ["c"]),
        helper.make_node("Resize", ["c", "", "scales"], ["r"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("Conv", ["s" if add else "r", "wd", "bd"], ["d"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c", "we", "be"], ["e"]),
        helper.make_node("Resize", ["e", "", "scales"], ["f"], mode="linear" if linear else "nearest",
                         coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil"),
        helper.make_node("Conv", ["a", "wg", "bg"], ["g"]),
        helper.make_node("Conv", ["a", "wh", "bh"], ["h"]),
        helper.make_node("Concat", ["d", "f", "g", "h"], ["k"], axis=1),
        helper.make_node("Conv", ["k", "wy", "by"], ["y"], pads=[1, 1, 1, 1]),
    ]
    if add:
        nodes.insert(4, helper.make_node("Add", ["a", "r"], ["s"]))
    h, w = hw
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 13, h, w])]
    if add:
        names = ("s", "a", "r") if inputs_out else ("s",)
        outs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 37, h, w]) for n in names]
    graph = helper.make_graph(nodes, "bf16_fpn", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                [None, 5, h, w])],
                              outs, [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _engines(tmp_path, **model):
    """The blocked engine and the NCHW BF16 engine (that one with the Add's
    inputs as outputs too: more outputs would end the region)."""
    pytest.importorskip("onnx")
    path = tmp_path / "fpn.onnx"
    path.write_bytes(_fpn_model(**model))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    nchw_path = tmp_path / "fpn_nchw.onnx"
    nchw_path.write_bytes(_fpn_model(**model, inputs_out=True))
    return path, blocked, _build(nchw_path, False)


def _ops(engine) -> list:
    return [la["op"] for la in engine.layers()]


# (cat: d, f, g, h channels) off the blocks (lanes moved across block edges) and on them (whole blocks copied).
CATS = [(19, 24, 16, 7), (16, 32, 16, 5)]


@pytest.mark.parametrize("cat", CATS, ids=["off-blocks", "on-blocks"])
@pytest.mark.parametrize("hw,batch", [((12, 10), 1), ((12, 10), 3), ((8, 34), 3)], ids=["b1", "b3", "wide-b3"])
def test_resize_and_concat_keep_the_nchw_bf16_bits(tmp_path, cat, hw, batch) -> None:
    path, blocked, nchw = _engines(tmp_path, hw=hw, cat=cat, add=False)
    ops = _ops(blocked)
    assert ops.count("int8rt.ResizeNearestBf16x16c") == 2 and ops.count("int8rt.ConcatBf16x16c") == 1, ops
    assert ops.count("int8rt.ToBf16x16c") == 1 and ops.count("int8rt.FromBf16x16c") == 1, ops
    assert "Resize" not in ops and "Concat" not in ops, ops
    x = np.random.default_rng(batch).standard_normal((batch, 5, *hw)).astype(F32)
    want = to_bf16(nchw.run({"x": x})["y"])
    for threads in (1, 2):
        _same_bits(_run_at(blocked, {"x": x}, threads)["y"], want, f"{cat} {hw} b{batch} {threads} threads")
    saved = tmp_path / "fpn.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert [la["op"] for la in ref.layers()] == ops
        got = ref.run({"x": x})["y"]
    _same_bits(got, want, f"{cat} {hw} b{batch} reference kernels after save / load")


@pytest.mark.parametrize("hw,batch", [((12, 10), 1), ((8, 34), 3)], ids=["b1", "wide-b3"])
def test_add_is_the_rounded_sum_of_the_rounded_inputs(tmp_path, hw, batch) -> None:
    path, blocked, nchw = _engines(tmp_path, hw=hw, cat=CATS[0], add=True)
    ops = _ops(blocked)
    assert ops.count("int8rt.AddBf16x16c") == 1 and "Add" not in ops, ops
    assert all(op in ops for op in MOVES) and ops.count("int8rt.ToBf16x16c") == 1, ops
    x = np.random.default_rng(7 + batch).standard_normal((batch, 5, *hw)).astype(F32)
    t = nchw.run({"x": x})
    a, r, s = t["a"], t["r"], t["s"]
    want = to_bf16((to_bf16(a) + to_bf16(r)).astype(F32))
    for threads in (1, 2):
        got = _run_at(blocked, {"x": x}, threads)
        _same_bits(got["s"], want, f"s (the Add), {threads} threads")
    y = got["s"].astype(np.float64)
    bound = 2.0**-8 * (np.abs(a) + np.abs(r)) + 2.0**-8 * np.abs(y) * (1 + 2.0**-7) + 2.0**-23 * np.abs(s)
    err = np.abs(y - s.astype(np.float64))
    assert np.all(err <= bound), float(np.max(err / bound))
    assert np.any(got["s"] != to_bf16(s)), "the inputs' rounding never showed: the bound is not exercised"
    saved = tmp_path / "fpn_add.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved)).run({"x": x})
    for name in ("s", "y"):
        _same_bits(ref[name], got[name], f"{name}: reference kernels after save / load")


def test_linear_resize_stays_nchw(tmp_path) -> None:
    """A linear Resize blends, it does not copy: it stays the FP32 layer,
    converted around, while the nearest one and the Concat join the region."""
    path, blocked, nchw = _engines(tmp_path, hw=(12, 10), cat=CATS[0], add=False, linear=True)
    ops = _ops(blocked)
    assert ops.count("Resize") == 1 and ops.count("int8rt.ResizeNearestBf16x16c") == 1, ops
    assert ops.count("int8rt.ConcatBf16x16c") == 1 and ops.count("int8rt.FromBf16x16c") == 2, ops


def _se_block_inits(seed: int, w1_scale: float) -> dict:
    """The SE block models' weights (this file's RSE block, test_rexslice27's SE + ReLU6), drawn in
    one order: t's two 1x1s (5 -> 16 -> 37, the second's weights times `w1_scale`), the gate's FC
    pair (37 -> 8 -> 37), then the tail's 1x1 / 3x3 (37 -> 37) and head (37 -> 19)."""
    rng = np.random.default_rng(seed)
    return {
        "w0": rng.standard_normal((16, 5, 1, 1)) * 0.5, "b0": rng.standard_normal(16),
        "w1": rng.standard_normal((37, 16, 1, 1)) * w1_scale, "b1": rng.standard_normal(37),
        "f1": rng.standard_normal((8, 37, 1, 1)) * 0.3, "g1": rng.standard_normal(8),
        "f2": rng.standard_normal((37, 8, 1, 1)) * 0.5, "g2": rng.standard_normal(37),
        "w2": rng.standard_normal((37, 37, 1, 1)) * 0.2, "b2": rng.standard_normal(37),
        "w3": rng.standard_normal((37, 37, 3, 3)) * 0.05, "b3": rng.standard_normal(37),
        "w4": rng.standard_normal((19, 37, 1, 1)) * 0.2, "b4": rng.standard_normal(19),
    }


def _se_gate_nodes(gate: str) -> list:
    """t = 1x1 (1x1 (x)), s = gate(1x1 (Relu(1x1 (GlobalAveragePool(t))))) on _se_block_inits' weights."""
    from onnx import helper

    return [
        helper.make_node("Conv", ["x", "w0", "b0"], ["a"]),
        helper.make_node("Conv", ["a", "w1", "b1"], ["t"]),
        helper.make_node("GlobalAveragePool", ["t"], ["g"]),
        helper.make_node("Conv", ["g", "f1", "g1"], ["q"]),
        helper.make_node("Relu", ["q"], ["qr"]),
        helper.make_node("Conv", ["qr", "f2", "g2"], ["e"]),
        helper.make_node(gate, ["e"], ["s"]),
    ]


def _se_model(name: str, nodes: list, hw: tuple, outputs: list, inits: dict) -> bytes:
    """The SE block model of `nodes` on a [N, 5, H, W] input x; outputs y (19 channels), s (the gate,
    [N, 37, 1, 1]) and any other of 37 channels at x's size."""
    from onnx import TensorProto, helper, numpy_helper

    h, w = hw
    shape = {"y": [None, 19, h, w], "s": [None, 37, 1, 1]}
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 5, h, w])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape.get(n, [None, 37, h, w]))
                               for n in outputs],
                              [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _se_residual_model(hw: tuple, swap: bool, m_out: bool, inputs_out: bool = False) -> bytes:
    """PP-OCR det's RSE block: t = 1x1 (1x1 (x)) (5 -> 16 -> 37), s =
    HardSigmoid(1x1 (Relu(1x1 (GlobalAveragePool(t))))), u = t + t * s
    (with `swap`: Mul(s, t) and Add(m, t)), then 1x1, 3x3, 1x1, 1x1 -> y (19).
    Outputs y, u and s (with `m_out` the product m too, and two more 1x1s
    before y for its conversion: the Add then stays apart; with `inputs_out`
    t too)."""
    from onnx import helper

    nodes = _se_gate_nodes("HardSigmoid") + [
        helper.make_node("Mul", ["s", "t"] if swap else ["t", "s"], ["m"]),
        helper.make_node("Add", ["m", "t"] if swap else ["t", "m"], ["u"]),
        helper.make_node("Conv", ["u", "w2", "b2"], ["c2"]),
        helper.make_node("Conv", ["c2", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c3", "w2", "b2"], ["c4"]),
        helper.make_node("Conv", ["c4", "w2", "b2"], ["c5"]),
        helper.make_node("Conv", ["c5", "w2", "b2"], ["c6"]),
        helper.make_node("Conv", ["c6" if m_out else "c4", "w4", "b4"], ["y"]),
    ]
    names = ["y", "u", "s"] + (["m"] if m_out else []) + (["t"] if inputs_out else [])
    return _se_model("bf16_rse", nodes, hw, names, _se_block_inits(2366, 0.3))


@pytest.mark.parametrize("swap", [False, True], ids=["t+t*s", "s*t+t"])
@pytest.mark.parametrize("hw,batch", [((9, 13), 1), ((6, 30), 3)], ids=["b1", "wide-b3"])
def test_se_residual_add_fuses_into_the_scale(tmp_path, swap, hw, batch) -> None:
    """u = t + t * s as one int8rt.ChannelScaleBf16x16c with t as its residual:
    u == to_bf16(f32(t_r * s) + t_r), t_r = to_bf16(t_nchw) (the conv's bits),
    s the region's gate; against the NCHW engine's t: |u - (t + t s)| <=
    2^-8 |t| (1 + |s|) + 2^-8 |u| (1 + 2^-7) + 2^-22 |t| (1 + |s|)."""
    pytest.importorskip("onnx")
    path, nchw_path = tmp_path / "rse.onnx", tmp_path / "rse_nchw.onnx"
    path.write_bytes(_se_residual_model(hw, swap, m_out=False))
    nchw_path.write_bytes(_se_residual_model(hw, swap, m_out=False, inputs_out=True))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    scales = [la for la in blocked.layers() if la["op"] == "int8rt.ChannelScaleBf16x16c"]
    ops = _ops(blocked)
    assert len(scales) == 1 and "+ residual" in scales[0]["detail"], blocked.layers()
    assert "int8rt.AddBf16x16c" not in ops and "Add" not in ops and "Mul" not in ops, ops
    x = np.random.default_rng(11 + batch).standard_normal((batch, 5, *hw)).astype(F32)
    t = _build(nchw_path, False).run({"x": x})["t"]
    t_r = to_bf16(t)
    for threads in (1, 2):
        got = _run_at(blocked, {"x": x}, threads)
        s = got["s"]
        _same_bits(got["u"], to_bf16(((t_r * s).astype(F32) + t_r).astype(F32)), f"u, {threads} threads")
    u = got["u"].astype(np.float64)
    t64, s64 = t.astype(np.float64), s.astype(np.float64)
    bound = (2.0**-8 + 2.0**-22) * np.abs(t64) * (1 + np.abs(s64)) + 2.0**-8 * np.abs(u) * (1 + 2.0**-7)
    err = np.abs(u - (t64 + t64 * s64))
    assert np.all(err <= bound), float(np.max(err / bound))
    saved = tmp_path / "rse.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved)).run({"x": x})
    for name in ("u", "y"):
        _same_bits(ref[name], got[name], f"{name}: reference kernels after save / load")


def test_se_residual_add_stays_apart_where_the_product_is_read(tmp_path) -> None:
    """m also a network output: the scale writes m = to_bf16(t_r * s) and the
    Add u = to_bf16(t_r + m) (two roundings), no fusion."""
    pytest.importorskip("onnx")
    path, nchw_path = tmp_path / "rse.onnx", tmp_path / "rse_nchw.onnx"
    path.write_bytes(_se_residual_model((9, 13), False, m_out=True))
    nchw_path.write_bytes(_se_residual_model((9, 13), False, m_out=True, inputs_out=True))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    ops = _ops(blocked)
    assert ops.count("int8rt.ChannelScaleBf16x16c") == 1 and ops.count("int8rt.AddBf16x16c") == 1, ops
    x = np.random.default_rng(5).standard_normal((2, 5, 9, 13)).astype(F32)
    t_r = to_bf16(_build(nchw_path, False).run({"x": x})["t"])
    got = blocked.run({"x": x})
    m = to_bf16((t_r * got["s"]).astype(F32))
    _same_bits(got["m"], m, "m")
    _same_bits(got["u"], to_bf16((t_r + m).astype(F32)), "u")



def _patched(data: bytes, key: bytes, kind: int, value: int) -> bytes:
    """The engine file with the first attribute `key` of `kind` (0: int, 3: ints) set to `value` (an ints
    attribute: its first entry), reframed with a valid checksum (tests/engine_bytes.py)."""
    import struct

    import engine_bytes
    body = engine_bytes.payload(data)
    tag = struct.pack("<Q", len(key)) + key + bytes([kind])
    at = body.index(tag) + len(tag) + (8 if kind == 3 else 0)
    body = body[:at] + struct.pack("<q", value) + body[at + 8:]
    return engine_bytes.frame(body, version=struct.unpack_from("<I", data, 8)[0])


@pytest.mark.parametrize("key,kind,value,match", [
    (b"src_y", 3, 1000, r"ResizeNearestBf16x16c.*picks rows / columns outside its input"),
    (b"src_y", 3, -1, r"ResizeNearestBf16x16c.*indices >= 0"),
    (b"channels", 0, 64, r"AddBf16x16c.*with CB = 4"),
    (b"channels", 3, 2**62, r"ConcatBf16x16c.*needs positive 'channels', got 4611686018427387904"),
], ids=["resize-past-input", "resize-negative", "add-channels", "concat-channels"])
def test_forged_attributes_are_refused_naming_the_layer(tmp_path, key, kind, value, match) -> None:
    """Engine files whose blocked FPN layers carry forged attributes (the Add's 'channels' is the file's
    first int 'channels', the Concat's its first ints one): a clear int8rt error naming the layer, never a
    crash."""
    path, blocked, _ = _engines(tmp_path, hw=(12, 10), cat=CATS[0], add=True)
    data = _patched(blocked.serialize(), key, kind, value)
    x = np.zeros((1, 5, 12, 10), F32)
    with pytest.raises(int8rt.Error, match=match):
        int8rt.Engine.deserialize(data).run({"x": x})
