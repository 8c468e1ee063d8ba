"""BF16 channel-blocked regions (engine/bf16_blocked.h, issue 13 §4): BF16
1x1 and depthwise convs and the global average pool on [N, CB, H, W, 16]
bfloat16 tensors (kernels/abi/nchw16c_bf16.h), one conversion in and one out
per region.

What is exact and what is bounded:

1. Every blocked conv computes the NCHW BF16 conv's operations in the same
   order (the GEMM tile's channel pairs from 0, then bias, the BF16 residual,
   the clip; the depthwise taps from the bias), so a tensor that the NCHW
   BF16 engine stores as bfloat16 has the same bits. A network output that
   the NCHW engine keeps float32 is here the BF16 rounding of the same value:
   blocked == to_bf16(NCHW), bits, at odd channel counts, batch > 1, 2
   threads, after save / load, and on the reference kernels (a blocked
   engine loaded under the cap "ref") == the AVX512-BF16 ones.
2. The global average pool of a region sums the BF16 values of its input in
   pixel order (FP32 adds), then divides by P: exactly numpy's float32 loop
   over the blocked engine's own (rounded) conv output. Against the NCHW
   engine's FP32 pool of the unrounded output, each mean moves by at most
   2^-8 mean|y| (the rounding) + 2 P 2^-24 mean|y| (either order's adds).
Bounds of the BF16 layers against FP32, per op, are tests/test_bf16_layers.py's
(these layers give those layers' bits).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401,E402  (autouse: the VDPBF16PS order where AMX-BF16 runs)

F32 = np.float32


def to_bf16(x: np.ndarray) -> np.ndarray:
    """x rounded to BF16 (nearest even; the test data has no NaN / denormal)."""
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    return (((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)).view(F32)


def _block_model(c_in: int, mid: int, c_out: int, pool: bool, extra_outputs: tuple = (), hw: tuple = (11, 9),
                 ends: bool = False) -> bytes:
    """A MobileNetV2-style body of BF16-able convs at odd channel counts:
    p0 = 1x1 (x), t1 = Relu(1x1 expand (p0)), t2 = Clip(depthwise 3x3 (t1)),
    r = 1x1 project (t2) + p0 (a residual Add the builder fuses), t3 =
    Clip(depthwise 3x3 stride 2, pads 1 (1x1 (r))), y = 1x1 (t3); with
    `pool`, also g = GlobalAveragePool(y). Input planes `hw`. With `ends`, a
    grouped 3x3 conv of channel multiplier 2 (neither one group nor
    depthwise: no blocked kernel) before the body and one after it: the
    region converts the first's bfloat16 output in and writes y out as
    bfloat16 for the second (the network output is then that conv's z)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(50)
    inits = {
        "w0": rng.standard_normal((c_out, 2 * c_in if ends else c_in, 1, 1)) * 0.4, "b0": rng.standard_normal(c_out),
        "w1": rng.standard_normal((mid, c_out, 1, 1)) * 0.3, "b1": rng.standard_normal(mid),
        "wd": rng.standard_normal((mid, 1, 3, 3)) * 0.5, "bd": rng.standard_normal(mid),
        "w3": rng.standard_normal((c_out, mid, 1, 1)) * 0.2,
        "w4": rng.standard_normal((mid, c_out, 1, 1)) * 0.3, "b4": rng.standard_normal(mid),
        "we": rng.standard_normal((mid, 1, 3, 3)) * 0.5,
        "w5": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b5": rng.standard_normal(c_out),
        "lo": np.array(0.0), "hi": np.array(6.0),
    }
    nodes = [
        helper.make_node("Conv", ["s" if ends else "x", "w0", "b0"], ["p0"]),
        helper.make_node("Conv", ["p0", "w1", "b1"], ["c1"]),
        helper.make_node("Relu", ["c1"], ["t1"]),
        helper.make_node("Conv", ["t1", "wd", "bd"], ["c2"], group=mid, pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["t2"]),
        helper.make_node("Conv", ["t2", "w3"], ["c3"]),
        helper.make_node("Add", ["c3", "p0"], ["r"]),
        helper.make_node("Conv", ["r", "w4", "b4"], ["c4"]),
        helper.make_node("Conv", ["c4", "we"], ["c5"], group=mid, pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Clip", ["c5", "lo", "hi"], ["t3"]),
        helper.make_node("Conv", ["t3", "w5", "b5"], ["y"]),
    ]
    h, w = hw
    if ends:
        inits["ws"] = rng.standard_normal((2 * c_in, 1, 3, 3)) * 0.3
        inits["wz"] = rng.standard_normal((2 * c_out, 1, 3, 3)) * 0.3
        nodes.insert(0, helper.make_node("Conv", ["x", "ws"], ["s"], pads=[1, 1, 1, 1], group=c_in))
        nodes.append(helper.make_node("Conv", ["y", "wz"], ["z"], pads=[1, 1, 1, 1], group=c_out))
    shapes = {"z": [None, 2 * c_out, (h - 1) // 2 + 1, (w - 1) // 2 + 1],"y": [None, c_out, (h - 1) // 2 + 1, (w - 1) // 2 + 1], "g": [None, c_out, 1, 1], "t1": [None, mid, h, w]}
    outs = ["z" if ends else "y"]
    if pool:
        nodes.append(helper.make_node("GlobalAveragePool", ["y"], ["g"]))
        outs = ["g"]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in (*outs, *extra_outputs)]
    graph = helper.make_graph(nodes, "bf16_blocked", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                    [None, c_in, h, w])],
                              outputs, [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """``got`` and ``want`` are the same float32 bits (the BF16 region's tests' "exact")."""
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=what)


def _run_at(engine: int8rt.Engine, feed: dict, threads: int) -> dict:
    """``engine.run(feed)`` with ``threads`` threads, the thread count restored after."""
    keep = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)
    try:
        return engine.run(feed)
    finally:
        int8rt.set_num_threads(keep)


def _build(path, blocked: bool) -> int8rt.Engine:
    return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=blocked))


