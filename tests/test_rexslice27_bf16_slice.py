"""The channel Slice in the BF16 channel-blocked region (engine/bf16_blocked_moves.h,
ops/bf16_blocked_moves.cc: int8rt.SliceBf16x16c; RESULTS.md section 284): ReXNet's partial residual
out[:, :C_in] + x, exported as Slice (channels) -> Add -> Concat with the rest, used to end the region.

What is exact:

1. The Slice copies BF16 values (lanes moved across blocks where its start is not a multiple of 16, the
   padded lanes +0), so a conv reading a sliced tensor gives the NCHW BF16 engine's bits (that engine keeps
   the conv's FP32 input and the reading conv rounds it): z == to_bf16(NCHW z), for starts / ends off and on
   the 16-lane blocks, negative, past the channels (clamped), batch 1 and 3, 1 and 2 threads, and on the
   reference kernels after save / load.
2. ReXNet's pattern k = Concat(Slice(b, 0, C_in) + a, Slice(b, C_in, INT64_MAX)) keeps the region's BF16
   values: k == Concat(to_bf16(to_bf16(b[:, :C_in]) + to_bf16(a)), to_bf16(b[:, C_in:])), bits (the Add:
   tests/test_ocrdet23_bf16_fpn.py), where a and b are the NCHW engine's FP32 convs.
"""
from __future__ import annotations

import int8rt
import numpy as np
import pytest
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (autouse: the VDPBF16PS order where AMX-BF16 runs)
from test_bf16_blocked import _blocked_ops, _build, _run_at, _same_bits, to_bf16
from test_ocrdet23_bf16_fpn import _patched, _se_block_inits, _se_gate_nodes, _se_model

F32 = np.float32
I64_MAX = 2**63 - 1


