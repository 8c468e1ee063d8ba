"""QuantizeLinear / DequantizeLinear computed at run time by the FP32 engine
(csrc/engine/ops/quantize_linear.cc): the Q/DQ nodes graph passes do not
fold (uint8 activations with a zero point, int16, 4-bit, float8, blocked
scales, scales given at run time).

Integer targets are compared with == against a NumPy implementation written
here from the ONNX spec (float32 x / scale, round half to even, + zero point,
saturate; DequantizeLinear (float32(x) - zp) * scale in float32): the
arithmetic is exactly defined. float8 / 4-bit formats are compared with ==
against ONNX's reference evaluator. A QDQ model around a Conv (as ONNX
Runtime's quantize_static writes with uint8 activations) runs in the FP32
engine and matches ONNX Runtime within 1e-5 (float32 convolution sums in
another order)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import int8rt
from _ort_oracle import qdq_session

RNG = np.random.default_rng(23)
F32 = np.float32


def _run(model: onnx.ModelProto, feeds: dict) -> list:
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    out = engine.run(feeds)
    return [out[o.name] for o in model.graph.output]


def _model(node: onnx.NodeProto, inputs: Sequence[tuple[str, int, Sequence[int]]], out_type: int,
           out_shape: Sequence[int], initializers: Sequence[onnx.TensorProto] = (), opset: int = 21) -> onnx.ModelProto:
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, t, list(s)) for n, t, s in inputs],
                              [helper.make_tensor_value_info(node.output[0], out_type, list(out_shape))],
                              list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _expand(v: np.ndarray, shape: tuple[int, ...], axis: int, block: int) -> np.ndarray:
    """scale / zero point broadcast to x's shape (per tensor, per axis, blocked)."""
    if v.size == 1:
        return v.reshape(())
    if block == 0:
        dims = [1] * len(shape)
        dims[axis] = v.size
        return v.reshape(dims)
    return np.repeat(v, block, axis=axis).take(range(shape[axis]), axis=axis)


def np_quantize(x: np.ndarray, scale: np.ndarray, zp: np.ndarray, axis: int = 1, block: int = 0) -> np.ndarray:
    q = np.rint((x / _expand(scale, x.shape, axis, block)).astype(F32)).astype(np.int64)
    info = np.iinfo(zp.dtype)
    return np.clip(q + _expand(zp, x.shape, axis, block).astype(np.int64), info.min, info.max).astype(zp.dtype)


def np_dequantize(q: np.ndarray, scale: np.ndarray, zp: np.ndarray, axis: int = 1, block: int = 0) -> np.ndarray:
    dx = q.astype(F32) - _expand(zp, q.shape, axis, block).astype(F32)
    return (dx * _expand(scale, q.shape, axis, block)).astype(F32)


CASES = [  # (x shape, scale shape, axis, block_size)
    ((2, 3, 4, 5), (), 1, 0),
    ((2, 3, 4, 5), (3,), 1, 0),
    ((2, 3, 4, 5), (5,), -1, 0),
    ((3, 7), (3, 3), 1, 3),          # blocked, 7 = 3 + 3 + 1 (a short last block)
    ((4, 6, 2), (2, 6, 2), 0, 2),
]


@pytest.mark.parametrize("shape,sshape,axis,block", CASES)
@pytest.mark.parametrize("qtype", [np.uint8, np.int8, np.int16, np.uint16])
@pytest.mark.parametrize("constant_params", [False, True])
def test_quantize_dequantize_match_spec(shape, sshape, axis, block, qtype, constant_params: bool) -> None:
    info = np.iinfo(qtype)
    x = (RNG.standard_normal(shape) * 40).astype(F32)
    x.flat[:4] = [0.5, 1.5, -2.5, 1e9]  # ties to even and saturation
    scale = RNG.uniform(0.05, 0.5, sshape).astype(F32)
    zp = RNG.integers(info.min // 2, info.max // 2 + 1, sshape).astype(qtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(qtype))
    attrs = {"axis": axis, **({"block_size": block} if block else {})}
    ins = [("x", TensorProto.FLOAT, shape)]
    inits, feeds = [], {"x": x}
    if constant_params:
        inits = [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zp, "zp")]
    else:
        ins += [("s", TensorProto.FLOAT, sshape), ("zp", elem, sshape)]
        feeds.update(s=scale, zp=zp)
    q_model = _model(helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], **attrs), ins, elem, shape, inits)
    q = _run(q_model, feeds)[0]
    want = np_quantize(x, scale, zp, axis, block)
    assert q.dtype == want.dtype
    np.testing.assert_array_equal(q, want)

    ins = [("q", elem, shape)] + ([] if constant_params else [("s", TensorProto.FLOAT, sshape), ("zp", elem, sshape)])
    dq_model = _model(helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], **attrs), ins,
                      TensorProto.FLOAT, shape, inits)
    feeds = {"q": want} if constant_params else {"q": want, "s": scale, "zp": zp}
    y = _run(dq_model, feeds)[0]
    np.testing.assert_array_equal(y, np_dequantize(want, scale, zp, axis, block))


@pytest.mark.parametrize("target", [TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2, TensorProto.INT4,
                                    TensorProto.UINT4, TensorProto.FLOAT4E2M1])
