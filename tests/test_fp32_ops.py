"""Float32 engine layers against ONNX Runtime, one node at a time.

Each case builds the same one-node model twice: for int8rt through the
private hook int8rt._testing.run_single_op (the engine's Executor) and
for ONNX Runtime with onnx.helper (tests/_ort_oracle.py).

Tolerances: data-movement ops (reshape, transpose, slice, pad, concat,
nearest resize, max pooling, casts) are compared exactly. Arithmetic ops get
rtol=1e-5 and atol = 1e-5 * (the number of terms summed per output) *
max|x|*max|w| style scale, because int8rt and ONNX Runtime sum in a different
order (blocked GEMM vs MLAS) and float32 rounding differs per order.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

import int8rt
from _ort_oracle import run_ort

from int8rt._testing import run_single_op, run_single_op_batches


def compare(op: str, inputs: Sequence[np.ndarray | None], attrs: dict[str, Any], constant: Sequence[bool],
            *, num_outputs: int = 1, opset: int = 17, rtol: float = 1e-5, atol: float = 1e-5,
            exact: bool = False) -> list[np.ndarray]:
    """Runs op in int8rt and ONNX Runtime and asserts the outputs agree."""
    inputs = [None if x is None else np.asarray(x) for x in inputs]
    ours = run_single_op(op, list(inputs), attrs, list(constant), num_outputs)
    ref = run_ort(op, inputs, attrs, constant, num_outputs, opset)
    assert len(ours) == len(ref)
    for k, (a, b) in enumerate(zip(ours, ref)):
        assert a.shape == b.shape, f"{op} {attrs} output {k}: shape {a.shape} vs ORT {b.shape}"
        assert a.dtype == b.dtype, f"{op} {attrs} output {k}: dtype {a.dtype} vs ORT {b.dtype}"
        if exact:
            np.testing.assert_array_equal(a, b, err_msg=f"{op} {attrs} output {k}")
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{op} {attrs} output {k}")
    return ours


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- binary ops

@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Pow"])
@pytest.mark.parametrize("shapes", [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (3, 1, 1)), ((1, 3, 1, 5), (2, 1, 4, 1)),
                                    ((4, 5), ()), ((), (2, 3)), ((2, 1, 7), (7,)), ((3, 1), (1, 3))])
def test_binary_float(op: str, shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    rng = np.random.default_rng(1)
    a, b = rand(rng, *shapes[0]), rand(rng, *shapes[1])
    if op == "Pow":
        a = np.abs(a) + 0.1  # real results only
    if op == "Div":
        b = np.where(np.abs(b) < 0.1, np.float32(0.5), b).astype(np.float32)
    # Element-wise: one rounding per element, same formula as ORT (pow may differ by an ulp).
    compare(op, [a, b], {}, [False, True], rtol=1e-6, atol=0)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_int64(op: str) -> None:
    a = np.array([[7, -7, 12], [0, 5, -9]], dtype=np.int64)
    b = np.array([2, -3, 5], dtype=np.int64)
    compare(op, [a, b], {}, [False, True], exact=True)


def test_pow_int_exponent() -> None:
    a = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    compare("Pow", [a, np.array(3, dtype=np.int64)], {}, [False, True], rtol=1e-6, atol=0)


def test_binary_errors() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*broadcast"):
        run_single_op("Add", [np.zeros((2, 3), np.float32), np.zeros((4,), np.float32)], {}, [False, False])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*division by zero"):
        run_single_op("Div", [np.ones(3, np.int64), np.zeros(3, np.int64)], {}, [False, False])


# ---------------------------------------------------------------- Conv

CONV_CASES = [
    # (N, C, H, W, M, k, attrs)
    (1, 3, 9, 9, 4, (3, 3), {}),
    (2, 4, 8, 7, 6, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 4, 10, 10, 8, (3, 3), {"pads": [0, 1, 2, 1], "dilations": [2, 2]}),
    (1, 8, 6, 6, 8, (3, 3), {"pads": [1, 1, 1, 1], "group": 8}),                   # depthwise
    (2, 8, 7, 9, 8, (5, 5), {"auto_pad": "SAME_UPPER", "strides": [2, 2], "group": 8}),  # depthwise, stride 2
    (1, 8, 7, 7, 16, (3, 3), {"pads": [1, 1, 1, 1], "group": 8}),                  # depthwise multiplier 2
    (1, 6, 8, 8, 4, (3, 3), {"group": 2, "strides": [1, 2]}),
    (1, 5, 9, 7, 3, (2, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    (1, 5, 9, 7, 3, (2, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 1]}),
    (1, 5, 9, 7, 3, (3, 3), {"auto_pad": "VALID", "strides": [2, 2]}),
    (2, 16, 5, 5, 24, (1, 1), {}),                                                  # pointwise, no im2col
    (1, 32, 20, 20, 40, (3, 3), {"pads": [1, 1, 1, 1]}),                            # several GEMM tiles
    (1, 3, 11, 11, 5, (7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2], "kernel_shape": [7, 7]}),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d(case: tuple, with_bias: bool) -> None:
    n, c, h, w, m, k, attrs = case
    rng = np.random.default_rng(2)
    g = attrs.get("group", 1)
    x, wt = rand(rng, n, c, h, w), rand(rng, m, c // g, *k)
    inputs = [x, wt, rand(rng, m) if with_bias else None]
    terms = c // g * k[0] * k[1]
    # Sum of `terms` products of N(0,1) values; summation order differs from MLAS.
    compare("Conv", inputs, attrs, [False, True, True], atol=2e-6 * terms)


@pytest.mark.parametrize("attrs", [{}, {"pads": [2, 1], "strides": [2], "dilations": [2]}, {"auto_pad": "SAME_UPPER"}])
def test_conv1d(attrs: dict) -> None:
    rng = np.random.default_rng(3)
    x, wt, b = rand(rng, 2, 4, 17), rand(rng, 6, 4, 3), rand(rng, 6)
    compare("Conv", [x, wt, b], attrs, [False, True, True], atol=1e-4)


def test_conv_dynamic_batch() -> None:
    rng = np.random.default_rng(4)
    wt, b = rand(rng, 8, 3, 3, 3), rand(rng, 8)
    attrs = {"pads": [1, 1, 1, 1]}
    sets = [[rand(rng, bs, 3, 10, 10), wt, b] for bs in (3, 1, 5)]
    outs = run_single_op_batches("Conv", sets, attrs, [False, True, True])
    for s, (y,) in zip(sets, outs):
        ref = run_ort("Conv", s, attrs, [False, True, True])[0]
        assert y.shape == ref.shape
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-4)


def test_conv_fused_epilogue() -> None:
    """int8rt_residual / int8rt_activation (graph/passes contract) == Conv -> Add -> activation."""
    rng = np.random.default_rng(5)
    x, wt, b = rand(rng, 2, 4, 6, 6), rand(rng, 4, 4, 3, 3), rand(rng, 4)
    attrs = {"pads": [1, 1, 1, 1]}
    z = run_single_op("Conv", [x, wt, b], attrs, [False, True, True])[0]
    r = rand(rng, *z.shape)
    zr = run_single_op("Add", [z, r], {}, [False, False])[0]
    for act, extra, ref in [("Relu", {}, np.maximum(zr, 0)),
                            ("Clip", {"int8rt_clip_min": 0.0, "int8rt_clip_max": 6.0}, np.clip(zr, 0, 6)),
                            ("LeakyRelu", {"int8rt_leaky_alpha": 0.25}, np.where(zr >= 0, zr, np.float32(0.25) * zr))]:
        fused = run_single_op("Conv", [x, wt, b, r], {**attrs, "int8rt_residual": 3, "int8rt_activation": act, **extra},
                              [False, True, True, False])[0]
        np.testing.assert_array_equal(fused, ref.astype(np.float32))


def _im2col(x: np.ndarray, kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    """[C * kh * kw, oh * ow] of one image [C, H, W], rows (c, i, j), zero padding."""
    c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    cols = [xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride] for i in range(kh) for j in range(kw)]
    return np.stack(cols, axis=1).reshape(c * kh * kw, oh * ow)


# (x shape, w shape, stride, pad, path the AVX-512 build takes, same order as the im2col SGEMM)
CONV_PATHS = {
    "pointwise, B in place": ((1, 24, 10, 10), (40, 24, 1, 1), 1, 0, True),
    # The transposed product needs K times the tile columns it saves >= 10
    # (conv_f32.cc, kTransposedMinSavedSteps): 49 pixels save 23% of 64
    # columns on avx2 / avx512, 12.5% of 56 on ref, so K = 96 or 128 here.
    "pointwise, output-transposed (49 pixels)": ((2, 96, 7, 7), (64, 96, 1, 1), 1, 0, True),
    "pointwise, output-transposed in two column chunks (300 channels)": ((1, 96, 7, 7), (300, 96, 1, 1), 1, 0, True),
    # 49 pixels would end in a 1-row packed tile (12- and 6-row tiles): read in place
    # (conv_f32_transposed.h, kMinTailRows); 56 pixels (8 rows left on avx512) packed.
    "pointwise, output-transposed, 49 pixels read in place, two K slices": ((2, 300, 7, 7), (160, 300, 1, 1), 1, 0, True),
    "pointwise, output-transposed, 56 pixels packed, two K slices": ((2, 300, 7, 8), (160, 300, 1, 1), 1, 0, True),
    "pointwise, output-transposed, pixels read in place (40 channels)": ((2, 128, 7, 7), (40, 128, 1, 1), 1, 0, True),
    # On avx512 (32 columns; 196 pixels pad to 224): an image's 196 pixels in
    # one row tile of the widened blocking, packed once for both column
    # chunks (256 + 64), two K slices; 289 pixels in two row tiles.
    "pointwise, output-transposed, 196 pixels in one row tile, packed once for two chunks":
        ((2, 200, 14, 14), (320, 200, 1, 1), 1, 0, True),
    "pointwise, output-transposed, 289 pixels in two row tiles": ((1, 200, 17, 17), (320, 200, 1, 1), 1, 0, True),
    "pointwise, 49 pixels but K = 24: the SGEMM, not transposed": ((2, 24, 7, 7), (64, 24, 1, 1), 1, 0, True),
    "pointwise, 196 pixels and K = 64: the SGEMM, not transposed": ((1, 64, 14, 14), (384, 64, 1, 1), 1, 0, True),
    "1x1 stride 2, subsampled then transposed": ((2, 96, 14, 14), (64, 96, 1, 1), 2, 0, True),
    "1x1 stride 2, subsampled then in place": ((1, 16, 20, 20), (40, 16, 1, 1), 2, 0, True),
    # Image by image (each image subsampled just before its product), the
    # residual and output offsets of images 1 and 2; the next image fetched
    # while one runs (SgemmEpilogue::ahead) on the pointwise SGEMM.
    "1x1 stride 2, three images, each subsampled then in place": ((3, 16, 20, 20), (40, 16, 1, 1), 2, 0, True),
    "pointwise, B in place, three images": ((3, 24, 10, 10), (40, 24, 1, 1), 1, 0, True),
    "3x3 tap conv, two K slices": ((1, 32, 12, 12), (40, 32, 3, 3), 1, 1, False),
    "3x3 tap conv, 16 x 16 planes padded": ((1, 32, 14, 14), (40, 32, 3, 3), 1, 1, False),
    "3x3 / 2 tap conv": ((1, 32, 16, 16), (40, 32, 3, 3), 2, 1, False),
    "3x3 output-transposed im2col (49 pixels)": ((2, 32, 7, 7), (60, 32, 3, 3), 1, 1, True),
    "3x3 NHWC conv (pixels as rows, channels as columns)": ((2, 32, 9, 11), (64, 32, 3, 3), 1, 1, False),
    "3x3 / 2 NHWC conv": ((1, 32, 16, 16), (32, 32, 3, 3), 2, 1, False),
    "7x7 / 2 NHWC conv over 3 channels (a stem)": ((1, 3, 20, 20), (32, 3, 7, 7), 2, 3, False),
    "1x3 rows too narrow for the NHWC conv, output-transposed (Silero VAD)": ((1, 129, 1, 4), (128, 129, 1, 3), 1, 1,
                                                                            False),
}


@pytest.mark.parametrize("isa", ["ref", "avx2", "avx512"])
@pytest.mark.parametrize("path", list(CONV_PATHS))
def test_conv_paths_and_fused_residual(path: str, isa: str) -> None:
    """Each dense-conv path of engine/ops/conv_f32.cc (pointwise with B in
    place, the output-transposed SGEMM for pixel counts that pad badly to the
    tile, strided 1x1 subsampled first, the tap conv, the NHWC conv for
    output channels that fill the tile's columns): within the SGEMM bound
    of abi/sgemm_f32.h of the float64 product; where the path sums in the
    im2col SGEMM's order (all but the tap conv) equal bit for bit to the
    engine's SGEMM on the numpy im2col with the bias as the accumulated C;
    and with the residual and Relu / Clip / LeakyRelu fused, equal bit
    for bit to the unfused Conv, then Add, then the activation."""
    if not int8rt.kernels.isa_info()[isa]["cpu"]:
        pytest.skip(f"no {isa} on this CPU")
    from int8rt._testing import kernels as K
    xs, ws, stride, pad, same_as_sgemm = CONV_PATHS[path]
    rng = np.random.default_rng(sum(xs) + sum(ws) + stride)
    x, wt, b = rand(rng, *xs), rand(rng, *ws), rand(rng, ws[0])
    attrs = {"pads": [pad] * 4, "strides": [stride] * 2}
    int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
    try:
        z = run_single_op("Conv", [x, wt, b], attrs, [False, True, True])[0]
        w2 = wt.reshape(ws[0], -1)
        for n in range(xs[0]):
            col = _im2col(x[n], ws[2], ws[3], stride, pad)
            got = z[n].reshape(ws[0], -1)
            exact = w2.astype(np.float64) @ col + b[:, None]
            mag = np.abs(w2.astype(np.float64)) @ np.abs(col) + np.abs(b)[:, None]
            bound = 2.0 * (w2.shape[1] + 1) * 2.0 ** -24 * mag
            assert (np.abs(got - exact) <= bound).all(), f"{path} {isa}: outside the SGEMM bound"
            if same_as_sgemm:
                ref = K.sgemm(w2, np.ascontiguousarray(col), c=np.repeat(b[:, None], col.shape[1], axis=1))
                np.testing.assert_array_equal(got.view(np.uint32), ref.view(np.uint32), err_msg=f"{path} {isa}")
        r = rand(rng, *z.shape)
        zr = z + r  # float32, one rounding: the Add layer
        for act, extra, ref in [("Relu", {}, np.maximum(zr, 0)),
                                ("Clip", {"int8rt_clip_min": -0.5, "int8rt_clip_max": 1.0}, np.clip(zr, -0.5, 1.0)),
                                # not a clip: the residual add without one, then the activation's own pass
                                ("LeakyRelu", {"int8rt_leaky_alpha": 0.25}, np.where(zr >= 0, zr, np.float32(0.25) * zr))]:
            fused = run_single_op("Conv", [x, wt, b, r],
                                  {**attrs, "int8rt_residual": 3, "int8rt_activation": act, **extra},
                                  [False, True, True, False])[0]
            np.testing.assert_array_equal(fused.view(np.uint32), ref.astype(np.float32).view(np.uint32),
                                          err_msg=f"{path} {isa} residual + {act}")
        for act, extra, ref in [("Relu", {}, np.maximum(z, 0)),
                                ("Clip", {"int8rt_clip_min": -0.5, "int8rt_clip_max": 1.0}, np.clip(z, -0.5, 1.0))]:
            clipped = run_single_op("Conv", [x, wt, b], {**attrs, "int8rt_activation": act, **extra},
                                    [False, True, True])[0]
            np.testing.assert_array_equal(clipped.view(np.uint32), ref.astype(np.float32).view(np.uint32),
                                          err_msg=f"{path} {isa} {act}")
    finally:
        int8rt.set_max_isa(None)


@pytest.mark.parametrize("isa", ["ref", "avx2", "avx512"])
@pytest.mark.parametrize("kh,stride,dilation,pads", [(5, 1, 1, (2, 2)), (3, 2, 1, (1, 0)), (3, 1, 2, (0, 3))])
def test_column_conv_runs_as_its_row_twin(isa: str, kh: int, stride: int, dilation: int,
                                          pads: tuple[int, int]) -> None:
    """A kh x 1 kernel over images one pixel wide (magika's 5x1 conv over
    [N, 256, 512, 1]) runs as the 1 x kh kernel over one row (conv_f32.cc,
    is_column_conv): the same bits as the row twin (x, W and y reshaped;
    the im2col path it fell to before sums in another order and differs in
    the last bits), within the SGEMM bound of the float64 product."""
    if not int8rt.kernels.isa_info()[isa]["cpu"]:
        pytest.skip(f"no {isa} on this CPU")
    rng = np.random.default_rng(kh * 10 + stride)
    n, c, m, h = 2, 24, 64, 40
    x, wt, b = rand(rng, n, c, h, 1), rand(rng, m, c, kh, 1), rand(rng, m)
    int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
    try:
        col = run_single_op("Conv", [x, wt, b], {"pads": [pads[0], 0, pads[1], 0], "strides": [stride, 1],
                                                 "dilations": [dilation, 1]}, [False, True, True])[0]
        row = run_single_op("Conv", [x.reshape(n, c, 1, h), wt.reshape(m, c, 1, kh), b],
                            {"pads": [0, pads[0], 0, pads[1]], "strides": [1, stride], "dilations": [1, dilation]},
                            [False, True, True])[0]
    finally:
        int8rt.set_max_isa(None)
    oh = (h + pads[0] + pads[1] - dilation * (kh - 1) - 1) // stride + 1
    assert col.shape == (n, m, oh, 1)
    np.testing.assert_array_equal(col.reshape(row.shape).view(np.uint32), row.view(np.uint32), err_msg=isa)
    xp = np.pad(x[..., 0].astype(np.float64), ((0, 0), (0, 0), pads))
    taps = np.stack([xp[:, :, i * dilation:i * dilation + (oh - 1) * stride + 1:stride] for i in range(kh)], axis=2)
    exact = np.einsum("mci,ncip->nmp", wt[..., 0].astype(np.float64), taps) + b[None, :, None]
    mag = np.einsum("mci,ncip->nmp", np.abs(wt[..., 0]).astype(np.float64), np.abs(taps)) + np.abs(b)[None, :, None]
    assert (np.abs(col[..., 0] - exact) <= 2.0 * (c * kh + 1) * 2.0 ** -24 * mag).all()


@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("isa", ["ref", "avx2", "avx512"])
def test_conv_activation_in_the_gemm_epilogue(group: int, isa: str) -> None:
    """Without a residual, the dense Conv's bias and Relu / Clip run in the
    SGEMM's tile epilogue (kernels/sgemm_f32.h, SgemmEpilogue; in registers
    for the AVX-512 microkernel, after the tile for the others): bit for bit
    the unfused Conv followed by the activation, with K = 40 * 9 = 360 over
    two K slices (the bias joins after the first) and M, N off the tile edges."""
    if not int8rt.kernels.isa_info()[isa]["cpu"]:
        pytest.skip(f"no {isa} on this CPU")
    int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
    try:
        _conv_activation_in_the_gemm_epilogue(group)
    finally:
        int8rt.set_max_isa(None)


def _conv_activation_in_the_gemm_epilogue(group: int) -> None:
    rng = np.random.default_rng(55)
    x, wt, b = rand(rng, 2, 40 * group, 9, 11), rand(rng, 13 * group, 40, 3, 3), rand(rng, 13 * group)
    attrs = {"pads": [1, 1, 1, 1], "group": group}
    z = run_single_op("Conv", [x, wt, b], attrs, [False, True, True])[0]
    for act, extra, ref in [("Relu", {}, np.maximum(z, 0)),
                            ("Clip", {"int8rt_clip_min": -0.5, "int8rt_clip_max": 2.0}, np.clip(z, -0.5, 2.0))]:
        fused = run_single_op("Conv", [x, wt, b], {**attrs, "int8rt_activation": act, **extra}, [False, True, True])[0]
        np.testing.assert_array_equal(fused, ref.astype(np.float32))


def test_conv_errors() -> None:
    rng = np.random.default_rng(6)
    x, wt = rand(rng, 1, 3, 8, 8), rand(rng, 4, 3, 3, 3)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*Conv.*auto_pad"):
        run_single_op("Conv", [x, wt], {"auto_pad": "BOGUS"}, [False, True])
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*Conv.*4-D"):
        run_single_op("Conv", [rand(rng, 1, 3, 2, 2, 2, 2), rand(rng, 2, 3, 1, 1, 1, 1)], {}, [False, True])
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*int8rt_activation"):
        run_single_op("Conv", [x, wt], {"int8rt_activation": "Mish"}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*channels"):
        run_single_op("Conv", [rand(rng, 1, 5, 8, 8), wt], {}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*smaller than the window"):
        run_single_op("Conv", [rand(rng, 1, 3, 2, 2), wt], {}, [False, True])


# ---------------------------------------------------------------- Gemm / MatMul

GEMM_CASES = [
    ({}, (5, 7), (7, 3), (3,)),
    ({"transA": 1}, (7, 5), (7, 3), (5, 3)),
    ({"transB": 1}, (5, 7), (3, 7), (1, 3)),
    ({"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, (9, 4), (6, 9), (4, 1)),
    ({"alpha": 1.5}, (33, 70), (70, 130), ()),
    ({"beta": 0.0}, (4, 8), (8, 2), (2,)),
    ({}, (1, 300), (300, 17), None),
]


@pytest.mark.parametrize("case", GEMM_CASES, ids=[str(i) for i in range(len(GEMM_CASES))])
def test_gemm(case: tuple) -> None:
    attrs, sa, sb, sc = case
    rng = np.random.default_rng(7)
    inputs = [rand(rng, *sa), rand(rng, *sb), None if sc is None else rand(rng, *sc)]
    k = sa[0] if attrs.get("transA") else sa[1]
    compare("Gemm", inputs, attrs, [False, True, True], atol=4e-6 * k)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                   ((2, 1, 3, 4), (5, 4, 6)), ((4,), (4, 5)), ((2, 3, 4), (4,)), ((4,), (4,)),
                                   ((6, 16, 64), (6, 64, 16)), ((1, 130, 70), (70, 90))])
def test_matmul(sa: tuple, sb: tuple) -> None:
    rng = np.random.default_rng(8)
    compare("MatMul", [rand(rng, *sa), rand(rng, *sb)], {}, [False, False], atol=4e-6 * sa[-1])


def test_gemm_matmul_dynamic_batch_and_errors() -> None:
    rng = np.random.default_rng(9)
    w, b = rand(rng, 10, 6), rand(rng, 10)
    sets = [[rand(rng, bs, 6), w, b] for bs in (4, 1)]
    for s, (y,) in zip(sets, run_single_op_batches("Gemm", sets, {"transB": 1}, [False, True, True])):
        np.testing.assert_allclose(y, s[0] @ s[1].T + s[2], rtol=1e-5, atol=1e-5)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*inner dimensions"):
        run_single_op("Gemm", [rand(rng, 3, 5), w], {}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*inner dimensions"):
        run_single_op("MatMul", [rand(rng, 3, 5), rand(rng, 4, 2)], {}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*broadcast"):
        run_single_op("MatMul", [rand(rng, 2, 3, 5), rand(rng, 3, 5, 2)], {}, [False, True])


# ---------------------------------------------------------------- pooling

POOL_CASES = [
    {"kernel_shape": [2, 2], "strides": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3, 2], "strides": [2, 3], "pads": [1, 0, 0, 1], "ceil_mode": 1},
    {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
    {"kernel_shape": [2, 3], "auto_pad": "SAME_LOWER", "strides": [2, 2]},
    {"kernel_shape": [3, 3], "auto_pad": "VALID", "strides": [1, 2]},
    {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2]},
]


@pytest.mark.parametrize("attrs", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
def test_maxpool(attrs: dict) -> None:
    rng = np.random.default_rng(10)
    compare("MaxPool", [rand(rng, 2, 3, 11, 10)], attrs, [False], exact=True)


def test_maxpool_dilations_and_1d() -> None:
    rng = np.random.default_rng(11)
    compare("MaxPool", [rand(rng, 1, 2, 12, 11)], {"kernel_shape": [3, 2], "dilations": [2, 3], "pads": [2, 1, 2, 1]},
            [False], exact=True)
    compare("MaxPool", [rand(rng, 2, 3, 15)], {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}, [False], exact=True)


@pytest.mark.parametrize("attrs", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
@pytest.mark.parametrize("include_pad", [0, 1])
def test_averagepool(attrs: dict, include_pad: int) -> None:
    rng = np.random.default_rng(12)
    # At most 25 terms summed and one division: a few ulps.
    compare("AveragePool", [rand(rng, 2, 3, 11, 10)], {**attrs, "count_include_pad": include_pad}, [False],
            rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 4, 1, 1), (2, 5, 13)])
def test_global_pool(op: str, shape: tuple) -> None:
    rng = np.random.default_rng(13)
    compare(op, [rand(rng, *shape)], {}, [False], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("size", [1, 7, 16, 17, 49, 3136, 12544])
def test_global_average_pool_within_its_summation_bound(size: int) -> None:
    """GlobalAveragePool sums each plane in 16 interleaved partial sums
    combined pairwise (engine/ops/pool_f32.cc, plane_sum), then divides:
    with m = ceil(n / 16) terms per partial and u = 2^-24, |mean - exact| <=
    ((m - 1) + 4) u sum|x| / n + u |mean|, against the float64 mean. The data
    sit on an offset of 100, so the sum grows large and a single running sum
    (error up to (n - 1) u sum|x|) would use the bound's slack."""
    rng = np.random.default_rng(size)
    x = (100 + rng.standard_normal((2, 3, 1, size))).astype(np.float32)
    got = run_single_op("GlobalAveragePool", [x], {}, [False])[0].astype(np.float64)
    x64 = x.astype(np.float64)
    exact = x64.mean(axis=(2, 3), keepdims=True)
    m = -(-size // 16)
    u = 2.0**-24
    bound = (m - 1 + 4) * u * np.abs(x64).sum(axis=(2, 3), keepdims=True) / size + u * np.abs(exact)
    assert (np.abs(got - exact) <= bound * 1.0001).all(), (size, np.abs(got - exact).max(), bound.min())


def test_pool_errors_and_dynamic_batch() -> None:
    rng = np.random.default_rng(14)
    x = rand(rng, 1, 2, 6, 6)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*MaxPool.*storage_order"):
        run_single_op("MaxPool", [rand(rng, 1, 2, 6)], {"kernel_shape": [2], "storage_order": 1}, [False])
    for order in (0, 1):  # the Indices output, row- and column-major
        attrs = {"kernel_shape": [2, 2], "storage_order": order}
        ours, ref = run_single_op("MaxPool", [x], attrs, [False], 2), run_ort("MaxPool", [x], attrs, [False], 2)
        for got, want in zip(ours, ref):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*must be 4-D"):
        run_single_op("AveragePool", [rand(rng, 2, 6, 6)], {"kernel_shape": [2, 2]}, [False])
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    sets = [[rand(rng, bs, 2, 9, 9)] for bs in (2, 5)]
    for s, (y,) in zip(sets, run_single_op_batches("MaxPool", sets, attrs, [False])):
        np.testing.assert_array_equal(y, run_ort("MaxPool", s, attrs, [False])[0])


# ---------------------------------------------------------------- normalisation, softmax, PRelu, reductions

@pytest.mark.parametrize("shape", [(2, 3), (2, 5, 4, 3), (1, 7, 9)])
def test_batchnorm(shape: tuple) -> None:
    rng = np.random.default_rng(15)
    c = shape[1]
    inputs = [rand(rng, *shape), rand(rng, c), rand(rng, c), rand(rng, c),
              (np.abs(rand(rng, c)) + 0.5).astype(np.float32)]
    # y = x*a + b vs ORT's (x-mean)*inv*scale+B: a few roundings apart.
    compare("BatchNormalization", inputs, {"epsilon": 1e-3}, [False, True, True, True, True], rtol=1e-5, atol=1e-5)


def test_batchnorm_errors() -> None:
    rng = np.random.default_rng(16)
    p = [rand(rng, 3) for _ in range(4)]
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*training_mode"):
        run_single_op("BatchNormalization", [rand(rng, 1, 3, 2, 2), *p], {"training_mode": 1}, [False] + [True] * 4)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*scale must have shape"):
        run_single_op("BatchNormalization", [rand(rng, 1, 4, 2, 2), *p], {}, [False] + [True] * 4)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape,axis", [((3, 10), -1), ((2, 3, 4, 5), 1), ((2, 3, 4, 5), -2), ((4, 1000), 1),
                                        ((2, 3, 4), 0)])