def _blocked_ops(engine: int8rt.Engine) -> list:
    return [la for la in engine.layers() if la["op"].startswith("int8rt.") and "Bf16x16c" in la["op"]]


@pytest.mark.parametrize("channels,hw", [((5, 37, 19), (11, 9)), ((16, 48, 32), (11, 9)), ((3, 17, 1), (11, 9)),
                                        ((5, 37, 19), (7, 30))], ids=["odd", "whole", "one", "wide"])
def test_blocked_region_gives_the_nchw_bf16_bits(tmp_path, channels, hw) -> None:
    """(The wide planes take the depthwise kernel's steps whose taps all fall
    inside the image, 8 and 4 pixels, stride 1 and 2; the others its edge steps.)"""
    pytest.importorskip("onnx")
    c_in, mid, c_out = channels
    path = tmp_path / "block.onnx"
    path.write_bytes(_block_model(c_in, mid, c_out, pool=False, hw=hw))
    x = np.random.default_rng(51).standard_normal((3, c_in, *hw)).astype(F32)
    nchw = _build(path, False)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        assert any("bf16 channel-blocked: not applied" in line for line in blocked.report()), blocked.report()
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    assert "bf16 channel-blocked: 1 region(s), 7 BF16 convs on NCHW16c bfloat16 tensors, 2 layout conversions" \
        in blocked.report(), blocked.report()
    ops = [la["op"] for la in blocked.layers()]
    assert ops.count("int8rt.ConvBf16x16c") == 7 and ops.count("int8rt.ToBf16x16c") == 1 and \
        ops.count("int8rt.FromBf16x16c") == 1, ops
    assert not _blocked_ops(nchw)
    want = to_bf16(nchw.run({"x": x})["y"])
    assert not np.array_equal(want, nchw.run({"x": x})["y"]), "the output was bf16 already: the test cannot tell"
    got = blocked.run({"x": x})["y"]
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    # 2 threads: the same bits.
    threads = int8rt.get_num_threads()
    int8rt.set_num_threads(2)
    try:
        got2 = blocked.run({"x": x})["y"]
    finally:
        int8rt.set_num_threads(threads)
    np.testing.assert_array_equal(got2.view(np.uint32), want.view(np.uint32))
    # The engine file keeps the region; loaded under the cap "ref" the reference kernels run it: same bits.
    saved = tmp_path / "block.i8rt"
    blocked.save(str(saved))
    loaded = int8rt.Engine.load(str(saved))
    assert [la["detail"] for la in loaded.layers()] == [la["detail"] for la in blocked.layers()]
    np.testing.assert_array_equal(loaded.run({"x": x})["y"].view(np.uint32), want.view(np.uint32))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert all("nchw16c_bf16_ref" in la["detail"] for la in ref.layers() if la["op"] == "int8rt.ConvBf16x16c")
        got_ref = ref.run({"x": x})["y"]
    np.testing.assert_array_equal(got_ref.view(np.uint32), want.view(np.uint32))