def test_narrow_formats_match_onnx_reference(target: int) -> None:
    x = (RNG.standard_normal((3, 8)) * 6).astype(F32)
    x[0, :3] = [1e6, -1e6, 0.25]
    scale = np.array([0.5, 1.0, 2.0], F32)
    zp = numpy_helper.from_array(np.zeros(3, helper.tensor_dtype_to_np_dtype(target)), "zp")
    q_model = _model(helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], axis=0),
                     [("x", TensorProto.FLOAT, (3, 8)), ("s", TensorProto.FLOAT, (3,))], target, (3, 8), [zp])
    want_q = ReferenceEvaluator(q_model).run(None, {"x": x, "s": scale})[0]
    got_q = _run(q_model, {"x": x, "s": scale})[0]
    assert got_q.dtype == want_q.dtype
    np.testing.assert_array_equal(got_q.view(np.uint8), want_q.view(np.uint8))
    dq_model = _model(helper.make_node("DequantizeLinear", ["q", "s"], ["y"], axis=0),
                      [("q", target, (3, 8)), ("s", TensorProto.FLOAT16, (3,))], TensorProto.FLOAT16, (3, 8))
    s16 = scale.astype(np.float16)
    want = ReferenceEvaluator(dq_model).run(None, {"q": want_q, "s": s16})[0]
    got = _run(dq_model, {"q": want_q, "s": s16})[0]
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want)


def test_uint8_qdq_conv_model_runs_as_onnx_runtime() -> None:
    """x -> Q(uint8, zp 128) -> DQ -> Conv(DQ'd int8 weights, per channel) -> Q -> DQ -> y: the
    activation pairs have non-zero zero points, so they stay and run at run time."""
    w = RNG.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    ws = RNG.uniform(0.001, 0.01, 4).astype(F32)
    inits = [numpy_helper.from_array(np.array(0.02, F32), "xs"), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
             numpy_helper.from_array(w, "w"), numpy_helper.from_array(ws, "ws"),
             numpy_helper.from_array(np.zeros(4, np.int8), "wz"),
             numpy_helper.from_array(np.array(0.01, F32), "ys"), numpy_helper.from_array(np.array(100, np.uint8), "yz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], axis=0),
             helper.make_node("Conv", ["xd", "wd"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "ys", "yz"], ["y"])]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = RNG.standard_normal((1, 3, 8, 8)).astype(F32)
    want = qdq_session(model.SerializeToString()).run(None, {"x": x})[0]
    got = _run(model, {"x": x})[0]
    # Both quantize the same float32 conv output; a sum in another order can move a value across a
    # rounding boundary, i.e. by one output step (0.01), rarely.
    assert np.mean(np.abs(got - want) > 1e-5) < 0.02
    np.testing.assert_allclose(got, want, atol=0.01 + 1e-6)


def test_mismatched_scale_shape_is_a_clear_error() -> None:
    m = _model(helper.make_node("QuantizeLinear", ["x", "s"], ["q"], axis=1),
               [("x", TensorProto.FLOAT, (2, 3)), ("s", TensorProto.FLOAT, (4,))], TensorProto.UINT8, (2, 3))
    with pytest.raises(Exception, match="per-axis scale must be 1-D of length 3"):
        _run(m, {"x": np.zeros((2, 3), F32), "s": np.ones(4, F32)})


def test_int4_blocked_weight_only_matmul() -> None:
    """Weight-only int4 (blocked along K, as LLM exports write it): DequantizeLinear of constant int4
    weights and zero points feeding a MatMul, against NumPy within float32 summation error."""
    import ml_dtypes
    k, n, block = 16, 6, 8
    w = RNG.integers(-8, 8, (k, n)).astype(ml_dtypes.int4)
    zp = RNG.integers(-2, 3, (k // block, n)).astype(ml_dtypes.int4)
    scale = RNG.uniform(0.01, 0.1, (k // block, n)).astype(F32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(zp, "wz"), numpy_helper.from_array(scale, "ws")]
    nodes = [helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], axis=0, block_size=block),
             helper.make_node("MatMul", ["x", "wd"], ["y"])]
    graph = helper.make_graph(nodes, "w4", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    x = RNG.standard_normal((3, k)).astype(F32)
    wd = (w.astype(F32) - np.repeat(zp.astype(F32), block, axis=0)) * np.repeat(scale, block, axis=0)
    np.testing.assert_allclose(_run(model, {"x": x})[0], x @ wd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("qtype", [np.uint8, np.int8, np.int16])
def test_quantize_specials_saturate(qtype: type) -> None:
    """Infinities saturate; NaN becomes the lowest value (the reference's int32 conversion of NaN
    then its clip); halfway quotients round to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2)."""
    info = np.iinfo(qtype)
    x = np.array([np.inf, -np.inf, np.nan, 2.5, 3.5, -2.5, 1e30, -1e30], F32)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(qtype))
    params = [numpy_helper.from_array(np.array(1.0, F32), "s"), numpy_helper.from_array(np.array(0, qtype), "zp")]
    m = _model(helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]), [("x", TensorProto.FLOAT, (8,))], elem,
               (8,), params)
    got = _run(m, {"x": x})[0]
    lo, hi = info.min, info.max
    np.testing.assert_array_equal(got, np.array([hi, lo, lo, 2, 4, max(lo, -2), hi, lo]).astype(qtype))