def test_softmax(op: str, shape: tuple, axis: int) -> None:
    rng = np.random.default_rng(17)
    # exp/log and a sum of up to 1000 terms: relative error of a few ulps per term.
    compare(op, [rand(rng, *shape) * 4], {"axis": axis}, [False], opset=13, rtol=1e-5, atol=1e-6)


def test_exp_based_ops_against_float64() -> None:
    """Softmax (the 8-lane last-axis path, a row length that is not a multiple
    of 8) and Sigmoid use exp_f32 (csrc/kernels/ref/math_f32.h): within a few
    float32 ulps of the float64 result over the whole range, 0 / 1 / NaN at
    the extremes."""
    x = np.concatenate([np.linspace(-120, 120, 6623, dtype=np.float32),
                        np.array([-np.inf, np.inf, 88.7, -87.4], np.float32)])
    (sig,) = run_single_op("Sigmoid", [x], {}, [False])
    want = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(sig, want, rtol=4e-7, atol=1e-38)
    (nan,) = run_single_op("Sigmoid", [np.array([np.nan], np.float32)], {}, [False])
    assert np.isnan(nan[0])
    logits = (np.random.default_rng(30).standard_normal((3, 6627)) * 8).astype(np.float32)
    (sm,) = run_single_op("Softmax", [logits], {"axis": -1}, [False])
    e = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(sm, e / e.sum(axis=1, keepdims=True), rtol=2e-6, atol=1e-12)