def _rex_model(cin: int, cout: int, start: int, end: int, hw: tuple, inputs_out: bool = False,
               axes: int = -3, k_out: bool = True) -> bytes:
    """x (5 channels) -> a = 1x1 (1x1 (x)) (cin) -> b = 3x3 (a) (cout); ReXNet's residual
    k = Concat(Slice(b, 0, cin) + a, Slice(b, cin, INT64_MAX, step 1)); y = 1x1 (3x3 (1x1 (k))) (13);
    m = Slice(b, start, end, axis `axes`), z = 1x1 (1x1 (1x1 (m))) (11). Outputs y, k (not without `k_out`),
    z (with `inputs_out` a and b too)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2840)
    channels = axes in (1, -3)
    mc = len(range(*slice(start, end).indices(cout))) if channels else cout
    f = {
        "w0": rng.standard_normal((16, 5, 1, 1)) * 0.5, "b0": rng.standard_normal(16),
        "wa": rng.standard_normal((cin, 16, 1, 1)) * 0.3, "ba": rng.standard_normal(cin),
        "wb": rng.standard_normal((cout, cin, 3, 3)) * 0.1, "bb": rng.standard_normal(cout),
        "w1": rng.standard_normal((cout, cout, 1, 1)) * 0.2, "b1": rng.standard_normal(cout),
        "w2": rng.standard_normal((cout, cout, 3, 3)) * 0.05, "b2": rng.standard_normal(cout),
        "wy": rng.standard_normal((13, cout, 1, 1)) * 0.2, "by": rng.standard_normal(13),
        "wm": rng.standard_normal((mc, mc, 1, 1)) * 0.3, "bm": rng.standard_normal(mc),
        "wz": rng.standard_normal((11, mc, 1, 1)) * 0.3, "bz": rng.standard_normal(11),
    }
    inits = [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in f.items()]
    ints = {"zero": 0, "cin": cin, "big": I64_MAX, "one": 1, "start": start, "end": end, "axes": axes}
    inits += [numpy_helper.from_array(np.array([v], np.int64), k) for k, v in ints.items()]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["a0"]),
        helper.make_node("Conv", ["a0", "wa", "ba"], ["a"]),
        helper.make_node("Conv", ["a", "wb", "bb"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Slice", ["b", "zero", "cin", "one"], ["s1"]),
        helper.make_node("Add", ["s1", "a"], ["r"]),
        helper.make_node("Slice", ["b", "cin", "big", "one", "one"], ["s2"]),
        helper.make_node("Concat", ["r", "s2"], ["k"], axis=1),
        helper.make_node("Conv", ["k", "w1", "b1"], ["k1"]),
        helper.make_node("Conv", ["k1", "w2", "b2"], ["k2"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["k2", "wy", "by"], ["y"]),
        helper.make_node("Slice", ["b", "start", "end", "axes"], ["m"]),
        helper.make_node("Conv", ["m", "wm", "bm"], ["m1"]),
        helper.make_node("Conv", ["m1", "wm", "bm"], ["m2"]),
        helper.make_node("Conv", ["m2", "wz", "bz"], ["z"]),
    ]
    h, w = hw
    info = {"y": 13, "k": cout, "z": 11, "a": cin, "b": cout}
    names = ["y"] + (["k"] if k_out else []) + ["z"] + (["a", "b"] if inputs_out else [])
    graph = helper.make_graph(nodes, "rex_slice", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                 [None, 5, h, w])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT,
                                                             [None, info[n], h if channels or n != "z" else None, w])
                               for n in names], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _engines(tmp_path, cin, cout, start, end, hw=(9, 11), axes=-3, k_out=True):
    pytest.importorskip("onnx")
    path = tmp_path / "rex.onnx"
    path.write_bytes(_rex_model(cin, cout, start, end, hw, axes=axes, k_out=k_out))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    nchw_path = tmp_path / "rex_nchw.onnx"
    nchw_path.write_bytes(_rex_model(cin, cout, start, end, hw, inputs_out=True, axes=axes, k_out=k_out))
    return blocked, _build(nchw_path, False)


def _ops(engine) -> list:
    return [la["op"] for la in engine.layers()]


# (cin, cout, start, end): ReXNet's first block (27 -> 38) and a slice off the blocks; whole blocks; a
# negative start and end; an end past the channels (clamped) at start 1.
CASES = [(27, 38, 5, 29), (16, 48, 16, 32), (7, 53, -20, -3), (37, 40, 1, 2**62)]
IDS = ["rexnet-off-blocks", "on-blocks", "negative", "clamped-end"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("hw,batch", [((9, 11), 1), ((9, 11), 3), ((6, 33), 3)], ids=["b1", "b3", "wide-b3"])
def test_slices_keep_the_region_and_its_bits(tmp_path, case, hw, batch) -> None:
    cin, cout, start, end = case
    blocked, nchw = _engines(tmp_path, cin, cout, start, end, hw)
    ops = _ops(blocked)
    assert ops.count("int8rt.SliceBf16x16c") == 3 and "Slice" not in ops, ops
    assert ops.count("int8rt.AddBf16x16c") == 1 and ops.count("int8rt.ConcatBf16x16c") == 1, ops
    assert ops.count("int8rt.ToBf16x16c") + ops.count("int8rt.FromBf16x16c") <= 4, ops  # x in; y, k, z out
    x = np.random.default_rng(batch + cout).standard_normal((batch, 5, *hw)).astype(F32)
    t = nchw.run({"x": x})
    a, b = t["a"], t["b"]
    want_k = np.concatenate([to_bf16((to_bf16(b[:, :cin]) + to_bf16(a)).astype(F32)), to_bf16(b[:, cin:])], axis=1)
    want_z = to_bf16(t["z"])
    for threads in (1, 2):
        got = _run_at(blocked, {"x": x}, threads)
        _same_bits(got["k"], want_k, f"k (ReXNet's residual) {case} {hw} b{batch} {threads} threads")
        _same_bits(got["z"], want_z, f"z (a conv of Slice {start}:{end}) {case} {hw} b{batch} {threads} threads")
    saved = tmp_path / "rex.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert _ops(ref) == ops
        again = ref.run({"x": x})
    for name in ("k", "z", "y"):
        _same_bits(again[name], got[name], f"{name}: reference kernels after save / load {case} b{batch}")


def test_slice_of_another_axis_stays_nchw(tmp_path) -> None:
    """A Slice along H (axis 2) is not a channel range: the float layer on b converted out (its convs, m1 ->
    z, NCHW BF16 convs: too few for their conversions), ReXNet's two channel Slices blocked."""
    blocked, nchw = _engines(tmp_path, 27, 38, 0, 5, axes=2, k_out=False)
    ops = _ops(blocked)
    assert ops.count("Slice") == 1 and ops.count("int8rt.SliceBf16x16c") == 2, ops
    x = np.random.default_rng(3).standard_normal((2, 5, 9, 11)).astype(F32)
    _same_bits(blocked.run({"x": x})["z"], nchw.run({"x": x})["z"], "z after an H slice")


