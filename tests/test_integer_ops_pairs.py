"""The integer ops through the engine with weights as quantizers write them (a bell of values per
tensor or per row, few pairs (k, k + 1) over the AVX2 pair rule, x86/gemm_u8s8_pairs.h), so that on
an AVX2 CPU the pair tiles and the fused epilogue run (gemm_u8s8 form 'pairs'); on every tier ==
numpy's int64 spec, and MatMulIntegerToFloat's float32 == numpy's float32 float(C) * (a_scale *
b_scale) + bias, the one rounding order the engine uses (kernels/gemm_u8s8.h, GemmU8S8Epilogue).
Zero points 0, 255 and between, per tensor and per column / output channel; A and X holding 0 and
255; K long enough to wrap int32.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from int8rt.onnx.backend import Int8rtBackend  # noqa: E402

from test_integer_ops import _conv_ref, _model, _vi, tier  # noqa: E402,F401


def _bell(rng, shape, centre, spread: float, lo: int, hi: int, dtype) -> np.ndarray:
    return np.clip(np.rint(rng.standard_normal(shape) * spread) + centre, lo, hi).astype(dtype)


@pytest.mark.parametrize("wt", [TensorProto.INT8, TensorProto.UINT8])
def test_matmul_integer_to_float_with_pair_safe_weights(tier, wt) -> None:
    """int8 weights (zero point 0, quantize_dynamic's) and uint8 weights around 119 (zero point 119,
    per tensor, and per column from 0 to 255), a 2-D and a batched A: == numpy, the integer part
exact, the float part bit for bit."""
    rng = np.random.default_rng(31)
    for M, K, N, batch in [(1, 256, 16, 0), (7, 258, 33, 0), (32, 256, 100, 2), (5, 1024, 47, 0)]:
        if wt == TensorProto.INT8:
            b = _bell(rng, (K, N), 0, 20, -127, 127, np.int8)
            zbs = [np.array(0, np.int8)]
        else:
            b = _bell(rng, (K, N), 119, 20, 0, 255, np.uint8)
            zbs = [np.array(119, np.uint8), rng.integers(0, 256, N).astype(np.uint8)]
            zbs[1][:2] = [0, 255]
        a = rng.integers(0, 256, (batch, M, K)).astype(np.uint8) if batch else rng.integers(0, 256, (M, K)).astype(np.uint8)
        a[..., 0, :9] = 255
        a[..., -1, -9:] = 0
        a_scale = np.array(0.0173, np.float32)
        b_scale = rng.uniform(0.001, 0.01, N).astype(np.float32)
        bias = rng.normal(size=N).astype(np.float32)
        for za in (np.array(0, np.uint8), np.array(255, np.uint8), np.array(131, np.uint8)):
            for zb in zbs:
                for with_bias in (False, True):
                    c = ((a.astype(np.int64) - int(za)) @ (b.astype(np.int64) - zb.astype(np.int64)))
                    c = (c % 2 ** 32).astype(np.uint32).view(np.int32)
                    want = c.astype(np.float32) * (a_scale * b_scale)
                    if with_bias:
                        want = want + bias
                    names = ["A", "B", "a_scale", "b_scale", "a_zp", "b_zp"] + (["bias"] if with_bias else [])
                    node = helper.make_node("MatMulIntegerToFloat", names, ["Y"], domain="com.microsoft")
                    model = _model(node, [_vi("A", TensorProto.UINT8, a.shape), _vi("a_zp", TensorProto.UINT8, ())],
                                   [_vi("Y", TensorProto.FLOAT, want.shape)], ms=True)
                    model.graph.initializer.extend([onnx.numpy_helper.from_array(v, n) for v, n in [
                        (b, "B"), (a_scale, "a_scale"), (b_scale, "b_scale"), (zb, "b_zp")] + (
                        [(bias, "bias")] if with_bias else [])])
                    got = Int8rtBackend.prepare(model).run([a, za])[0]
                    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32),
                                                  err_msg=f"M={M} K={K} N={N} za={za} zb={zb.ravel()[:2]} bias={with_bias}")


def test_conv_integer_with_pair_safe_weights(tier) -> None:
    """uint8 conv weights per output channel around their own centres (ddddocr's), X spanning 0..255,
    zero points per tensor and per output channel (0 and 255 among them): == the int64 spec."""
    rng = np.random.default_rng(32)
    for N, C, H, W, M, k, pads in [(1, 24, 8, 20, 24, (3, 3), (1, 1, 1, 1)), (1, 48, 4, 10, 192, (3, 3), (1, 1, 1, 1)),
                                   (2, 9, 5, 7, 17, (1, 1), (0, 0, 0, 0)), (1, 64, 3, 5, 256, (3, 3), (1, 1, 1, 1))]:
        centre = rng.integers(100, 160, (M, 1, 1, 1))
        w = _bell(rng, (M, C) + k, centre, 14, 0, 255, np.uint8)
        x = rng.integers(0, 256, (N, C, H, W)).astype(np.uint8)
        x[0, 0, 0, :] = 255
        x[-1, -1, -1, :] = 0
        for zx, zw in [(np.array(0, np.uint8), np.array(128, np.uint8)),
                       (np.array(255, np.uint8), centre.reshape(M).astype(np.uint8)),
                       (np.array(97, np.uint8), rng.choice(np.array([0, 255], np.uint8), M))]:
            want = _conv_ref(x, w, zx.astype(np.int64), zw.astype(np.int64), (1, 1), pads, (1, 1), 1)
            node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], pads=list(pads), kernel_shape=list(k))
            model = _model(node, [_vi("x", TensorProto.UINT8, x.shape), _vi("zx", TensorProto.UINT8, ()),
                                  _vi("zw", TensorProto.UINT8, zw.shape)], [_vi("y", TensorProto.INT32, want.shape)])
            model.graph.initializer.append(onnx.numpy_helper.from_array(w, "w"))
            got = Int8rtBackend.prepare(model).run([x, zx, zw])[0]
            np.testing.assert_array_equal(got, want.astype(np.int32), err_msg=f"case {(N, C, H, W, M, k)} zx={zx}")


def test_pair_forms_are_taken_on_an_avx2_cpu() -> None:
    """The weights above take the pair tiles where the AVX2 kernel is the one chosen."""
    _t = pytest.importorskip("int8rt._testing")
    names = [n for n, _i, r in _t.kernels.gemm_u8s8_candidates(256, 100) if r == ""]
    if names[0] != "gemm_u8s8_4x16c4s_avx2":
        pytest.skip("the AVX2 gemm_u8s8 kernel is not the first choice here")
    rng = np.random.default_rng(33)
    b = _bell(rng, (256, 100), 0, 20, -127, 127, np.int8)
    assert _t.kernels.gemm_u8s8_form(b) == "pairs"
    w = _bell(rng, (24, 216), rng.integers(100, 160, (24, 1)), 14, 0, 255, np.uint8)
    assert _t.kernels.gemm_u8s8_form(w, packed_a=True) == "pairs"
