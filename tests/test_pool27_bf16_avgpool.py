"""AveragePool in the BF16 channel-blocked region (int8rt.AveragePoolBf16x16c, engine/bf16_blocked.h,
ops/bf16_blocked_avgpool.cc, RESULTS.md section 282): ECA-ResNet's and NFNet's avg-down shortcuts
(2x2 / 2, ceil_mode, count_include_pad as timm exports them) no longer leave the region.

The contract is exact: the pool sums the widened BF16 values in FP32 in the FP32 AveragePool's order,
divides as that layer divides (op_util.h's pool_divisors) and rounds once, so its output is the FP32
AveragePool of the widened input rounded to BF16 -- the bits the pool's reader rounded when the pool ran
NCHW between FromBf16x16c and ToBf16x16c. Checked three ways on one network (x -> 1x1 -> 3x3 -> pool ->
1x1 -> 3x3 -> 1x1 -> 1x1, odd channel counts), the pool's output also a network output:
  - against NumPy: the pool of the pool's input (the NCHW BF16 engine's conv output, rounded to BF16 by a
    Cast pair) summed tap by tap in float32 from +0, divided by the float32 tap-count product, rounded;
  - against int8rt's FP32 AveragePool layer: the same network with that Cast pair, run by the NCHW BF16
    engine (its pool is the FP32 layer), its pool output rounded to BF16;
  - downstream: the network output is that engine's, rounded to BF16 (the next conv reads the same bits).
Windows: timm's avg-down (2x2 / 2, ceil_mode, no pad counted) on odd planes, 3x3 / 1 with pads counted,
3x3 / 2 with pads and ceil overhang (pads count, overhang does not), 2x2 / 2 floor, a dilated window
(opset 19), and a plane of 70 rows (output rows split over two tasks). Batch 1 and 3, 1 and 2 threads,
after save / load, under INT8RT_MAX_ISA=avx2 and ref. A forged 'channels' is refused naming the layer.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest

import int8rt
from test_bf16_blocked import _blocked_ops, _build, _run_at, _same_bits, F32, to_bf16
from bf16_order import reference_kernels, uncap, vdpbf16ps_order  # noqa: F401,E402  (autouse: VDPBF16PS order on AMX)

C_IN, MID, C_OUT = 5, 37, 19  # MID: the pooled channels, 2 whole blocks and 5 lanes of a third

# name: (AveragePool attributes, plane (H, W), opset)
WINDOWS = {
    "timm-avg-down": (dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, count_include_pad=0), (13, 11), 17),
    "3x3s1-pads-counted": (dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1), (9, 10), 17),
    "3x3s2-ceil-pads": (dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1,
                             count_include_pad=1), (12, 9), 17),
    "2x2s2-floor": (dict(kernel_shape=[2, 2], strides=[2, 2]), (13, 11), 17),
    "dilated": (dict(kernel_shape=[2, 3], dilations=[2, 2], pads=[1, 1, 0, 1]), (10, 11), 19),
    "two-tasks": (dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]), (70, 64), 17),
}


def _model(attrs: dict, hw: tuple, opset: int, by_hand: bool) -> bytes:
    """x -> a = Relu(1x1 C_IN -> MID) -> b = Relu(3x3 pads 1) -> p = AveragePool(b) -> d = Relu(1x1 MID -> 24)
    -> e = Relu(3x3 pads 1) -> f = Relu(1x1) -> y = 1x1 24 -> C_OUT; outputs y and p. With `by_hand`, b goes
    through Cast(bfloat16) -> Cast(float) first (output bh: the pool's input as the region stores it), so
    the NCHW BF16 engine pools the rounded values with its FP32 AveragePool layer."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2820)
    shapes = {"a": (MID, C_IN, 1, 1), "b": (MID, MID, 3, 3), "d": (24, MID, 1, 1), "e": (24, 24, 3, 3),
              "f": (24, 24, 1, 1), "y": (C_OUT, 24, 1, 1)}
    inits = {}
    for k, s in shapes.items():
        inits["w" + k] = rng.standard_normal(s) * (1.5 / np.sqrt(np.prod(s[1:])))
        inits["b" + k] = rng.standard_normal(s[0]) * .2
    pads3 = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [helper.make_node("Conv", ["x", "wa", "ba"], ["a_c"]), helper.make_node("Relu", ["a_c"], ["a"]),
             helper.make_node("Conv", ["a", "wb", "bb"], ["b_c"], **pads3), helper.make_node("Relu", ["b_c"], ["b"])]
    src = "b"
    if by_hand:
        nodes += [helper.make_node("Cast", ["b"], ["b_h"], to=TensorProto.BFLOAT16),
                  helper.make_node("Cast", ["b_h"], ["bh"], to=TensorProto.FLOAT)]
        src = "bh"
    nodes += [helper.make_node("AveragePool", [src], ["p"], **attrs),
              helper.make_node("Conv", ["p", "wd", "bd"], ["d_c"]), helper.make_node("Relu", ["d_c"], ["d"]),
              helper.make_node("Conv", ["d", "we", "be"], ["e_c"], **pads3), helper.make_node("Relu", ["e_c"], ["e"]),
              helper.make_node("Conv", ["e", "wf", "bf"], ["f_c"]), helper.make_node("Relu", ["f_c"], ["f"]),
              helper.make_node("Conv", ["f", "wy", "by"], ["y"])]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, c, None, None])
            for n, c in [("y", C_OUT), ("p", MID)] + ([("bh", MID)] if by_hand else [])]
    graph = helper.make_graph(nodes, "avgpool_bf16", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                    [None, C_IN, *hw])],
                              outs, [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _geometry(n: int, k: int, s: int, d: int, pb: int, pe: int, ceil: bool) -> int:
    span = (k - 1) * d + 1
    out = (n + pb + pe - span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + pb:  # the last window must start inside the input or its left pad
        out -= 1
    return out


def numpy_avgpool(x: np.ndarray, attrs: dict) -> np.ndarray:
    """ONNX AveragePool in float32: the taps inside the input summed in (ky, kx) order from +0, divided by
    the float32 product of the per-dim counts (count_include_pad: the taps inside the padded input; the
    ceil overhang never counts)."""
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    dh, dw = attrs.get("dilations", [1, 1])
    pt, pl, pb, pr = attrs.get("pads", [0, 0, 0, 0])
    ceil, include = bool(attrs.get("ceil_mode", 0)), bool(attrs.get("count_include_pad", 0))
    N, C, H, W = x.shape
    oh, ow = _geometry(H, kh, sh, dh, pt, pb, ceil), _geometry(W, kw, sw, dw, pl, pr, ceil)

    def counts(n, k, s, d, p0, p1, o):
        lo, hi = (-p0, n + p1) if include else (0, n)
        return np.array([sum(lo <= i * s - p0 + t * d < hi for t in range(k)) for i in range(o)], F32)

    ch, cw = counts(H, kh, sh, dh, pt, pb, oh), counts(W, kw, sw, dw, pl, pr, ow)
    acc = np.zeros((N, C, oh, ow), F32)
    for ky in range(kh):
        for kx in range(kw):
            iy = np.arange(oh) * sh - pt + ky * dh
            ix = np.arange(ow) * sw - pl + kx * dw
            ok = (iy[:, None] >= 0) & (iy[:, None] < H) & (ix[None, :] >= 0) & (ix[None, :] < W)
            taps = x[:, :, np.clip(iy, 0, H - 1)][:, :, :, np.clip(ix, 0, W - 1)]
            acc = acc + np.where(ok, taps, F32(0))
    return acc / (ch[:, None] * cw[None, :])


def _engines(tmp_path, name: str):
    pytest.importorskip("onnx")
    attrs, hw, opset = WINDOWS[name]
    net, by_hand = tmp_path / "net.onnx", tmp_path / "by_hand.onnx"
    net.write_bytes(_model(attrs, hw, opset, False))
    by_hand.write_bytes(_model(attrs, hw, opset, True))
    blocked = _build(net, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here: " + str(blocked.report()))
    return blocked, _build(by_hand, False), attrs, hw


def _pool_details(engine) -> list:
    return [la["detail"] for la in engine.layers() if la["op"] == "int8rt.AveragePoolBf16x16c"]


def _check(got: dict, nchw: dict, attrs: dict, what: str) -> None:
    _same_bits(got["p"], to_bf16(numpy_avgpool(nchw["bh"], attrs)), what + ": pool against NumPy")
    _same_bits(got["p"], to_bf16(nchw["p"]), what + ": pool against the FP32 AveragePool layer")
    _same_bits(got["y"], to_bf16(nchw["y"]), what + ": network output")


@pytest.mark.parametrize("name", list(WINDOWS))
@pytest.mark.parametrize("batch", [1, 3])
def test_blocked_average_pool_is_the_fp32_pool_rounded_once(tmp_path, name, batch) -> None:
    blocked, nchw_engine, attrs, hw = _engines(tmp_path, name)
    assert "bf16 channel-blocked: 1 region(s), 6 BF16 convs on NCHW16c bfloat16 tensors, 3 layout conversions" \
        in blocked.report(), blocked.report()
    ops = [la["op"] for la in blocked.layers()]
    assert ops.count("int8rt.AveragePoolBf16x16c") == 1 and "AveragePool" not in ops, ops
    assert not _blocked_ops(nchw_engine)
    x = np.random.default_rng(batch).standard_normal((batch, C_IN, *hw)).astype(F32)
    nchw = nchw_engine.run({"x": x})
    assert not np.array_equal(to_bf16(nchw["p"]), nchw["p"]), "the pool's output was bf16 already: cannot tell"
    _same_bits(nchw["bh"], to_bf16(nchw["bh"]), "the NCHW engine's pool input is the BF16 tensor")
    for threads in (1, 2):
        _check(_run_at(blocked, {"x": x}, threads), nchw, attrs, f"{threads} thread(s)")
    saved = tmp_path / "net.i8rt"
    blocked.save(str(saved))
    _check(int8rt.Engine.load(str(saved)).run({"x": x}), nchw, attrs, "loaded")
    for cap in ("avx2", "ref"):
        int8rt.set_max_isa(cap)
        try:
            capped = int8rt.Engine.load(str(saved))
        finally:
            uncap()
        assert all("nchw16c_f32_ref" in d for d in _pool_details(capped)), capped.layers()
        _check(_run_at(capped, {"x": x}, 2), nchw, attrs, f"under the {cap} cap")


def test_the_pool_runs_on_the_vector_tier(tmp_path) -> None:
    blocked, _, _, _ = _engines(tmp_path, "timm-avg-down")
    details = _pool_details(blocked)
    isa = int8rt.kernels.cpu_features()
    if isa.get("avx512f"):
        assert len(details) == 1 and "nchw16c_f32_avx512" in details[0], details


def _forged_channels(data: bytes, old: int, new: int) -> bytes:
    """The engine file with the int attribute 'channels' of value `old` set to `new`, reframed with a valid
    checksum (tests/engine_bytes.py)."""
    import engine_bytes
    body = engine_bytes.payload(data)
    tag = struct.pack("<Q", 8) + b"channels" + bytes([0]) + struct.pack("<q", old)
    assert body.count(tag) == 2, body.count(tag)  # the pool's and its output's FromBf16x16c
    ops = body.index(b"int8rt.AveragePoolBf16x16c")
    at = body.index(tag, ops) + len(tag) - 8  # the first after the op name: the pool's
    body = body[:at] + struct.pack("<q", new) + body[at + 8:]
    return engine_bytes.frame(body, version=struct.unpack_from("<I", data, 8)[0])


@pytest.mark.parametrize("new,match", [
    (50, r"\(int8rt.AveragePoolBf16x16c\).*input.*with CB = 4, got \[1, 3, 13, 11, 16\]"),
    (0, r"\(int8rt.AveragePoolBf16x16c\).*positive attribute 'channels'"),
], ids=["blocks-mismatch", "zero"])
def test_a_forged_channel_count_is_refused_naming_the_layer(tmp_path, new, match) -> None:
    blocked, _, _, hw = _engines(tmp_path, "timm-avg-down")
    data = _forged_channels(blocked.serialize(), MID, new)
    with pytest.raises(int8rt.Error, match=match):
        int8rt.Engine.deserialize(data).run({"x": np.zeros((1, C_IN, *hw), F32)})