@pytest.mark.parametrize("key,value,match", [
    (b"start", -1, r"'Slice_3' \(int8rt\.SliceBf16x16c\): needs 0 <= 'start' < 'end' <= 'channels' \(38\), got -1, 27"),
    (b"end", 39, r"'Slice_3' \(int8rt\.SliceBf16x16c\): needs 0 <= 'start' < 'end' <= 'channels' \(38\), got 0, 39"),
    (b"start", 27, r"'Slice_3' \(int8rt\.SliceBf16x16c\): needs 0 <= 'start' < 'end' <= 'channels' \(38\), got 27, 27"),
    (b"channels", 64, r"'Slice_3' \(int8rt\.SliceBf16x16c\): needs a channel-blocked bfloat16 input .* CB = 4"),
], ids=["start-negative", "end-past-channels", "empty", "channels"])
def test_forged_slice_is_refused_naming_the_layer(tmp_path, key, value, match) -> None:
    """An engine file whose blocked Slice carries a range outside its input's channels (or the wrong channel
    count): a clear int8rt error naming the layer, never a crash. The patched attribute is the file's first
    of its name: the first Slice's, Slice_3 (b[:, 0:27] of 38 channels), as each message says."""
    blocked, _ = _engines(tmp_path, 27, 38, 5, 29)
    forged = _patched(blocked.serialize(), key, 0, value)
    with pytest.raises(int8rt.Error, match=match):
        int8rt.Engine.deserialize(forged).run({"x": np.zeros((1, 5, 9, 11), F32)})