def test_region_between_two_nchw_bf16_convs_gives_their_bits(tmp_path) -> None:
    """A region entered from a bfloat16 NCHW tensor (a dense BF16 conv's
    output) and left as one (another's input): every tensor is bfloat16 in
    both engines, so the network output (the last conv's float32) has the
    NCHW BF16 engine's bits exactly, at 1 and 2 threads and on the reference kernels."""
    pytest.importorskip("onnx")
    path = tmp_path / "ends.onnx"
    path.write_bytes(_block_model(5, 37, 19, pool=False, hw=(9, 21), ends=True))
    x = np.random.default_rng(54).standard_normal((2, 5, 9, 21)).astype(F32)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    convert = [la["detail"] for la in blocked.layers() if "Bf16x16c" in la["op"] and "->" in la["detail"]]
    assert convert == ["NCHW -> NCHW16c bf16", "NCHW16c bf16 -> NCHW bfloat16"], convert
    want = _build(path, False).run({"x": x})["z"]
    for threads in (1, 2):
        keep = int8rt.get_num_threads()
        int8rt.set_num_threads(threads)
        try:
            got = blocked.run({"x": x})["z"]
        finally:
            int8rt.set_num_threads(keep)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=f"{threads} threads")
    saved = tmp_path / "ends.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        got_ref = int8rt.Engine.load(str(saved)).run({"x": x})["z"]
    np.testing.assert_array_equal(got_ref.view(np.uint32), want.view(np.uint32))


def test_blocked_global_average_pool_sums_the_bf16_values(tmp_path) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "pool.onnx"
    path.write_bytes(_block_model(5, 37, 19, pool=True))
    probe = tmp_path / "pool_y.onnx"  # y also an output: its region converts out once more
    probe.write_bytes(_block_model(5, 37, 19, pool=True, extra_outputs=("y",)))
    x = np.random.default_rng(52).standard_normal((2, 5, 11, 9)).astype(F32)
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    assert any(la["op"] == "int8rt.GlobalAveragePoolBf16x16c" for la in blocked.layers())
    g = blocked.run({"x": x})["g"]
    y = _build(probe, True).run({"x": x})["y"]  # the blocked conv's output, rounded (== to_bf16 of NCHW's)
    want = np.zeros(y.shape[:2], F32)
    for p in range(y.shape[2] * y.shape[3]):  # FP32 adds in pixel order, then / P
        want = (want + y.reshape(y.shape[0], y.shape[1], -1)[:, :, p]).astype(F32)
    want = (want / F32(y.shape[2] * y.shape[3])).astype(F32)
    np.testing.assert_array_equal(g.reshape(want.shape).view(np.uint32), want.view(np.uint32))
    nchw = _build(probe, False).run({"x": x})
    y32, g32 = nchw["y"].astype(np.float64), nchw["g"].astype(np.float64)
    P = y.shape[2] * y.shape[3]
    mag = np.abs(y32).mean(axis=(2, 3), keepdims=True)
    err = np.abs(g.astype(np.float64) - g32)
    bound = (2.0 ** -8 + 2 * P * 2.0 ** -24) * mag + 1e-30
    assert np.all(err <= bound), f"max excess {np.max(err - bound):.3g}"
    assert np.any(err > 0), "the pool's input was not rounded: the test cannot tell"


