"""ResNet's BF16 engine as one channel-blocked region (engine/bf16_blocked.h,
issue 13 §4): the dense BF16 convs on NCHW16c bfloat16 tensors (7x7 / 2
stem, 3x3 at strides 1 and 2, the strided 1x1 projection;
kernels/abi/nchw16c_bf16.h's dense conv) and the blocked BF16 MaxPool.

What is exact: the dense conv computes the direct BF16 GEMM's operations in
its order (taps row-major, channel pairs ascending, odd element first; bias,
the BF16 residual, the clip), so every tensor the NCHW BF16 engine stores as
bfloat16 has the same bits; the stem's output, which the NCHW engine pools in
FP32, is rounded before the pool here, and rounding is monotone, so the
pool's output is the value the NCHW engine's next convs round to. The
network output, float32 in the NCHW engine, is its BF16 rounding here:
blocked == to_bf16(NCHW), bits, at channel counts that are not multiples of
16, batch 1 and 3 (40 x 46 image), 1 and 8 (56 x 56: 14 x 14 and 7 x 7
stages), 2 threads, after save / load, and on the reference
kernels. The global average pool's bound is tests/test_bf16_blocked.py's.
On AVX512-BF16 the 7x7 stem of 3 channels sums its window rows in channel-tap
pairs (RESULTS.md section 253: another order, bounded and pinned in
tests/cpp/test_nchw16c_bf16_avx512bf16.cc); its FP32 sums of these BF16
products of N(0, 1) inputs and weights round alike in both orders, so the
bits here are still the NCHW engine's (a change to the stem's products or
their count is not hidden by that).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from test_bf16_blocked import _blocked_ops, _build, F32, _order_model, _same_bits, to_bf16
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401,E402  (autouse: the VDPBF16PS order where AMX-BF16 runs)


def _resnet_model(stem: int = 52, hw: tuple = (40, 46)) -> bytes:
    """Stem 3 -> `stem`, 7x7 / 2 pads 3 + Relu; MaxPool 3x3 / 2 pads 1;
    bottleneck A (1x1 12, 3x3 12, 1x1 40, a 1x1 projection stem -> 40);
    bottleneck B (stride 2 in its 3x3, 18 wide, a strided 1x1 projection
    40 -> 48); bottleneck C (17 wide, identity residual) -> y. 12 convs."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(60)
    inits, nodes = {}, []

    def conv(x, y, c_in, c_out, k, stride=1, pad=0, relu=True):
        inits[f"w_{y}"] = rng.standard_normal((c_out, c_in, k, k)) * (1.5 / np.sqrt(c_in * k * k))
        inits[f"b_{y}"] = rng.standard_normal(c_out) * 0.2
        out = f"{y}_c" if relu else y
        nodes.append(helper.make_node("Conv", [x, f"w_{y}", f"b_{y}"], [out], kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[pad] * 4))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [y]))

    def add_relu(a, b, y):
        nodes.append(helper.make_node("Add", [a, b], [f"{y}_sum"]))
        nodes.append(helper.make_node("Relu", [f"{y}_sum"], [y]))

    conv("x", "s", 3, stem, 7, stride=2, pad=3)
    nodes.append(helper.make_node("MaxPool", ["s"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    conv("m", "a1", stem, 12, 1)
    conv("a1", "a2", 12, 12, 3, pad=1)
    conv("a2", "a3", 12, 40, 1, relu=False)
    conv("m", "ap", stem, 40, 1, relu=False)
    add_relu("a3", "ap", "a")
    conv("a", "b1", 40, 18, 1)
    conv("b1", "b2", 18, 18, 3, stride=2, pad=1)
    conv("b2", "b3", 18, 48, 1, relu=False)
    conv("a", "bp", 40, 48, 1, stride=2, relu=False)
    add_relu("b3", "bp", "b")
    conv("b", "c1", 48, 17, 1)
    conv("c1", "c2", 17, 17, 3, pad=1)
    conv("c2", "c3", 17, 48, 1, relu=False)
    add_relu("c3", "b", "y")
    h, w = hw
    graph = helper.make_graph(nodes, "resnet_bf16", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                   [None, 3, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 48, None, None])],
                              [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _same_bits_1_and_2_threads(engine, feed: dict, want: np.ndarray) -> None:
    """``engine``'s output "y" on ``feed`` has ``want``'s bits at 1 and at 2 threads."""
    _same_bits(engine.run(feed)["y"], want, "1 thread")
    keep = int8rt.get_num_threads()
    int8rt.set_num_threads(2)
    try:
        _same_bits(engine.run(feed)["y"], want, "2 threads")
    finally:
        int8rt.set_num_threads(keep)


# (56, 56): the image's planes are ResNet-50's last three (28 / 14 / 7): the
# 14 x 14 and 7 x 7 convs tile across rows, at batch 8 over every image
@pytest.mark.parametrize("batch, hw", [(1, (40, 46)), (3, (40, 46)), (1, (56, 56)), (8, (56, 56))])
def test_resnet_runs_as_one_region_with_the_nchw_bf16_bits(tmp_path, batch, hw) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "resnet.onnx"
    path.write_bytes(_resnet_model(hw=hw))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    assert "bf16 channel-blocked: 1 region(s), 12 BF16 convs on NCHW16c bfloat16 tensors, 2 layout conversions" \
        in blocked.report(), blocked.report()
    ops = [la["op"] for la in blocked.layers()]
    assert ops.count("int8rt.ConvBf16x16c") == 12 and ops.count("int8rt.MaxPoolBf16x16c") == 1, ops
    details = [la["detail"] for la in blocked.layers() if la["op"] == "int8rt.ConvBf16x16c"]
    # the strided 1x1 projection on the pointwise kernel over a copy of its pixels (not on AMX: capped here)
    assert sum("dense" in d for d in details) == 4 and sum("strided 1x1" in d for d in details) == 1, details
    assert sum("1x1" in d for d in details) == 8, details
    x = np.random.default_rng(61).standard_normal((batch, 3, *hw)).astype(F32)
    nchw = _build(path, False).run({"x": x})["y"]
    want = to_bf16(nchw)
    assert not np.array_equal(want, nchw), "the output was bf16 already: the test cannot tell"
    _same_bits_1_and_2_threads(blocked, {"x": x}, want)
    saved = tmp_path / "resnet.i8rt"
    blocked.save(str(saved))
    _same_bits(int8rt.Engine.load(str(saved)).run({"x": x})["y"], want, "loaded")
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert all("nchw16c_bf16_ref" in la["detail"] for la in ref.layers() if "Bf16x16c" in la["op"] and
                   la["op"] != "int8rt.ToBf16x16c" and la["op"] != "int8rt.FromBf16x16c"), ref.layers()
        got_ref = ref.run({"x": x})["y"]
    _same_bits(got_ref, want, "reference kernels")


def test_a_narrow_stem_joins_the_region(tmp_path) -> None:
    """A 3 -> 20 stem (2 lines per output pixel, a quarter of the image's
    pixels) joins the region too (RESULTS.md section 246: MobileNetV2's
    3 -> 32 stem, NCHW before, ran slower than the blocked stem and the
    image's conversion): 12 convs, 2 conversions, and the NCHW BF16 engine's
    bits as before (its stem's bfloat16 output is the blocked stem's)."""
    pytest.importorskip("onnx")
    path = tmp_path / "narrow.onnx"
    path.write_bytes(_resnet_model(stem=20))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here: " + str(blocked.report()))
    assert "bf16 channel-blocked: 1 region(s), 12 BF16 convs on NCHW16c bfloat16 tensors, 2 layout conversions" \
        in blocked.report(), blocked.report()
    x = np.random.default_rng(62).standard_normal((2, 3, 40, 46)).astype(F32)
    _same_bits(blocked.run({"x": x})["y"], to_bf16(_build(path, False).run({"x": x})["y"]), "narrow stem")


def test_dense_blocked_conv_keeps_the_direct_order(tmp_path) -> None:
    """A 1x3 conv of 2 channels after three exact identity 1x1 convs: its
    products in the direct order k' = tap * 2 + c are [0, 0, 1, 2^24, 1,
    -2^24] (x all ones), which sum to 1 only in that order with pairs
    ascending and the odd element first; pairs descending give 2, the even
    element first 0, the im2col order (k = c * 3 + tap) 2, taps reversed 2.
    The NCHW BF16 engine (its direct path) gives the same, on every tier."""
    pytest.importorskip("onnx")
    products = [0, 0, 1, 2.0 ** 24, 1, -2.0 ** 24]
    w2 = np.zeros((2, 2, 1, 3))
    for k, p in enumerate(products):
        w2[0, k % 2, 0, k // 2] = p
    w2[1, 0, 0, 1] = 1.0
    path = tmp_path / "order.onnx"
    path.write_bytes(_order_model(w2, 2, (1, 3)))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    assert any("dense" in la["detail"] for la in blocked.layers()), blocked.layers()
    x = np.ones((2, 2, 3, 12), F32)
    y = blocked.run({"x": x})["y"]
    assert np.all(y[:, 0] == 1.0), np.unique(y[:, 0])
    np.testing.assert_array_equal(y, _build(path, False).run({"x": x})["y"])
    saved = tmp_path / "order.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        np.testing.assert_array_equal(int8rt.Engine.load(str(saved)).run({"x": x})["y"], y)