def test_layernorm_kernels_agree_bit_for_bit_on_every_tier() -> None:
    """The layernorm family (kernels/layernorm_f32.h) compiles the loop of
    kernels/ref/layernorm_f32.h per ISA: the reference, AVX2 and AVX-512
    builds give the same bits (y, Mean and InvStdDev), on rows of 1, 3, 4,
    13 and 768 values, with and without B, and a row holding inf and NaN."""
    rng = np.random.default_rng(32)
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    cases = []
    for n in (1, 3, 4, 13, 768):
        x = (rng.standard_normal((6, n)) * 5 + 3).astype(np.float32)
        if n == 13:
            x[1, 4], x[2, 7] = np.inf, np.nan
        scale, bias = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
        cases += [([x, scale, bias], [False, True, True]), ([x, scale], [False, True])]
    results: dict = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            results[isa] = [run_single_op("LayerNormalization", ins, {"axis": -1, "epsilon": 1e-5}, const, 3)
                            for ins, const in cases]
        finally:
            int8rt.set_max_isa(None)
    for isa in tiers[1:]:
        for k, (got, want) in enumerate(zip(results[isa], results["ref"])):
            for o, (a, b) in enumerate(zip(got, want)):
                assert a.tobytes() == b.tobytes(), (isa, k, o)


def _moments_rule(x: np.ndarray, eps: float) -> tuple[np.float32, np.float32]:
    """kernels/ref/layernorm_f32.h's moments, spelled out: 16 double lanes
    (lane l sums the values i = l mod 16 in order), added as the tree lane l +
    lane l + 8, + 4, + 2, + 1; two passes; one rounding to float each."""
    def tree(lanes: list[float]) -> float:
        v = list(lanes)
        for half in (8, 4, 2, 1):
            v = [v[l] + v[l + half] for l in range(half)]
        return v[0]
    xs = [float(v) for v in x]
    s = [0.0] * 16
    for i, v in enumerate(xs):
        s[i % 16] += v
    mean = tree(s) / len(xs)
    q = [0.0] * 16
    for i, v in enumerate(xs):
        q[i % 16] += (v - mean) * (v - mean)
    return np.float32(mean), np.float32(1.0 / np.sqrt(tree(q) / len(xs) + eps))


def test_layernorm_follows_the_stated_moments_rule() -> None:
    """LayerNormalization's Mean, InvStdDev and y are exactly the rule of
    kernels/ref/layernorm_f32.h (16 double lanes, a fixed tree, then
    (x - mean) * inv_std * scale + bias in float), on every tier, for rows
    shorter than the lanes, with a tail, and whole multiples of 16."""
    rng = np.random.default_rng(33)
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    for n in (1, 5, 16, 29, 64, 200):
        x = (rng.standard_normal((3, n)) * 4 + 7).astype(np.float32)
        scale, bias = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
        rule = [_moments_rule(row, 1e-5) for row in x]
        mean = np.array([[m] for m, _ in rule], np.float32)
        inv = np.array([[f] for _, f in rule], np.float32)
        y = (x - mean) * inv * scale + bias
        for isa in tiers:
            int8rt.set_max_isa(isa)
            try:
                got = run_single_op("LayerNormalization", [x, scale, bias], {"axis": -1, "epsilon": 1e-5},
                                    [False, True, True], 3)
            finally:
                int8rt.set_max_isa(None)
            assert got[1].reshape(3, 1).tobytes() == mean.tobytes(), (isa, n)
            assert got[2].reshape(3, 1).tobytes() == inv.tobytes(), (isa, n)
            assert got[0].tobytes() == y.tobytes(), (isa, n)


