"""Layers as torch.onnx writes them in real exports, kept in int8.

- ``MaxPool`` with ``ceil_mode=1`` (torchvision's GoogLeNet and SqueezeNet):
  the INT8 lowering writes the last window's overhang as end padding, which
  the int8 pool kernels skip (engine/lower_int8_spatial.cc). Max commutes
  with the monotone int8 grid, so the INT8 engine's pool output dequantized
  equals a numpy ceil-mode max pool of its own dequantized input, exactly.
- ``ReduceMean`` over the spatial axes with keepdims (the dynamo exporter's
  ``adaptive_avg_pool2d(x, 1)``, axes as an input since opset 18) becomes a
  GlobalAveragePool (graph/passes/global_mean_as_pool.cc), so an SE block's
  mean and a classifier head's pool stay int8.
- ``BatchNormalization`` that no producer absorbs (DenseNet's BN after each
  Concat) becomes a 1x1 depthwise Conv (graph/passes/fold_batchnorm.cc
  batchnorm_as_depthwise) into which its Relu fuses, so the dense block
  stays int8.
"""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _testing


def _model(nodes, inits, x_shape, out_name, out_shape, opset=18):
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def _ceil_out(n: int, k: int, s: int, pb: int, pe: int) -> int:
    out = math.ceil((n + pb + pe - k) / s) + 1
    if (out - 1) * s >= n + pb:
        out -= 1
    return out


def _maxpool_ceil_np(x: np.ndarray, k: int, s: int, pads: list[int]) -> np.ndarray:
    n, c, h, w = x.shape
    oh, ow = _ceil_out(h, k, s, pads[0], pads[2]), _ceil_out(w, k, s, pads[1], pads[3])
    y = np.empty((n, c, oh, ow), np.float32)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - pads[0], j * s - pads[1]
            win = x[:, :, max(r0, 0):min(r0 + k, h), max(c0, 0):min(c0 + k, w)]
            y[:, :, i, j] = win.max(axis=(2, 3))
    return y


def _int8_engine(model: bytes, x: np.ndarray) -> int8rt.Engine:
    cal = int8rt.make_calibrator({"x": x}, algorithm="minmax", batch_size=len(x))
    return int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8", calibrator=cal))


@pytest.mark.parametrize("hw,k,s,pads", [
    (13, 3, 2, [0, 0, 0, 0]),   # GoogLeNet / SqueezeNet: overhang of 1
    (14, 3, 2, [0, 0, 0, 0]),
    (12, 2, 2, [0, 0, 0, 0]),   # no overhang: ceil == floor
    (10, 3, 2, [1, 1, 1, 1]),
    (11, 3, 3, [1, 0, 0, 1]),   # asymmetric pads
    (7, 4, 3, [0, 0, 0, 0]),    # overhang of 2
])
def test_ceil_mode_maxpool_is_int8_and_exact(hw: int, k: int, s: int, pads: list[int]) -> None:
    rng = np.random.default_rng(hw * 7 + k)
    c = 5
    w = rng.uniform(-1, 1, (c, 3, 3, 3)).astype(np.float32)
    oh = _ceil_out(hw, k, s, pads[0], pads[2])
    ow = _ceil_out(hw, k, s, pads[1], pads[3])
    nodes = [helper.make_node("Conv", ["x", "w"], ["conv"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
             helper.make_node("MaxPool", ["relu"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=pads,
                              ceil_mode=1, name="pool")]
    model = _model(nodes, {"w": w}, ["N", 3, hw, hw], "y", ["N", c, oh, ow])
    x = rng.uniform(-1, 1, (4, 3, hw, hw)).astype(np.float32)
    engine = _int8_engine(model, x)
    pool = [L for L in engine.layers() if L["name"].startswith("pool")]
    assert pool and all(L["precision"] == "int8" for L in pool), pool
    # the same engine with a 1x1 pool (an identity, and an int8 reader: a Conv that is only a
    # network output writes float32, lower_int8_conv_head.cc), to read the int8 conv output it pools
    anchor = helper.make_node("MaxPool", ["relu"], ["relu_codes"], kernel_shape=[1, 1], name="anchor")
    conv_only = _model([*nodes[:2], anchor], {"w": w}, ["N", 3, hw, hw], "relu_codes", ["N", c, hw, hw])
    engine_conv = int8rt.build_engine(conv_only, int8rt.BuilderConfig(
        precision="int8", calibrator=int8rt.make_calibrator({"x": x}, algorithm="minmax", batch_size=len(x))))
    assert all(L["precision"] == "int8" for L in engine_conv.layers() if L["name"].startswith(("conv", "anchor")))
    relu = engine_conv.create_execution_context().run({"x": x})["relu_codes"]
    y = engine.create_execution_context().run({"x": x})["y"]
    assert y.shape == (4, c, oh, ow)
    np.testing.assert_array_equal(y, _maxpool_ceil_np(relu, k, s, pads))


def test_ceil_mode_average_with_count_include_pad_stays_float() -> None:
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, (4, 3, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["conv"], name="conv"),
             helper.make_node("AveragePool", ["conv"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                              ceil_mode=1, count_include_pad=1, name="pool")]
    oh = _ceil_out(8, 3, 2, 1, 1)
    model = _model(nodes, {"w": w}, ["N", 3, 8, 8], "y", ["N", 4, oh, oh])
    engine = _int8_engine(model, rng.uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32))
    pool = [L for L in engine.layers() if L["name"] == "pool"]
    assert pool and pool[0]["precision"] == "fp32"


def _se_model(axes_as_input: bool, keepdims: int = 1, axes=(2, 3)) -> bytes:
    """x -> Conv -> Relu -> mean over `axes` -> Conv(gate) -> Sigmoid -> x * gate (a squeeze-excitation block)."""
    rng = np.random.default_rng(11)
    c = 8
    inits = {"w1": rng.uniform(-0.5, 0.5, (c, 3, 3, 3)).astype(np.float32),
             "w2": rng.uniform(-0.5, 0.5, (c, c, 1, 1)).astype(np.float32)}
    if axes_as_input:
        inits["axes"] = np.array(axes, np.int64)
        mean = helper.make_node("ReduceMean", ["a", "axes"], ["m"], keepdims=keepdims, name="mean")
        opset = 18
    else:
        mean = helper.make_node("ReduceMean", ["a"], ["m"], axes=list(axes), keepdims=keepdims, name="mean")
        opset = 13
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["a"], name="relu"),
             mean,
             helper.make_node("Conv", ["m", "w2"], ["g0"], name="conv2"),
             helper.make_node("Sigmoid", ["g0"], ["g"], name="sigmoid"),
             helper.make_node("Mul", ["a", "g"], ["y"], name="gate")]
    return _model(nodes, inits, ["N", 3, 10, 10], "y", ["N", c, 10, 10], opset)


