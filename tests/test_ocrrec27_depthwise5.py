"""BF16 channel-blocked depthwise convs of 5-wide windows, AVX512-BF16's ring
of widened rows (kernels/x86/avx512bf16/depthwise_nchw16c_bf16_ring.cc,
RESULTS.md section 280: column stride 1, rows of 8+ outputs), in networks
shaped like PP-OCR rec's stages: 5 x 5 of stride 1 and (2, 1), a 1 x 5
window (and the old walk's 5-wide windows: a one-column plane), with
PP-OCR's activation chain (x * Clip(x + 3, 0, 6) / 6 written out),
HardSwish and Relu, odd channel counts (a last block of 5 live lanes),
planes of 3 rows (taller windows than the plane), 1 column and 80 columns.

Exact: the kernel multiplies a tap outside the image by +0 and sums every
tap in row-major order from the bias with FMAs, as the reference kernel and
the NCHW BF16 conv do, so the region's output == to_bf16(the NCHW BF16
engine's output), bits, at batch 1 and 3 and with 1 and 2 threads, and the
reference kernels (the ``ref`` cap) give the same bits after save / load.
Also with a +inf weight tap in the last conv (NaN where it meets a padded
+0, as in the reference; +-inf or 0 after the Relu inside).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (autouse: the VDPBF16PS order where AMX-BF16 runs)
from test_bf16_blocked import _blocked_ops, _build, _run_at, _same_bits, to_bf16

F32 = np.float32


def _chain(src: str, dst: str, helper) -> list:
    """PP-OCR's hardswish as paddle2onnx writes it: src * Clip(src + 3, 0, 6) / 6."""
    return [helper.make_node("Add", [src, "three"], [src + "_a"]),
            helper.make_node("Clip", [src + "_a", "zero", "six"], [src + "_c"]),
            helper.make_node("Mul", [src, src + "_c"], [src + "_m"]),
            helper.make_node("Div", [src + "_m", "six"], [dst])]