def test_softmax_exp_agrees_bit_for_bit_on_every_tier_over_its_range() -> None:
    """The AVX-512 tier writes the softmax rule's exp (exp_fma_f32) in
    intrinsics with vscalefps for 2^n; it must give the reference's bits for
    every exponent: rows [0, t1 .. t15] (so each t is exp's argument) sweep
    t over [-110, 1] densely, the floats next to exp's range limit -87.3365
    and the denormal results just above it."""
    lo = np.float32(-87.3365479)
    near = [lo]
    for _ in range(40):
        near.append(np.nextafter(near[-1], np.float32(0)))
    t = np.concatenate([np.linspace(-110, 1, 45000, dtype=np.float32), np.array(near, np.float32),
                        np.linspace(-87.34, -86.0, 3000, dtype=np.float32)])
    t = np.concatenate([t, np.zeros((-len(t)) % 15, np.float32)]).reshape(-1, 15)
    x = np.concatenate([np.zeros((len(t), 1), np.float32), t], axis=1)
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    results = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)
        try:
            results[isa] = run_single_op("Softmax", [x], {"axis": -1}, [False], 1)[0]
        finally:
            int8rt.set_max_isa(None)
    for isa in tiers[1:]:
        differ = np.flatnonzero(results[isa].view(np.uint32) != results["ref"].view(np.uint32))
        assert differ.size == 0, (isa, x.ravel()[differ[:5]])
    # and the values are exp's: softmax of [0, t] is e^t / (1 + sum e^t)
    want = np.exp(x.astype(np.float64))
    want /= want.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(results["ref"], want, rtol=3e-6, atol=1e-37)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_kernels_agree_bit_for_bit_on_every_tier(op: str) -> None:
    """The softmax family (kernels/softmax_f32.h) compiles the loops of
    kernels/ref/softmax_f32.h per ISA: the reference (baseline flags), AVX2
    and AVX-512 builds give the same bits, on rows shorter than the 8 lanes,
    rows with a tail, long rows, and rows holding inf, -inf and NaN. The
    AVX-512 softmax row (SoftmaxRow16) takes 16 and 32 values per step and
    masks the last group: lengths around those (16, 17, 25, 32, 33, ViT's
    197), a NaN first value, and zero maxima of either sign."""
    rng = np.random.default_rng(31)
    rows = {n: (rng.standard_normal((5, n)) * 9).astype(np.float32)
            for n in (1, 3, 8, 13, 16, 17, 25, 32, 33, 128, 197, 1001)}
    special = rows[13].copy()
    special[0, 2], special[1, 5], special[2, :], special[3, 0] = np.inf, np.nan, -np.inf, np.nan
    special[4, :] = -np.abs(special[4, :])
    special[4, 3], special[4, 11] = -0.0, 0.0  # the maximum is a zero of either sign
    rows["special"] = special
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    results: dict = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            results[isa] = {n: run_single_op(op, [x], {"axis": -1}, [False])[0] for n, x in rows.items()}
        finally:
            int8rt.set_max_isa(None)
    assert len(tiers) >= 2 or int8rt.kernels.isa_info()["avx2"]["cpu"] is False
    for isa in tiers[1:]:
        for n in rows:
            assert results[isa][n].tobytes() == results["ref"][n].tobytes(), (op, isa, n)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_row_maximum_in_the_tail_does_not_overflow(op: str) -> None:
    """The row maximum covers the values after the last full group of 8
    lanes: a row of zeros whose largest value (1000, 100) sits in that tail
    is shifted by it, so exp never overflows (it did: the tail was left out of
    the maximum and the row became NaN). Every tier, rows of 3 (all tail),
    13 and ViT's 197."""
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    for n in (3, 13, 197):
        x = np.zeros((2, n), np.float32)
        x[0, -1], x[1, -2] = 1000.0, 100.0
        want = x.astype(np.float64) - x.max(axis=1, keepdims=True)
        want = want - np.log(np.exp(want).sum(axis=1, keepdims=True))
        want = want if op == "LogSoftmax" else np.exp(want)
        for isa in tiers:
            int8rt.set_max_isa(isa)
            try:
                got = run_single_op(op, [x], {"axis": -1}, [False])[0]
            finally:
                int8rt.set_max_isa(None)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-30, err_msg=f"{op} {isa} n={n}")


@pytest.mark.parametrize("shape,axis,bshape", [((2, 5, 8), -1, (8,)), ((2, 3, 4, 5), 2, (4, 5)), ((3, 6), 0, (3, 6)),
                                               ((2, 4, 6), -1, None), ((2, 4, 6), -2, (1, 6))])
def test_layernorm(shape: tuple, axis: int, bshape: tuple | None) -> None:
    rng = np.random.default_rng(18)
    sshape = bshape if bshape is not None else shape[axis:]
    inputs = [rand(rng, *shape) * 3 + 1, rand(rng, *sshape), None if bshape is None else rand(rng, *bshape)]
    compare("LayerNormalization", inputs, {"axis": axis, "epsilon": 1e-4}, [False, True, True], opset=17,
            rtol=1e-5, atol=1e-5)


def test_layernorm_stat_outputs() -> None:
    rng = np.random.default_rng(19)
    x, s, b = rand(rng, 2, 3, 8), rand(rng, 8), rand(rng, 8)
    compare("LayerNormalization", [x, s, b], {"axis": -1}, [False, True, True], num_outputs=3, opset=17,
            rtol=1e-5, atol=1e-5)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*stash_type"):
        run_single_op("LayerNormalization", [x, s, b], {"stash_type": 0}, [False, True, True])


@pytest.mark.parametrize("sshape", [(3, 1, 1), (1,), (3, 4, 5), (5,)])
def test_prelu(sshape: tuple) -> None:
    rng = np.random.default_rng(20)
    compare("PRelu", [rand(rng, 2, 3, 4, 5), rand(rng, *sshape)], {}, [False, True], exact=True)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*slope"):
        run_single_op("PRelu", [rand(rng, 2, 3), rand(rng, 4, 1, 3)], {}, [False, True])


REDUCE_AXES = [[2, 3], [-1], [1], [0, 2], [1, 3], [], [0, 1, 2, 3]]


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"])
@pytest.mark.parametrize("axes", REDUCE_AXES, ids=[str(a) for a in REDUCE_AXES])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_axes_input(op: str, axes: list, keepdims: int) -> None:
    rng = np.random.default_rng(21)
    x = rand(rng, 2, 3, 4, 5)
    inputs = [x, np.array(axes, dtype=np.int64)] if axes else [x]
    # Up to 120 terms summed in a different order than ORT.
    compare(op, inputs, {"keepdims": keepdims}, [False, True], opset=18, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axes", [[2, 3], [1], [-3, -1]])
def test_reduce_mean_axes_attribute(axes: list) -> None:
    rng = np.random.default_rng(22)
    compare("ReduceMean", [rand(rng, 2, 3, 4, 5)], {"axes": axes, "keepdims": 0}, [False], opset=13,
            rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2"])
@pytest.mark.parametrize("axes", [[1], [2], [0, 2], [1, 2]], ids=["middle", "last", "strided", "trailing"])
def test_reduce_float_sums_rounded_once(op: str, axes: list) -> None:
    """Float sums are accumulated in double and rounded once: over 4096 positive terms
    (where a float32 running sum drifts by ~1e-5 relative) the result is the float64
    reference rounded to float32, within one ulp. "last" and "trailing" reduce
    contiguous runs (5 and 20480 terms: reduce_f32.cc row_sums, rows eight at a
    time, with and without whole groups of 8)."""
    rng = np.random.default_rng(24)
    x = (rng.random((3, 4096, 5)) + 0.5).astype(np.float32)
    y = run_single_op(op, [x, np.array(axes, np.int64)], {"keepdims": 0}, [False, True])[0]
    x64 = x.astype(np.float64)
    terms = {"ReduceSumSquare": x64 * x64, "ReduceL2": x64 * x64}.get(op, np.abs(x64))
    ref = terms.sum(axis=tuple(axes))
    ref = {"ReduceMean": ref / np.prod([x.shape[a] for a in axes]), "ReduceL2": np.sqrt(ref)}.get(op, ref)
    np.testing.assert_array_max_ulp(y, ref.astype(np.float32), maxulp=1)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2"])
@pytest.mark.parametrize("rows", [1, 7, 8, 9, 37])
def test_reduce_last_axis_sums_in_index_order(op: str, rows: int) -> None:
    """The last axis reduced (rows reduced 8 at a time in registers): each
    result is its row's terms added in index order in float64 (np.cumsum is
    sequential) and rounded once, exactly. In every other row +2^60 at index 0
    and -2^60 at index 150 absorb the terms between them, so for the sums
    the order is visible (NumPy's pairwise float64 sum differs there)."""
    rng = np.random.default_rng(25)
    x = (rng.standard_normal((rows, 3, 301)) * np.exp(rng.uniform(-12, 12, (rows, 3, 301)))).astype(np.float32)
    x[::2, :, 0], x[::2, :, 150] = 2.0 ** 60, -(2.0 ** 60)
    y = run_single_op(op, [x, np.array([-1], np.int64)], {"keepdims": 0}, [False, True])[0]
    x64 = x.astype(np.float64)
    terms = {"ReduceSumSquare": x64 * x64, "ReduceL2": x64 * x64, "ReduceL1": np.abs(x64)}.get(op, x64)
    acc = np.cumsum(terms, axis=-1)[..., -1]
    ref = {"ReduceMean": acc / 301, "ReduceL2": np.sqrt(acc)}.get(op, acc).astype(np.float32)
    np.testing.assert_array_equal(y, ref)


def test_reduce_noop_and_runtime_axes() -> None:
    rng = np.random.default_rng(23)
    x = rand(rng, 2, 3, 4)
    np.testing.assert_array_equal(run_single_op("ReduceMean", [x], {"noop_with_empty_axes": 1}, [False])[0], x)
    # axes as a run-time input (read when the shapes are inferred).
    y = run_single_op("ReduceSum", [x, np.array([1], np.int64)], {"keepdims": 0}, [False, False])[0]
    np.testing.assert_allclose(y, x.sum(axis=1), rtol=1e-6, atol=1e-6)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*out of range"):
        run_single_op("ReduceMean", [x, np.array([3], np.int64)], {}, [False, True])


# ---------------------------------------------------------------- shape / data movement (exact)

@pytest.mark.parametrize("shape,target,allowzero", [((2, 3, 4), [6, -1], 0), ((2, 3, 4), [0, -1], 0),
                                                    ((2, 3, 4), [0, 0, 2, 2], 0), ((2, 3, 4), [-1], 0),
                                                    ((2, 3, 4), [4, 3, 2], 1), ((2, 3, 4), [1, -1, 4], 1)])
def test_reshape(shape: tuple, target: list, allowzero: int) -> None:
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    compare("Reshape", [x, np.array(target, np.int64)], {"allowzero": allowzero}, [False, True], opset=14,
            exact=True)


def test_reshape_dynamic_batch_and_errors() -> None:
    rng = np.random.default_rng(24)
    sets = [[rand(rng, bs, 4, 3), np.array([-1, 12], np.int64)] for bs in (2, 7)]
    for s, (y,) in zip(sets, run_single_op_batches("Reshape", sets, {}, [False, True])):
        np.testing.assert_array_equal(y, s[0].reshape(-1, 12))
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*cannot reshape"):
        run_single_op("Reshape", [rand(rng, 2, 3), np.array([4, -1], np.int64)], {}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*more than one -1"):
        run_single_op("Reshape", [rand(rng, 2, 3), np.array([-1, -1], np.int64)], {}, [False, True])
    # Run-time shape input (int64 computed in the graph) and int64 data.
    y = run_single_op("Reshape", [np.arange(6, dtype=np.int64), np.array([3, 2], np.int64)], {}, [False, False])[0]
    np.testing.assert_array_equal(y, np.arange(6).reshape(3, 2))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, 3])
def test_flatten(axis: int) -> None:
    rng = np.random.default_rng(25)
    compare("Flatten", [rand(rng, 2, 3, 4)], {"axis": axis}, [False], exact=True)


@pytest.mark.parametrize("axes", [None, [1], [-1, 1]])
def test_squeeze(axes: list | None) -> None:
    rng = np.random.default_rng(26)
    x = rand(rng, 2, 1, 3, 1)
    inputs = [x] if axes is None else [x, np.array(axes, np.int64)]
    compare("Squeeze", inputs, {}, [False, True], opset=13, exact=True)
    if axes is not None:
        compare("Squeeze", [x], {"axes": axes}, [False], opset=11, exact=True)


@pytest.mark.parametrize("axes", [[0], [1, -1], [0, 3], [-2]])
def test_unsqueeze(axes: list) -> None:
    rng = np.random.default_rng(27)
    x = rand(rng, 2, 3)
    compare("Unsqueeze", [x, np.array(axes, np.int64)], {}, [False, True], opset=13, exact=True)
    compare("Unsqueeze", [x], {"axes": axes}, [False], opset=11, exact=True)


def test_squeeze_error() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*cannot squeeze"):
        run_single_op("Squeeze", [np.zeros((2, 3), np.float32), np.array([1], np.int64)], {}, [False, True])


@pytest.mark.parametrize("shape,perm", [((2, 3, 4, 5), [0, 2, 3, 1]), ((2, 3, 4, 5), [0, 3, 1, 2]), ((3, 4), None),
                                        ((2, 3, 4), [2, 0, 1]), ((1, 3, 1, 5), [3, 2, 1, 0]), ((2, 3, 4, 5), [0, 1, 2, 3])])
def test_transpose(shape: tuple, perm: list | None) -> None:
    rng = np.random.default_rng(28)
    attrs = {} if perm is None else {"perm": perm}
    compare("Transpose", [rand(rng, *shape)], attrs, [False], exact=True)
    compare("Transpose", [rng.integers(-9, 9, shape).astype(np.int64)], attrs, [False], exact=True)


def test_transpose_error() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*not a permutation"):
        run_single_op("Transpose", [np.zeros((2, 3), np.float32)], {"perm": [0, 0]}, [False])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis: int) -> None:
    rng = np.random.default_rng(29)
    shapes = [[2, 3, 4]] * 3
    for i, s in enumerate(shapes):
        shapes[i] = list(s)
        shapes[i][axis] += i
    xs = [rand(rng, *s) for s in shapes]
    compare("Concat", xs, {"axis": axis}, [False, True, False], exact=True)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*does not match"):
        run_single_op("Concat", [xs[0], rand(rng, 9, 9, 9)], {"axis": axis}, [False, False])