def test_short_regions_stay_nchw_and_the_switch_turns_it_off(tmp_path) -> None:
    """A 1x1 / 3x3 / 1x1 chain alone is 3 convs for 2 conversions (in and
    out): under 2 convs per conversion, the region is dropped and reported;
    channel_blocked=False runs no pass at all."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(53)
    inits = {"w0": rng.standard_normal((16, 8, 1, 1)), "w1": rng.standard_normal((16, 16, 3, 3)) * 0.2,
             "w2": rng.standard_normal((8, 16, 1, 1)) * 0.3}
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"]),
             helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["b", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 8, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8, 6, 6])],
                              [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    path = tmp_path / "r.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    on = _build(path, True)
    assert not _blocked_ops(on)
    report = on.report()
    assert any("bf16 channel-blocked: 1 region(s) left NCHW" in line for line in report) or \
        any("not applied" in line for line in report), report
    off = _build(path, False)
    assert not any("bf16 channel-blocked" in line for line in off.report()), off.report()


def _order_model(w2: np.ndarray, c: int, kernel: tuple, h: int = 3) -> bytes:
    """x [N, c, h, 12] -> three 1x1 identity convs (exact) -> conv with
    weights w2 (group c when w2 is depthwise, no padding) -> y: four BF16
    convs, one region (two conversions)."""
    from onnx import TensorProto, helper, numpy_helper

    group = c if w2.shape[1] == 1 and c > 1 else 1
    nodes = [helper.make_node("Conv", ["x", "eye"], ["a0"]),
             helper.make_node("Conv", ["a0", "eye"], ["a1"]),
             helper.make_node("Conv", ["a1", "eye"], ["a"]),
             helper.make_node("Conv", ["a", "w2"], ["y"], group=group)]
    inits = {"eye": np.eye(c).reshape(c, c, 1, 1), "w2": w2}
    graph = helper.make_graph(nodes, "order", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                             [None, c, h, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, w2.shape[0],
                                                                                      h - kernel[0] + 1,
                                                                                      12 - kernel[1] + 1])],
                              [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("what", ["pointwise", "depthwise", "depthwise3x3"])
def test_blocked_convs_keep_the_contract_order(tmp_path, what) -> None:
    """Sums where the order of the FP32 steps decides the result (2^24 + 1
    rounds to 2^24): pointwise, channel products [0, 2^24, 0, 1, 1, -2^24]
    give 1 only in the contract's order (pairs ascending, odd element
    first: abi/gemm_bf16.h); pairs descending give 2, even first 0.
    Depthwise, a 1x3 window's products [-2^24, 1, 2^24] give 1 in row-major
    tap order, 0 reversed; a 3x3 window over 4 rows (two output rows: the
    AVX-512 kernel's two-row step) with products -2^24 at (0, 2), 1 at
    (1, 1), 2^24 at (2, 0) gives 1 row-major, 0 column-major or reversed.
    The NCHW BF16 engine gives the same."""
    pytest.importorskip("onnx")
    h = 3
    if what == "pointwise":
        c = 6
        w2 = np.zeros((2, c, 1, 1))
        w2[0, :, 0, 0] = [0, 2.0 ** 24, 0, 1, 1, -2.0 ** 24]
        w2[1, :, 0, 0] = [1, 0, 0, 0, 0, 0]
        x = np.ones((2, c, 3, 12), F32)
        kernel = (1, 1)
    else:
        c = 3
        w2 = np.zeros((c, 1, 1, 3))
        w2[:, 0, 0, :] = [-2.0 ** 12, 2.0 ** -12, 2.0 ** 12]
        x = np.full((2, c, 3, 12), 2.0 ** 12, F32)
        kernel = (1, 3)
    if what == "depthwise3x3":
        c, h = 3, 4
        w2 = np.zeros((c, 1, 3, 3))
        w2[:, 0, 0, 2], w2[:, 0, 1, 1], w2[:, 0, 2, 0] = -2.0 ** 12, 2.0 ** -12, 2.0 ** 12
        x = np.full((2, c, h, 12), 2.0 ** 12, F32)
        kernel = (3, 3)
    path = tmp_path / "order.onnx"
    path.write_bytes(_order_model(w2, c, kernel, h))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    y = blocked.run({"x": x})["y"]
    assert np.all(y[:, 0] == 1.0), np.unique(y[:, 0])
    np.testing.assert_array_equal(y, _build(path, False).run({"x": x})["y"])