def _model(hw: tuple, mid: int, inf_tap: bool, c_in: int = 6) -> bytes:
    """x -> 1x1 (c_in -> mid) + chain -> dw 5x5 + chain -> dw 5x5 / (2, 1)
    + HardSwish -> 1x1 (mid -> mid) -> dw 1x5 -> y = dw 5x5 / (2, 1) + Relu
    (the region's exit)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(280)
    inits = {
        "w0": rng.standard_normal((mid, c_in, 1, 1)) * 0.5, "b0": rng.standard_normal(mid),
        "w1": rng.standard_normal((mid, 1, 5, 5)) * 0.3, "b1": rng.standard_normal(mid),
        "w2": rng.standard_normal((mid, 1, 5, 5)) * 0.3, "b2": rng.standard_normal(mid),
        "w3": rng.standard_normal((mid, mid, 1, 1)) * 0.3, "b3": rng.standard_normal(mid),
        "w4": rng.standard_normal((mid, 1, 1, 5)) * 0.4, "b4": rng.standard_normal(mid),
        "w5": rng.standard_normal((mid, 1, 5, 5)) * 0.3, "b5": rng.standard_normal(mid),
        "three": np.array(3.0), "zero": np.array(0.0), "six": np.array(6.0),
    }
    if inf_tap:  # channel 2's corner tap: +inf x a padded +0 is NaN, inside the image +-inf
        inits["w5"][2, 0, 0, 0] = np.inf
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"])]
    nodes += _chain("c0", "t0", helper)
    nodes.append(helper.make_node("Conv", ["t0", "w1", "b1"], ["c1"], group=mid, pads=[2, 2, 2, 2]))
    nodes += _chain("c1", "t1", helper)
    nodes.append(helper.make_node("Conv", ["t1", "w2", "b2"], ["c2"], group=mid, pads=[2, 2, 2, 2], strides=[2, 1]))
    nodes.append(helper.make_node("HardSwish", ["c2"], ["t2"]))
    nodes.append(helper.make_node("Conv", ["t2", "w3", "b3"], ["c3"]))
    nodes.append(helper.make_node("Conv", ["c3", "w4", "b4"], ["c4"], group=mid, pads=[0, 2, 0, 2]))
    nodes.append(helper.make_node("Conv", ["c4", "w5", "b5"], ["c5"], group=mid, pads=[2, 2, 2, 2], strides=[2, 1]))
    nodes.append(helper.make_node("Relu", ["c5"], ["y"]))
    h, w = hw
    h2 = (h - 1) // 2 + 1
    oh, ow = (h2 - 1) // 2 + 1, w
    graph = helper.make_graph(
        nodes, "ocrrec27_dw5", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c_in, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, mid, oh, ow])],
        [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("hw,mid,batch,inf_tap", [
    ((12, 80), 32, 1, False), ((12, 80), 37, 3, False), ((3, 80), 21, 3, False), ((6, 1), 16, 1, False),
    ((9, 23), 37, 3, True)], ids=["rec12x80-b1", "rec12x80-odd-b3", "rec3x80-b3", "one-column", "inf-tap-b3"])
def test_5_wide_depthwise_gives_the_nchw_bf16_bits(tmp_path, hw, mid, batch, inf_tap) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "dw5.onnx"
    path.write_bytes(_model(hw, mid, inf_tap))
    x = np.random.default_rng(281).standard_normal((batch, 6, *hw)).astype(F32)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    dw = [la["detail"] for la in blocked.layers() if la["op"] == "int8rt.ConvBf16x16c" and "depthwise" in la["detail"]]
    assert len(dw) == 4, [(la["op"], la["detail"]) for la in blocked.layers()]
    want = to_bf16(_build(path, False).run({"x": x})["y"])
    if inf_tap:
        assert np.isnan(want).any() and not np.isnan(want).all()
    for threads in (1, 2):
        _same_bits(_run_at(blocked, {"x": x}, threads)["y"], want, f"{hw} {threads} threads")
    saved = tmp_path / "dw5.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert all("nchw16c_bf16_ref" in la["detail"] for la in ref.layers() if la["op"] == "int8rt.ConvBf16x16c")
        got_ref = ref.run({"x": x})["y"]
    _same_bits(got_ref, want, f"{hw} reference kernels")


def _order_model(w2: np.ndarray, h: int, w: int, strides: tuple) -> bytes:
    """x [N, c, h, w] -> three 1x1 identity convs (exact) -> depthwise conv
    w2 of `strides`, no padding -> y: one region (two conversions)."""
    from onnx import TensorProto, helper, numpy_helper

    c, kh, kw = w2.shape[0], w2.shape[2], w2.shape[3]
    nodes = [helper.make_node("Conv", ["x", "eye"], ["a0"]), helper.make_node("Conv", ["a0", "eye"], ["a1"]),
             helper.make_node("Conv", ["a1", "eye"], ["a"]),
             helper.make_node("Conv", ["a", "w2"], ["y"], group=c, strides=list(strides))]
    oh, ow = (h - kh) // strides[0] + 1, (w - kw) // strides[1] + 1
    graph = helper.make_graph(
        nodes, "order", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, c, oh, ow])],
        [numpy_helper.from_array(v.astype(F32), k) for k, v in {"eye": np.eye(c).reshape(c, c, 1, 1), "w2": w2}.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("kernel,strides,h", [((5, 5), (1, 1), 7), ((5, 5), (2, 1), 8), ((5, 5), (1, 2), 6),
                                              ((3, 3), (2, 1), 6), ((3, 3), (1, 2), 5)],
                         ids=["5x5", "5x5-s2,1", "5x5-s1,2", "3x3-s2,1", "3x3-s1,2"])
def test_ring_keeps_the_contract_order(tmp_path, kernel, strides, h) -> None:
    """Sums where the order of the FP32 steps decides the result (2^24 + 1
    rounds to 2^24), x = 2^12 everywhere: channel 0's products -2^24, 1,
    2^24 along the middle window row (first, centre, last tap) give 1 in
    row-major order, 0 with the row's taps reversed; channel 1's the same
    down the anti-diagonal (top right, centre, bottom left) give 1
    row-major, 0 column-major; channel 2's are channel 0's mirrored (+2^24
    first): 0 row-major, 1 reversed. The NCHW BF16 engine gives the same.
    (5x5 / (1, 2) and the 3x3 windows of unequal strides are not the ring's:
    they check the walk it was measured against and left them to,
    nchw16c_bf16.cc's.)"""
    pytest.importorskip("onnx")
    kh, kw = kernel
    w2 = np.zeros((3, 1, kh, kw))
    m, big, small = kh // 2, 2.0 ** 12, 2.0 ** -12
    w2[0, 0, m, 0], w2[0, 0, m, kw // 2], w2[0, 0, m, kw - 1] = -big, small, big
    w2[1, 0, 0, kw - 1], w2[1, 0, m, kw // 2], w2[1, 0, kh - 1, 0] = -big, small, big
    w2[2, 0, m, 0], w2[2, 0, m, kw // 2], w2[2, 0, m, kw - 1] = big, small, -big
    path = tmp_path / "order.onnx"
    path.write_bytes(_order_model(w2, h, 13, strides))
    x = np.full((2, 3, h, 13), 2.0 ** 12, F32)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    y = blocked.run({"x": x})["y"]
    assert y.shape[2] >= 2 and y.shape[3] >= 2, y.shape
    assert np.all(y[:, :2] == 1.0) and np.all(y[:, 2] == 0.0), [np.unique(y[:, k]) for k in range(3)]
    _same_bits(y, _build(path, False).run({"x": x})["y"], f"{kernel} {strides}")