def test_concat_int64() -> None:
    compare("Concat", [np.array([1, 2], np.int64), np.array([-1], np.int64)], {"axis": 0}, [False, True], exact=True)


@pytest.mark.parametrize("axis,split,n", [(1, [2, 4], 2), (0, None, 2), (-1, [1, 1, 3], 3), (2, None, 5)])
def test_split(axis: int, split: list | None, n: int) -> None:
    rng = np.random.default_rng(30)
    x = rand(rng, 4, 6, 5)
    inputs = [x] if split is None else [x, np.array(split, np.int64)]
    compare("Split", inputs, {"axis": axis}, [False, True], num_outputs=n, opset=13, exact=True)
    if split is not None:
        compare("Split", [x], {"axis": axis, "split": split}, [False], num_outputs=n, opset=11, exact=True)


def test_split_num_outputs_uneven() -> None:
    rng = np.random.default_rng(31)
    compare("Split", [rand(rng, 2, 7)], {"axis": 1, "num_outputs": 3}, [False], num_outputs=3, opset=18, exact=True)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*does not cut"):
        run_single_op("Split", [rand(rng, 2, 7), np.array([3, 3], np.int64)], {"axis": 1}, [False, True], 2)


SLICE_CASES = [
    ([1], [3], None, None), ([0, 1], [2, -1], [0, 2], None), ([-1], [-100], [1], [-1]), ([10], [-10], [2], [-2]),
    ([0, 0], [9223372036854775807, 9223372036854775807], [1, 2], [2, 3]), ([2], [2], [0], None),
    ([-3], [9223372036854775807], [-1], [1]), ([5], [0], [1], [-2]),
]


@pytest.mark.parametrize("case", SLICE_CASES, ids=[str(i) for i in range(len(SLICE_CASES))])
def test_slice(case: tuple) -> None:
    rng = np.random.default_rng(32)
    x = rand(rng, 4, 6, 7)
    starts, ends, axes, steps = case
    inputs = [x, np.array(starts, np.int64), np.array(ends, np.int64),
              None if axes is None else np.array(axes, np.int64),
              None if steps is None else np.array(steps, np.int64)]
    while inputs[-1] is None:
        inputs.pop()
    compare("Slice", inputs, {}, [False, True, True, True, True], opset=13, exact=True)


# Dims of size 1 and dims a slice keeps whole (the copy merges them into long rows): magika's
# identity Slice of [N, 512, 256, 1] with permuted axes, and cuts next to kept or unit dims.
UNIT_DIM_SLICE_CASES = [
    ((2, 5, 7, 1), [0, 0, 0, 0], [9, 9, 9, 9], [0, 2, 1, 3], [1, 1, 1, 1]),
    ((2, 5, 7, 1), [1], [4], [1], [1]), ((2, 5, 1, 7), [0, 2], [1, 6], [2, 3], [1, 2]),
    ((1, 3, 1, 4, 1), [2], [-1], [3], [1]), ((3, 1, 4, 1), [-1], [-9], [0], [-1]),
]


@pytest.mark.parametrize("case", UNIT_DIM_SLICE_CASES, ids=[str(i) for i in range(len(UNIT_DIM_SLICE_CASES))])
def test_slice_with_unit_and_whole_dims(case: tuple) -> None:
    shape, starts, ends, axes, steps = case
    x = rand(np.random.default_rng(33), *shape)
    inputs = [x] + [np.array(v, np.int64) for v in (starts, ends, axes, steps)]
    compare("Slice", inputs, {}, [False, True, True, True, True], opset=13, exact=True)


def test_slice_runtime_inputs_and_errors() -> None:
    x = np.arange(24, dtype=np.int64).reshape(4, 6)
    y = run_single_op("Slice", [x, np.array([1], np.int64), np.array([5], np.int64), np.array([1], np.int64),
                                np.array([2], np.int64)], {}, [False, False, False, False, False])[0]
    np.testing.assert_array_equal(y, x[:, 1:5:2])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*step 0"):
        run_single_op("Slice", [x, np.array([0], np.int64), np.array([1], np.int64), np.array([0], np.int64),
                                np.array([0], np.int64)], {}, [False, True, True, True, True])


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads", [[0, 1, 2, 0, 2, 1], [1, 0, 0, 1, 0, 3], [0, 0, 4, 0, 0, 4], [0, -1, 1, 0, 1, -2]])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_pad(mode: str, pads: list, dtype: type) -> None:
    rng = np.random.default_rng(33)
    x = (rand(rng, 2, 4, 5) * 100).astype(dtype)
    value = np.array(1.5 if dtype is np.float32 else -7, dtype)
    # (an integer constant_value as a graph input: the IR's integer constants are int64)
    compare("Pad", [x, np.array(pads, np.int64), value], {"mode": mode}, [False, True, dtype is np.float32],
            opset=19, exact=True)