@pytest.mark.parametrize("axes_as_input", [True, False])
def test_spatial_reduce_mean_becomes_global_average_pool(axes_as_input: bool) -> None:
    net = int8rt.onnx.import_model(_se_model(axes_as_input))
    report = _testing.run_passes(net, {})
    ops = [n["op"] for n in net.nodes()]
    assert "ReduceMean" not in ops and "GlobalAveragePool" in ops
    assert "ReduceMean 'mean' over the spatial axes is a GlobalAveragePool" in report["lines"]


@pytest.mark.parametrize("keepdims,axes", [(1, (1, 2, 3)), (0, (1, 2, 3)), (1, (3,)), (1, (0, 2, 3))])
def test_other_reduce_means_stay(keepdims: int, axes: tuple) -> None:
    rng = np.random.default_rng(2)
    inits = {"axes": np.array(axes, np.int64)}
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=keepdims, name="mean")]
    shape = [2, 3, 4, 5]
    out = [d for i, d in enumerate(shape) if i not in axes] if not keepdims else \
        [1 if i in axes else d for i, d in enumerate(shape)]
    net = int8rt.onnx.import_model(_model(nodes, inits, shape, "y", out))
    _testing.run_passes(net, {})
    assert [n["op"] for n in net.nodes()] == ["ReduceMean"]
    x = rng.standard_normal(shape).astype(np.float32)
    y = _testing.Executor(net).run({"x": x})["y"]
    np.testing.assert_allclose(y, x.mean(axis=axes, keepdims=bool(keepdims)), rtol=1e-6, atol=1e-7)


def test_squeeze_excitation_block_stays_int8_and_fp32_matches_numpy() -> None:
    model = _se_model(axes_as_input=True)
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (6, 3, 10, 10)).astype(np.float32)
    engine = _int8_engine(model, x)
    by_name = {L["name"]: L["precision"] for L in engine.layers()}
    assert by_name.get("mean") == "int8", by_name
    assert not any(L["op"] in ("ReduceMean", "GlobalAveragePool") and L["precision"] == "fp32"
                   for L in engine.layers())
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    y = fp32.create_execution_context().run({"x": x})["y"]
    import onnxruntime as ort
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    y8 = engine.create_execution_context().run({"x": x})["y"]
    c = np.corrcoef((y8 - y8.mean(0)).ravel(), (y - y.mean(0)).ravel())[0, 1]
    assert c > 0.98, c