def _se_clip_model(hw: tuple, act: str, inputs_out: bool = False, residual: bool = False) -> bytes:
    """ReXNet's SE and ReLU6: t = 1x1 (1x1 (x)) (5 -> 16 -> 37), s = Sigmoid(1x1 (Relu(1x1 (GlobalAveragePool(t)))),
    u = act(t * s) (`act`: "clip6" Clip(0, 6), "relu", "clip-inexact" Clip(0, 6.1): not a BF16 value; with
    `residual` act(t + t * s), PP-OCR's SE residual then the activation), then 1x1, 3x3, 1x1, 1x1 -> y (19).
    Outputs y, u, s (with `inputs_out` t too)."""
    from onnx import helper

    f = _se_block_inits(2841, 1.5)
    f.update({"lo": np.array(0.0), "hi": np.array(6.1 if act == "clip-inexact" else 6.0)})
    nodes = _se_gate_nodes("Sigmoid") + [
        helper.make_node("Mul", ["t", "s"], ["m0" if residual else "m"]),
        helper.make_node("Relu", ["m"], ["u"]) if act == "relu" else helper.make_node("Clip", ["m", "lo", "hi"], ["u"]),
        helper.make_node("Conv", ["u", "w2", "b2"], ["c2"]),
        helper.make_node("Conv", ["c2", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c3", "w2", "b2"], ["c4"]),
        helper.make_node("Conv", ["c4", "w4", "b4"], ["y"]),
    ]
    if residual:
        nodes.insert(8, helper.make_node("Add", ["t", "m0"], ["m"]))
    return _se_model("se_clip", nodes, hw, ["y", "u", "s"] + (["t"] if inputs_out else []), f)


@pytest.mark.parametrize("act,residual", [("clip6", False), ("relu", False), ("clip6", True)],
                         ids=["clip6", "relu", "residual-clip6"])
@pytest.mark.parametrize("hw,batch", [((9, 13), 1), ((6, 30), 3)], ids=["b1", "wide-b3"])
def test_se_activation_joins_the_region_fused_into_the_scale(tmp_path, act, residual, hw, batch) -> None:
    """u = ReLU6(t * s) (or Relu) as one int8rt.ChannelScaleBf16x16c with the clip epilogue, no Clip layer and
    no conversion around it (the Clip was outside the region, so each ReXNet block paid two): u ==
    to_bf16(clip(t_r * s)), t_r = to_bf16(t_nchw) (the conv's bits), s the region's gate, the product float32
    (the sign of a zero aside: bf16_blocked_moves.h; the random data has none). With the residual t + t * s
    fused into the scale too: u == to_bf16(clip(f32(t_r * s) + t_r))."""
    pytest.importorskip("onnx")
    path, nchw_path = tmp_path / "se.onnx", tmp_path / "se_nchw.onnx"
    path.write_bytes(_se_clip_model(hw, act, residual=residual))
    nchw_path.write_bytes(_se_clip_model(hw, act, inputs_out=True, residual=residual))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    ops = _ops(blocked)
    scales = [la for la in blocked.layers() if la["op"] == "int8rt.ChannelScaleBf16x16c"]
    assert len(scales) == 1 and "clip" in scales[0]["detail"], blocked.layers()
    assert ("+ residual" in scales[0]["detail"]) == residual, blocked.layers()
    assert "Clip" not in ops and "Mul" not in ops and ops.count("Relu") == 0 and "int8rt.AddBf16x16c" not in ops, ops
    assert ops.count("int8rt.FromBf16x16c") == 2 and ops.count("int8rt.ToBf16x16c") == 1, ops  # x in; y, u out
    assert not any(op.startswith("int8rt.Activation") for op in ops), ops
    x = np.random.default_rng(13 + batch).standard_normal((batch, 5, *hw)).astype(F32)
    t_r = to_bf16(_build(nchw_path, False).run({"x": x})["t"])
    hi = 6.0 if act == "clip6" else np.inf
    for threads in (1, 2):
        got = _run_at(blocked, {"x": x}, threads)
        v = (t_r * got["s"]).astype(F32)
        want = to_bf16(np.clip((v + t_r).astype(F32) if residual else v, F32(0), F32(hi)))
        _same_bits(got["u"], want, f"u = {act}(t * s) {hw} b{batch}, {threads} threads")
    assert np.any(got["u"] == 0) and (act == "relu" or np.any(got["u"] == 6)), "the clip never bound"
    saved = tmp_path / "se.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert _ops(ref) == ops
        again = ref.run({"x": x})
    for name in ("u", "y"):
        _same_bits(again[name], got[name], f"{name}: reference kernels after save / load")


def test_se_clip_of_inexact_bounds_stays_outside(tmp_path) -> None:
    """Clip(0, 6.1): 6.1 is no BF16 value, so the clip cannot be the kernel's epilogue before its rounding:
    the float Clip layer stays (and ends the region: the convs before it, too few for their conversions, stay
    NCHW)."""
    pytest.importorskip("onnx")
    path = tmp_path / "se.onnx"
    path.write_bytes(_se_clip_model((9, 13), "clip-inexact"))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    ops = _ops(blocked)
    assert ops.count("Clip") == 1 and not any(op.startswith("int8rt.Activation") for op in ops), ops