def test_pad_axes_attr_and_errors() -> None:
    rng = np.random.default_rng(34)
    x = rand(rng, 2, 3, 4)
    compare("Pad", [x, np.array([1, 2], np.int64), None, np.array([-1], np.int64)], {"mode": "edge"},
            [False, True, True, True], opset=18, exact=True)
    compare("Pad", [x], {"pads": [0, 1, 1, 0, 0, 2], "value": -2.0}, [False], opset=10, exact=True)
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*Pad.*mode.*mirror"):
        run_single_op("Pad", [x, np.array([0] * 6, np.int64)], {"mode": "mirror"}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*pads"):
        run_single_op("Pad", [x, np.array([0] * 4, np.int64)], {}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*crop all of dim 2.*nothing to wrap"):
        run_single_op("Pad", [x, np.array([0, 0, -4, 0, 0, 3], np.int64)], {"mode": "wrap"}, [False, False])


def test_cast_and_shape() -> None:
    x = np.array([[-2.7, -0.5, 0.0, 1.5, 3.9]], np.float32)
    compare("Cast", [x], {"to": 7}, [False], exact=True)
    compare("Cast", [np.array([-3, 0, 2**40], np.int64)], {"to": 1}, [False], exact=True)
    compare("Cast", [x], {"to": 1}, [False], exact=True)
    compare("Cast", [x], {"to": 10}, [False], exact=True)  # float16
    with pytest.raises(int8rt.NotSupportedError, match="op_under_test.*Cast.*'to' = 8"):  # string
        run_single_op("Cast", [x], {"to": 8}, [False])
    compare("Shape", [np.zeros((2, 3, 4, 5), np.float32)], {}, [False], exact=True)
    compare("Shape", [np.zeros((2, 3, 4, 5), np.float32)], {"start": 1, "end": -1}, [False], opset=15, exact=True)


# ---------------------------------------------------------------- Resize / Upsample

COORD_MODES = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
EMPTY = np.zeros((0,), np.float32)


@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("nearest", NEAREST_MODES)
@pytest.mark.parametrize("scales", [(1, 1, 2, 2), (1, 1, 0.5, 1.5), (1, 1, 1.7, 0.6)])
def test_resize_nearest_scales(coord: str, nearest: str, scales: tuple) -> None:
    rng = np.random.default_rng(35)
    x = rand(rng, 2, 3, 6, 5)
    attrs = {"mode": "nearest", "coordinate_transformation_mode": coord, "nearest_mode": nearest}
    compare("Resize", [x, EMPTY, np.array(scales, np.float32)], attrs, [False, True, True], opset=13, exact=True)


@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("sizes", [(2, 3, 12, 10), (2, 3, 4, 7), (2, 3, 1, 1)])
def test_resize_sizes(coord: str, sizes: tuple) -> None:
    rng = np.random.default_rng(36)
    x = rand(rng, 2, 3, 6, 5)
    for mode in ("nearest", "linear"):
        attrs = {"mode": mode, "coordinate_transformation_mode": coord}
        # linear: two blends per output, a couple of ulps apart from ORT's formula.
        compare("Resize", [x, EMPTY, EMPTY, np.array(sizes, np.int64)], attrs, [False, True, True, True], opset=13,
                rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("scales", [(1, 1, 2, 2), (1, 1, 0.5, 0.75), (1, 1, 3, 1.5)])
def test_resize_linear_scales(coord: str, scales: tuple) -> None:
    rng = np.random.default_rng(37)
    x = rand(rng, 1, 2, 7, 6)
    attrs = {"mode": "linear", "coordinate_transformation_mode": coord}
    compare("Resize", [x, EMPTY, np.array(scales, np.float32)], attrs, [False, True, True], opset=13,
            rtol=1e-6, atol=1e-6)


def test_resize_opset11_roi_input_and_upsample() -> None:
    rng = np.random.default_rng(38)
    x = rand(rng, 1, 2, 4, 3)
    compare("Resize", [x, np.zeros(0, np.float32), np.array([1, 1, 2, 3], np.float32)], {"mode": "nearest"},
            [False, True, True], opset=11, exact=True)
    compare("Upsample", [x, np.array([1, 1, 2, 2], np.float32)], {"mode": "nearest"}, [False, True], opset=9,
            exact=True)
    compare("Upsample", [x, np.array([1, 1, 2, 1.5], np.float32)], {"mode": "linear"}, [False, True], opset=9,
            rtol=1e-6, atol=1e-6)


def test_resize_errors_and_dynamic_batch() -> None:
    rng = np.random.default_rng(39)
    x = rand(rng, 1, 2, 4, 4)
    sc = np.array([1, 1, 2, 2], np.float32)
    for attr, value in [("mode", "lanczos"), ("coordinate_transformation_mode", "bogus"), ("nearest_mode", "bogus")]:
        with pytest.raises(int8rt.NotSupportedError, match=f"op_under_test.*Resize.*{attr}"):
            run_single_op("Resize", [x, EMPTY, sc], {attr: value}, [False, True, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*tf_crop_and_resize needs the roi input"):
        run_single_op("Resize", [x, EMPTY, sc], {"coordinate_transformation_mode": "tf_crop_and_resize"},
                      [False, True, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*scales/sizes"):
        run_single_op("Resize", [x, EMPTY, np.array([2, 2], np.float32)], {}, [False, True, True])
    attrs = {"mode": "linear"}
    sets = [[rand(rng, bs, 2, 4, 4), EMPTY, sc] for bs in (3, 1)]
    for s, (y,) in zip(sets, run_single_op_batches("Resize", sets, attrs, [False, True, True])):
        np.testing.assert_allclose(y, run_ort("Resize", s, attrs, [False, True, True], opset=13)[0], rtol=1e-6,
                                   atol=1e-6)


# ---------------------------------------------------------------- ConvTranspose

CONVT_CASES = [
    (1, 4, 5, 5, 3, (3, 3), {}),
    (2, 4, 5, 6, 6, (3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
    (1, 6, 4, 4, 4, (4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1], "group": 2}),
    (1, 3, 5, 4, 2, (3, 2), {"strides": [3, 2], "dilations": [2, 1], "pads": [0, 1, 2, 0]}),
    (1, 8, 6, 6, 8, (2, 2), {"strides": [2, 2], "group": 8}),
    (1, 3, 5, 5, 2, (3, 3), {"auto_pad": "VALID", "strides": [2, 2]}),
]


@pytest.mark.parametrize("case", CONVT_CASES, ids=[str(i) for i in range(len(CONVT_CASES))])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_transpose(case: tuple, with_bias: bool) -> None:
    n, c, h, w, m, k, attrs = case
    rng = np.random.default_rng(40)
    g = attrs.get("group", 1)
    inputs = [rand(rng, n, c, h, w), rand(rng, c, m // g, *k), rand(rng, m) if with_bias else None]
    compare("ConvTranspose", inputs, attrs, [False, True, True], atol=2e-6 * c * k[0] * k[1])


def test_conv_transpose_1d_and_errors() -> None:
    rng = np.random.default_rng(41)
    x, wt = rand(rng, 2, 3, 7), rand(rng, 3, 4, 3)
    compare("ConvTranspose", [x, wt], {"strides": [2], "pads": [1, 0]}, [False, True], atol=1e-4)
    x2, w2 = rand(rng, 1, 3, 4, 4), rand(rng, 3, 2, 3, 3)
    # auto_pad SAME (total padding 1 here, split by the spec) and output_shape (odd total padding)
    compare("ConvTranspose", [x2, w2], {"auto_pad": "SAME_UPPER", "strides": [2, 2]}, [False, True], atol=1e-4)
    compare("ConvTranspose", [x2, w2], {"output_shape": [8, 8], "strides": [2, 2]}, [False, True], atol=1e-4)
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*output_shape.*one value per spatial dim"):
        run_single_op("ConvTranspose", [x2, w2], {"output_shape": [8, 8, 8]}, [False, True])
    with pytest.raises(int8rt.InvalidArgumentError, match="op_under_test.*channels"):
        run_single_op("ConvTranspose", [rand(rng, 1, 5, 4, 4), w2], {}, [False, True])


def test_gemm_fused_activation() -> None:
    """int8rt_activation on Gemm (graph/passes contract) == Gemm -> Relu / Clip, bit for bit."""
    rng = np.random.default_rng(42)
    a, w, b = rand(rng, 5, 12), rand(rng, 7, 12), rand(rng, 7)
    z = run_single_op("Gemm", [a, w, b], {"transB": 1}, [False, True, True])[0]
    y = run_single_op("Gemm", [a, w, b], {"transB": 1, "int8rt_activation": "Relu"}, [False, True, True])[0]
    np.testing.assert_array_equal(y, np.maximum(z, 0))
    y = run_single_op("Gemm", [a, w, b], {"transB": 1, "int8rt_activation": "Clip", "int8rt_clip_max": 0.5},
                      [False, True, True])[0]
    np.testing.assert_array_equal(y, np.minimum(z, np.float32(0.5)))


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_half_pixel_symmetric_opset19(mode: str) -> None:
    rng = np.random.default_rng(43)
    x = rand(rng, 1, 2, 5, 7)
    attrs = {"mode": mode, "coordinate_transformation_mode": "half_pixel_symmetric"}
    # Scales exact in binary: with 0.6 an output lands within an ulp of a .5 tie; int8rt
    # (no FMA contraction) rounds it as exact arithmetic on float32(0.6) does, ORT the other way.
    for scales in ([1, 1, 1.5, 0.5], [1, 1, 2.0, 2.0], [1, 1, 0.75, 1.25]):
        compare("Resize", [x, EMPTY, np.array(scales, np.float32)], attrs, [False, True, True], opset=19,
                rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
@pytest.mark.parametrize("axes", [[2, 3], [3, 2], [3]])
@pytest.mark.parametrize("constant", [True, False])
def test_resize_axes_and_keep_aspect_ratio_opset19(mode: str, policy: str, axes: list, constant: bool) -> None:
    x = rand(np.random.default_rng(44), 1, 2, 5, 7)
    attrs = {"mode": mode, "axes": axes, "keep_aspect_ratio_policy": policy}
    sizes = np.array([9, 4][:len(axes)], np.int64)
    compare("Resize", [x, EMPTY, None, sizes], attrs, [False, True, True, constant], opset=19, rtol=1e-6, atol=1e-6)
    if policy == "stretch":
        scales = np.array([2.0, 0.5][:len(axes)], np.float32)
        compare("Resize", [x, EMPTY, scales], attrs, [False, True, constant], opset=19, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("coord", ["half_pixel", "asymmetric", "pytorch_half_pixel", "align_corners"])
@pytest.mark.parametrize("a,exclude", [(-0.75, 0), (-0.5, 1)])
@pytest.mark.parametrize("scales", [(1, 1, 2, 2), (1, 1, 1.5, 0.75), (1, 1, 3, 1)])
def test_resize_cubic(coord: str, a: float, exclude: int, scales: tuple) -> None:
    # ONNX Runtime's bicubic blends each tap row along x, then the rows
    # along y, as the layer does; its weights may differ in the last ulp.
    x = rand(np.random.default_rng(45), 2, 3, 6, 5)
    attrs = {"mode": "cubic", "coordinate_transformation_mode": coord, "cubic_coeff_a": a, "exclude_outside": exclude}
    compare("Resize", [x, EMPTY, np.array(scales, np.float32)], attrs, [False, True, True], opset=13,
            rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- math functions, activations, variadic ops

_UNARY_DOMAIN = {"Log": (0.01, 50.0), "Reciprocal": (0.1, 10.0)}


@pytest.mark.parametrize("op,attrs", [
    ("Exp", {}), ("Log", {}), ("Abs", {}), ("Neg", {}), ("Reciprocal", {}), ("Sin", {}), ("Cos", {}),
    ("Sign", {}), ("Floor", {}), ("Ceil", {}), ("Round", {}), ("Softplus", {}), ("Softsign", {}),
    ("Mish", {}), ("Elu", {}), ("Elu", {"alpha": 0.5}), ("Selu", {}), ("Selu", {"alpha": 1.5, "gamma": 2.0}),
])
def test_unary_math_and_activations(op: str, attrs: dict) -> None:
    # libm in float32 on both sides: within a few ulps (ORT's Exp/Log/Sin are
    # vectorised approximations, so not bit-equal).
    rng = np.random.default_rng(31)
    lo, hi = _UNARY_DOMAIN.get(op, (-30.0, 30.0))
    x = rng.uniform(lo, hi, (3, 4, 37)).astype(np.float32)
    if op in ("Round", "Sign", "Floor", "Ceil"):
        x[0, 0, :8] = [0.5, 1.5, 2.5, -0.5, -1.5, 0.0, -0.0, 3.0]  # ties to even, signed zero
    compare(op, [x], attrs, [False], opset=18, rtol=2e-6, atol=1e-6 if op == "Mish" else 0.0,
            exact=op in ("Abs", "Neg", "Sign", "Floor", "Ceil", "Round"))


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.7), (None, 0.2), (-0.1, None), (0.9, -0.9)])
@pytest.mark.parametrize("constant", [True, False])
def test_clip_bounds_constant_or_computed_at_run_time(lo: float | None, hi: float | None, constant: bool) -> None:
    x = np.random.default_rng(33).uniform(-2, 2, (3, 5, 7)).astype(np.float32)
    bounds = [None if v is None else np.array(v, np.float32) for v in (lo, hi)]
    compare("Clip", [x, *bounds], {}, [False, constant, constant], opset=13, exact=True)


@pytest.mark.parametrize("dtype,constant", [(np.int64, True), (np.int64, False), (np.int32, False)])
def test_integer_clip_with_bounds_of_its_dtype(dtype: type, constant: bool) -> None:
    # DeBERTa-v2 clamps its int64 relative positions with constant int64 bounds
    # (Clip(pos, 0, 127)), which used to fail the build ("bounds must be scalars");
    # (run_single_op makes no int32 constants: int32 bounds are run-time inputs here)
    x = np.random.default_rng(36).integers(-300, 300, (3, 5, 7)).astype(dtype)
    compare("Clip", [x, np.array(0, dtype), np.array(127, dtype)], {}, [False, constant, constant], opset=13,
            exact=True)
    compare("Clip", [x, None, np.array(-5, dtype)], {}, [False, constant, constant], opset=13, exact=True)


@pytest.mark.parametrize("op", ["Min", "Max", "Sum", "Mean"])
@pytest.mark.parametrize("shapes", [[(2, 3, 4)], [(2, 3, 4), (2, 3, 4)], [(2, 1, 4), (3, 1), (1,)],
                                    [(1, 5), (4, 1), (4, 5), (5,)]])
def test_variadic(op: str, shapes: list) -> None:
    rng = np.random.default_rng(32)
    xs = [rand(rng, *s) for s in shapes]
    # Sum and Mean fold left to right in float32 as ONNX Runtime does.
    compare(op, xs, {}, [False] * len(xs), opset=13, rtol=1e-6, atol=1e-6, exact=op in ("Min", "Max"))


@pytest.mark.parametrize("base,exp", [(np.float32, np.int32), (np.int32, np.float32), (np.int32, np.int32),
                                      (np.int64, np.float32), (np.int64, np.int64), (np.int32, np.int64)])
def test_pow_on_mixed_and_integer_types(base: type, exp: type) -> None:
    rng = np.random.default_rng(34)
    x = rng.integers(-4, 5, (3, 4)).astype(base)
    y = rng.integers(0, 4, (4,)).astype(exp)
    compare("Pow", [x, y], {}, [False, False], opset=15, exact=True)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_int32_arithmetic(op: str) -> None:
    rng = np.random.default_rng(35)
    a = rng.integers(-1000, 1000, (2, 3, 4)).astype(np.int32)
    b = rng.integers(1, 50, (3, 1)).astype(np.int32) * rng.choice([-1, 1], (3, 1)).astype(np.int32)
    compare(op, [a, b], {}, [False, False], exact=True)  # Div truncates toward zero as ORT's does


def test_min_max_int64_and_nan() -> None:
    a, b = np.array([3, -7, 5], np.int64), np.array([[1], [9]], np.int64)
    compare("Max", [a, b], {}, [False, False], exact=True)
    compare("Min", [a, b], {}, [False, False], exact=True)
    compare("Max", [a.astype(np.int32), b.astype(np.int32)], {}, [False, False], exact=True)
    compare("Min", [a.astype(np.int32), b.astype(np.int32), np.int32([[0]])], {}, [False] * 3, exact=True)
    (m,) = run_single_op("Max", [np.array([1.0, np.nan], np.float32), np.array([np.nan, 0.0], np.float32)], {},
                         [False, False])
    assert np.isnan(m).all()


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 9), (3, 2, 2, 3, 4)])
def test_instance_normalization(shape: tuple) -> None:
    rng = np.random.default_rng(33)
    x, c = rand(rng, *shape) * 3 + 1, shape[1]
    compare("InstanceNormalization", [x, rand(rng, c), rand(rng, c)], {"epsilon": 1e-4}, [False, True, True],
            rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_normalization(groups: int) -> None:
    # Opset 21 form: scale and bias per channel. Checked against float64 numpy
    # (ONNX Runtime's CPU kernel for opset 21 is not in every build).
    rng = np.random.default_rng(34)
    x = rand(rng, 2, 6, 4, 5) * 2 - 1
    scale, bias = rand(rng, 6), rand(rng, 6)
    (y,) = run_single_op("GroupNormalization", [x, scale, bias], {"num_groups": groups, "epsilon": 1e-5},
                         [False, True, True])
    g = x.astype(np.float64).reshape(2, groups, -1)
    norm = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    want = norm * scale.reshape(1, 6, 1, 1) + bias.reshape(1, 6, 1, 1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op,mode,block,shape", [
    ("DepthToSpace", "DCR", 2, (2, 8, 3, 5)), ("DepthToSpace", "CRD", 2, (1, 12, 2, 3)),
    ("DepthToSpace", "DCR", 3, (1, 9, 2, 2)), ("SpaceToDepth", None, 2, (2, 3, 4, 6)),
    ("SpaceToDepth", None, 3, (1, 2, 6, 3)),
])
def test_depth_space(op: str, mode: str | None, block: int, shape: tuple) -> None:
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    attrs = {"blocksize": block, **({"mode": mode} if mode else {})}
    compare(op, [x], attrs, [False], opset=13, exact=True)


def test_gelu_tanh_approximation() -> None:
    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    (y,) = run_single_op("Gelu", [x], {"approximate": "tanh"}, [False])
    xd = x.astype(np.float64)
    want = 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd ** 3)))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(np.float32))


def test_erf_tanh_gelu_against_float64() -> None:
    """Erf, Tanh and both Gelus evaluate csrc/kernels/ref/math_f32.h's erf_f32 and
    tanh_f32 (vectorisable polynomials, tools/fit_elementary.py): erf within
    3 ulps and tanh within 2 of the float64 result over [-12, 12] and tiny
    arguments; Gelu within a few float32 roundings of 0.5 x (1 + erf(x/sqrt 2));
    NaN, +-inf and -0 as libm gives them."""
    import math
    x = np.concatenate([np.linspace(-12, 12, 240001), np.geomspace(1e-30, 1, 2000),
                        -np.geomspace(1e-30, 1, 2000)]).astype(np.float32)
    xd = x.astype(np.float64)
    (erf,) = run_single_op("Erf", [x], {}, [False])
    worst = _ulps(erf, np.vectorize(math.erf)(xd))
    assert worst.max() <= 3, (worst.max(), x[worst.argmax()])
    (tanh,) = run_single_op("Tanh", [x], {}, [False])
    worst = _ulps(tanh, np.tanh(xd))
    assert worst.max() <= 2, (worst.max(), x[worst.argmax()])
    (gelu,) = run_single_op("Gelu", [x], {}, [False])
    want = 0.5 * xd * (1 + np.vectorize(math.erf)(xd / np.sqrt(2)))
    bound = 2.0 ** -24 * (4 * np.abs(want) + 3 * np.abs(xd))
    assert np.all(np.abs(gelu - want) <= bound), float(np.max(np.abs(gelu - want) / bound))
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)
    for op, want in (("Erf", [np.nan, 1, -1, -0.0, 0.0]), ("Tanh", [np.nan, 1, -1, -0.0, 0.0])):
        (y,) = run_single_op(op, [special], {}, [False])
        np.testing.assert_array_equal(y, np.array(want, np.float32), err_msg=op)
        assert np.signbit(y[3]) and not np.signbit(y[4]), op


@pytest.mark.parametrize("shape,axis,indices", [
    ((3, 10, 32), 0, np.array(1)),                        # torch's q/k/v pick of a packed projection
    ((2, 5, 7), 1, np.array([4, 0, -1, 2])),              # x[:, [..]] with a negative index
    ((2, 5, 7), -1, np.array([[0, 6], [-7, 3]])),         # 2-D indices on the last axis
    ((4, 3), 0, np.array([], np.int64).reshape(0)),        # empty
])
def test_gather_of_run_time_data_by_constant_indices(shape: tuple, axis: int, indices: np.ndarray) -> None:
    x = np.random.default_rng(33).standard_normal(shape).astype(np.float32)
    compare("Gather", [x, indices.astype(np.int64)], {"axis": axis}, [False, True], opset=13, exact=True)


def test_gather_index_out_of_range_is_a_clear_error() -> None:
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"Gather.*index 3 is outside \[-3, 3\)"):
        run_single_op("Gather", [x, np.array([3], np.int64)], {"axis": 1}, [False, True])


def _rnn_inputs(rng: np.random.Generator, op: str, *, T: int, B: int, I: int, H: int, dirs: int, layout: int,
                bias: bool, initial: bool, lens: bool, peep: bool) -> list[np.ndarray | None]:
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    state = (dirs, B, H) if layout == 0 else (B, dirs, H)
    x = rand(rng, *((T, B, I) if layout == 0 else (B, T, I)))
    ins: list[np.ndarray | None] = [x, rand(rng, dirs, G * H, I) * 0.5, rand(rng, dirs, G * H, H) * 0.5,
                                    rand(rng, dirs, 2 * G * H) * 0.5 if bias else None,
                                    rng.integers(1, T + 1, B).astype(np.int32) if lens else None,
                                    rand(rng, *state) if initial else None]
    if op == "LSTM":
        ins += [rand(rng, *state) if initial else None, rand(rng, dirs, 3 * H) * 0.5 if peep else None]
    while ins[-1] is None:
        ins.pop()
    return ins


def _run_model_both(op: str, ins: list, attrs: dict, num_outputs: int, opset: int = 14):
    """op with input 0 a graph input and the rest initializers, run by int8rt's
    FP32 engine (through the ONNX importer) and by ONNX Runtime, or by
    onnx.reference where ONNX Runtime lacks the form (layout=1)."""
    import onnx
    from onnx import helper, numpy_helper
    names = ["x"] + [f"in{i}" if a is not None else "" for i, a in enumerate(ins[1:], 1)]
    outs = [f"out{k}" for k in range(num_outputs)]
    inits = [numpy_helper.from_array(a, n) for n, a in zip(names[1:], ins[1:]) if a is not None]
    graph = helper.make_graph([helper.make_node(op, names, outs, **attrs)], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(ins[0].shape))],
                              [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, [None] * (4 if k == 0 else 3))
                               for k, o in enumerate(outs)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    engine = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    ours = engine.run({"x": ins[0]})
    if attrs.get("layout", 0) == 1:
        from onnx.reference import ReferenceEvaluator
        ref = ReferenceEvaluator(m).run(None, {"x": ins[0]})
    else:
        import onnxruntime as ort
        ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": ins[0]})
    return [ours[o] for o in outs], ref