def _dense_block_model(c1: int = 4, c2: int = 6) -> tuple[bytes, dict]:
    """DenseNet's pattern: Concat of two conv branches -> BatchNormalization -> Relu -> 1x1 Conv.
    No producer can absorb the BN (it reads a Concat)."""
    rng = np.random.default_rng(21)
    c = c1 + c2
    inits = {"wa": rng.uniform(-0.5, 0.5, (c1, 3, 3, 3)).astype(np.float32),
             "wb": rng.uniform(-0.5, 0.5, (c2, 3, 1, 1)).astype(np.float32),
             "gamma": rng.uniform(-2, 2, c).astype(np.float32),   # negative factors included
             "beta": rng.uniform(-1, 1, c).astype(np.float32),
             "mean": rng.uniform(-0.5, 0.5, c).astype(np.float32),
             "var": rng.uniform(0.05, 2, c).astype(np.float32),
             "wc": rng.uniform(-0.5, 0.5, (5, c, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], pads=[1, 1, 1, 1], name="conv_a"),
             helper.make_node("Conv", ["x", "wb"], ["b"], name="conv_b"),
             helper.make_node("Concat", ["a", "b"], ["cat"], axis=1, name="cat"),
             helper.make_node("BatchNormalization", ["cat", "gamma", "beta", "mean", "var"], ["bn"],
                              epsilon=1e-5, name="bn"),
             helper.make_node("Relu", ["bn"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "wc"], ["y"], name="conv_c")]
    return _model(nodes, inits, ["N", 3, 9, 9], "y", ["N", 5, 9, 9], 13), inits


def test_unabsorbed_batchnorm_becomes_depthwise_conv_with_its_relu() -> None:
    model, p = _dense_block_model()
    net = int8rt.onnx.import_model(model)
    report = _testing.run_passes(net, {})
    assert "BatchNormalization 'bn' is a 1x1 depthwise Conv (no producer absorbs it)" in report["lines"]
    nodes = {n["name"]: n for n in net.nodes()}
    assert "BatchNormalization" not in [n["op"] for n in net.nodes()]
    assert nodes["bn"]["op"] == "Conv" and nodes["bn"]["attrs"]["group"] == 10
    assert nodes["bn"]["attrs"]["int8rt_activation"] == "Relu"
    # float32 within the bound of one product and one add per value
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, (3, 3, 9, 9)).astype(np.float32)
    y = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run({"x": x})["y"]
    import onnxruntime as ort
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=2e-5, atol=2e-5)


def test_dense_block_stays_int8_end_to_end() -> None:
    model, _ = _dense_block_model()
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (8, 3, 9, 9)).astype(np.float32)
    engine = _int8_engine(model, x)
    prec = {L["name"]: L["precision"] for L in engine.layers()}
    assert prec.get("bn") == "int8", prec
    # conv_c is the network output: it writes float32 from its accumulators (lower_int8_conv_head.cc),
    # then a float32 Transpose to NCHW, the only fp32 layer; no dequantize
    assert [n for n, p in prec.items() if p == "fp32"] == ["conv_c::to_nchw"], prec
    assert [L["op"] for L in engine.layers() if L["name"] == "conv_c::to_nchw"] == ["Transpose"]
    assert [n for n, p in prec.items() if p == "convert"] == ["x::quantize"], prec
    y8 = engine.create_execution_context().run({"x": x})["y"]
    y = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run({"x": x})["y"]
    a, b = (y8 - y8.mean(0)).ravel(), (y - y.mean(0)).ravel()
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.99


def test_batchnorm_with_a_producer_still_folds() -> None:
    """Conv -> BN keeps folding into the Conv (fold_batchnorm runs first)."""
    rng = np.random.default_rng(8)
    inits = {"w": rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32),
             "gamma": np.ones(4, np.float32), "beta": np.zeros(4, np.float32),
             "mean": np.zeros(4, np.float32), "var": np.ones(4, np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"], name="bn")]
    net = int8rt.onnx.import_model(_model(nodes, inits, [1, 3, 6, 6], "y", [1, 4, 4, 4], 13))
    report = _testing.run_passes(net, {})
    assert [n["op"] for n in net.nodes()] == ["Conv"]
    assert report["lines"] == ["folded BatchNormalization 'bn' into Conv 'conv'"]


def test_spatial_reduce_mean_without_keepdims_is_pool_and_flatten() -> None:
    """MNASNet's head, ``x.mean([2, 3])``: GlobalAveragePool into '<out>_pooled', then Flatten writes 'y'."""
    rng = np.random.default_rng(9)
    inits = {"w": rng.uniform(-0.5, 0.5, (6, 3, 3, 3)).astype(np.float32), "axes": np.array([-2, -1], np.int64),
             "fc": rng.uniform(-0.5, 0.5, (6, 4)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("ReduceMean", ["r", "axes"], ["m"], keepdims=0, name="mean"),
             helper.make_node("MatMul", ["m", "fc"], ["y"], name="fc")]
    model = _model(nodes, inits, ["N", 3, 7, 7], "y", ["N", 4])
    net = int8rt.onnx.import_model(model)
    report = _testing.run_passes(net, {})
    assert "ReduceMean 'mean' over the spatial axes is a GlobalAveragePool and a Flatten" in report["lines"]
    ops = {n["name"]: n["op"] for n in net.nodes()}
    assert ops["mean"] == "GlobalAveragePool" and ops["mean_flatten"] == "Flatten"
    x = rng.uniform(-1, 1, (5, 3, 7, 7)).astype(np.float32)
    y = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run({"x": x})["y"]
    import onnxruntime as ort
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    engine = _int8_engine(model, x)
    prec = {L["name"]: L["precision"] for L in engine.layers()}
    assert prec.get("mean") == "int8" and "fp32" not in prec.values(), prec