_RNN_CASES = [  # (direction, layout, bias, initial, sequence_lens, attributes, cells)
    ("forward", 0, True, False, False, {}, "LSTM GRU RNN"),
    ("reverse", 0, True, True, False, {}, "LSTM GRU RNN"),
    ("bidirectional", 0, True, True, True, {}, "LSTM GRU RNN"),
    ("bidirectional", 1, False, True, False, {}, "LSTM GRU RNN"),
    ("forward", 1, True, False, False, {}, "LSTM GRU RNN"),  # layout 1: onnx.reference (no clip, no lens there)
    ("forward", 0, True, False, True, {"clip": 0.75}, "LSTM GRU RNN"),
    ("forward", 0, True, True, False, {"linear_before_reset": 1}, "GRU"),
    ("reverse", 0, True, True, True, {"peepholes": True}, "LSTM"),
    ("forward", 0, True, True, False, {"input_forget": 1, "peepholes": True}, "LSTM"),
]


@pytest.mark.parametrize("op,direction,layout,bias,initial,lens,extra", [
    (op, *case[:-1]) for case in _RNN_CASES for op in case[-1].split()])
def test_recurrent_layers_against_onnx_runtime(op: str, direction: str, layout: int, bias: bool, initial: bool,
                                               lens: bool, extra: dict) -> None:
    attrs = dict(extra)
    peep = bool(attrs.pop("peepholes", False))
    dirs = 2 if direction == "bidirectional" else 1
    H = 5
    rng = np.random.default_rng(40)
    ins = _rnn_inputs(rng, op, T=6, B=3, I=4, H=H, dirs=dirs, layout=layout, bias=bias, initial=initial, lens=lens,
                      peep=peep)
    attrs.update(hidden_size=H, direction=direction, **({"layout": 1} if layout else {}))
    ours, ref = _run_model_both(op, ins, attrs, 3 if op == "LSTM" else 2)
    for k, (a, b) in enumerate(zip(ours, ref)):
        assert a.shape == b.shape, (op, k, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6, err_msg=f"{op} {attrs} output {k}")


@pytest.mark.parametrize("isa", ["ref", None])
def test_lstm_common_cell_loop_gives_the_general_loops_bits(isa: str | None) -> None:
    """An LSTM without peepholes, coupled gates or clip runs its Sigmoid / Tanh on the unary_f32 kernels
    (engine/ops/lstm_gates.h); with a clip that clips nothing (1e30) the general loop runs, the scalar
    math_f32.h functions. On the reference tier the same float operations, so the same bits (H = 37:
    vector body and tail); on the CPU's best tier the tier's Sigmoid / Tanh, a few ulp each
    (tests/test_lstmq27_cell.py derives the 2e-6 bound)."""
    import onnx
    from onnx import helper, numpy_helper
    H = 37
    ins = _rnn_inputs(np.random.default_rng(42), "LSTM", T=4, B=2, I=11, H=H, dirs=2, layout=0, bias=True,
                      initial=True, lens=False, peep=False)
    names = ["x"] + [f"in{i}" if a is not None else "" for i, a in enumerate(ins[1:], 1)]
    results = []
    for clip in ({}, {"clip": 1e30}):
        graph = helper.make_graph(
            [helper.make_node("LSTM", names, ["y", "y_h", "y_c"], hidden_size=H, direction="bidirectional", **clip)],
            "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(ins[0].shape))],
            [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, [None] * (4 if o == "y" else 3))
             for o in ("y", "y_h", "y_c")],
            [numpy_helper.from_array(a, n) for n, a in zip(names[1:], ins[1:]) if a is not None])
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
        int8rt.set_max_isa(isa)  # the layer chooses its kernels when it is made
        try:
            results.append(int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
                           .run({"x": ins[0]}))
        finally:
            int8rt.set_max_isa(None)
    for o in ("y", "y_h", "y_c"):
        if isa == "ref":
            assert np.array_equal(results[0][o], results[1][o]), o
        else:
            assert np.abs(results[0][o] - results[1][o]).max() <= 2e-6, o


@pytest.mark.parametrize("op,direction,layout,extra", [
    ("LSTM", "bidirectional", 0, {}), ("LSTM", "forward", 1, {}), ("GRU", "reverse", 0, {}),
    ("GRU", "forward", 0, {"linear_before_reset": 1}), ("RNN", "bidirectional", 1, {})])
def test_recurrent_weights_packed_once_give_the_same_bits(op: str, direction: str, layout: int, extra: dict) -> None:
    """Constant W and R are packed into the SGEMM panels when the layer is made
    (rnn_f32.cc); as graph inputs they are packed per call. Same arithmetic,
    so the same bits, over sizes that span several panels and K slices."""
    import onnx
    from onnx import helper, numpy_helper
    dirs = 2 if direction == "bidirectional" else 1
    H = 37
    ins = _rnn_inputs(np.random.default_rng(41), op, T=5, B=3, I=300, H=H, dirs=dirs, layout=layout, bias=True,
                      initial=True, lens=False, peep=False)
    attrs = dict(extra, hidden_size=H, direction=direction, **({"layout": 1} if layout else {}))
    names = ["x", "w", "r"] + [f"in{i}" if a is not None else "" for i, a in enumerate(ins[3:], 3)]
    outs = ["y", "y_h"]
    results = []
    for weights_are_inputs in (False, True):
        graph_in = ["x", "w", "r"] if weights_are_inputs else ["x"]
        inits = [numpy_helper.from_array(a, n) for n, a in zip(names, ins) if a is not None and n not in graph_in]
        graph = helper.make_graph(
            [helper.make_node(op, names, outs, **attrs)], "g",
            [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, list(a.shape)) for n, a in zip(names, ins)
             if n in graph_in],
            [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, [None] * (4 if k == 0 else 3))
             for k, o in enumerate(outs)], inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
        engine = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
        results.append(engine.run({n: a for n, a in zip(names, ins) if n in graph_in}))
    for o in outs:
        assert np.array_equal(results[0][o], results[1][o]), (op, o)


def _unary_float64(op: str, attrs: dict, xd: np.ndarray) -> np.ndarray:
    import math
    erf = np.vectorize(math.erf)
    if op == "Erf":
        return erf(xd)
    if op == "Tanh":
        return np.tanh(xd)
    if op == "Exp":
        return np.exp(xd)
    if op == "Sigmoid":
        return 1 / (1 + np.exp(-xd))
    if attrs.get("approximate") == "tanh":
        return 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd ** 3)))
    return 0.5 * xd * (1 + erf(xd / np.sqrt(2)))


@pytest.mark.parametrize("op,attrs", [("Erf", {}), ("Gelu", {}), ("Gelu", {"approximate": "tanh"}), ("Tanh", {}),
                                      ("Sigmoid", {}), ("Exp", {})])
def test_unary_f32_tiers_within_the_same_bounds(op: str, attrs: dict) -> None:
    """The unary_f32 family (kernels/unary_f32.h) compiles one loop per ISA:
    the reference (baseline flags, no FMA) and the AVX2 and AVX-512 tiers,
    which contract each a * b + c into an FMA and so differ from it in the
    last bits. Every tier is held to the same bound against float64 (those
    of test_erf_tanh_gelu_against_float64; exp within 2 ulps as
    kernels/ref/math_f32.h states, sigmoid within 3: exp's 2 plus two
    roundings), and NaN, +-inf and signed zeros come out as the reference's."""
    x = np.linspace(-40, 40, 20011).astype(np.float32)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)
    xd = x.astype(np.float64)
    want = _unary_float64(op, attrs, xd)
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    specials = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            (got,) = run_single_op(op, [x], attrs, [False])
            (specials[isa],) = run_single_op(op, [special], attrs, [False])
        finally:
            int8rt.set_max_isa(None)
        err = np.abs(got - want)
        if op == "Gelu" and attrs.get("approximate") == "tanh":
            assert np.all(err <= 1e-5 * np.abs(want) + 1e-6), (isa, float(err.max()))
        elif op == "Gelu":
            assert np.all(err <= 2.0 ** -24 * (4 * np.abs(want) + 3 * np.abs(xd))), isa
        else:
            ulps = {"Erf": 3, "Tanh": 2, "Exp": 2, "Sigmoid": 3}[op]
            worst = err / np.spacing(np.abs(want).astype(np.float32))
            assert worst.max() <= ulps, (isa, float(worst.max()), float(x[worst.argmax()]))
    for isa in tiers[1:]:  # NaN as NaN (its payload may differ), infinities and zeros with their signs
        np.testing.assert_array_equal(specials[isa], specials["ref"], err_msg=f"{op} {isa}")
        assert np.array_equal(np.signbit(specials[isa][1:]), np.signbit(specials["ref"][1:])), (op, isa)


def test_sigmoid_and_silu_avx512_tier_has_the_avx2_tiers_bits() -> None:
    """The AVX-512 and AVX2 tiers' Sigmoid and Silu (x86/avx512/unary_f32.cc,
    x86/avx2/unary_f32.cc) run the same operations at 16 and 8 lanes
    (exp_fma_f32's core on -x clamped to [-80, 89], then 1 / (1 + e), then
    x * s): the same bits over exp's whole range and its edges (the 88.72 /
    -87.34 clamps, denormal results, every float near the clamps), for
    lengths off the 16-lane edge; Silu through the conv's fused Swish on a 1x1
    identity conv, whose product is x exactly."""
    tiers = [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    if len(tiers) < 2:
        pytest.skip("needs the avx2 and avx512 tiers")
    edges = np.array([88.72, 88.73, 87.3, 87.4, -88.73, -87.33, -87.34, 103.9, -104.0, 1e-30, -1e-30,
                      np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)
    # every float within 3000 steps of the avx512 tier's clamps of -x (-80, 89) and
    # of exp's kHi (88.7228), on both sides of zero
    near = [np.float32(e) + np.arange(-3000, 3001, dtype=np.float32) * np.spacing(np.float32(e))
            for e in (80.0, 89.0, 88.7228393, 87.3365479)]
    dense = np.concatenate(near + [-v for v in near]).astype(np.float32)
    x = np.concatenate([np.linspace(-110, 110, 40007).astype(np.float32), dense, edges])
    c = 7  # x.size // 7 values per channel: a length off the 16-lane edge
    img = x[: x.size // c * c].reshape(1, c, 1, -1)
    eye = np.eye(c, dtype=np.float32).reshape(c, c, 1, 1)
    got = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            (sig,) = run_single_op("Sigmoid", [x], {}, [False])
            (silu,) = run_single_op("Conv", [img, eye, np.zeros(c, np.float32)], {"int8rt_activation": "Swish"},
                                    [False, True, True])
            got[isa] = (sig, silu)
        finally:
            int8rt.set_max_isa(None)
    for a, b, what in zip(got["avx2"], got["avx512"], ("Sigmoid", "Silu")):
        assert a.tobytes() == b.tobytes(), what


@pytest.mark.parametrize("isa", [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]])
def test_pointwise_conv_on_a_cold_batch_same_bits_as_per_image(isa: str) -> None:
    """A pointwise conv whose whole input passes conv_f32.cc's kColdInputBytes
    (8 MiB: 9 x 64 x 64 x 64 floats, 9.4 MB) has the SGEMM fetch its B rows
    ahead (GemmOperand::cold); the fetches change no arithmetic, so each image
    equals that image run alone (1 MB, not cold), bit for bit; with a Relu."""
    rng = np.random.default_rng(31)
    x = rng.standard_normal((9, 64, 64, 64)).astype(np.float32)
    w = (rng.standard_normal((96, 64, 1, 1)) / 8).astype(np.float32)
    b = rng.standard_normal(96).astype(np.float32)
    attrs = {"int8rt_activation": "Relu"}
    int8rt.set_max_isa(isa)
    try:
        whole = run_single_op("Conv", [x, w, b], attrs, [False, True, True])[0]
        for n in (0, 4, 8):
            alone = run_single_op("Conv", [x[n:n + 1], w, b], attrs, [False, True, True])[0]
            assert whole[n:n + 1].tobytes() == alone.tobytes(), (isa, n)
    finally:
        int8rt.set_max_isa(None)
