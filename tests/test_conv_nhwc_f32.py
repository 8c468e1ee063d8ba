"""The FP32 NHWC conv (kernels/conv_nhwc_f32.h): dense kh x kw > 1 Conv
layers with constant weights, one group and output channels a multiple of
the SGEMM tile's columns, run with the output pixels as the microkernel's
rows (A read in place from a channels-last padded copy of the image,
SgemmTile::a_rows) and the output channels as its vector columns, on every
SGEMM tier the CPU has, against a float64 NumPy convolution.

Bound: each output is one chain of K = C * kh * kw products in (tap,
channel) order (or slices of it past K = 4608, C stored and reloaded
exactly), then the bias, one rounding per step (FMA tiers) or two (the
portable tier), so |y - y64| <= (K + 3) * 2^-24 * sum |terms|, the tap
conv's bound (tests/test_conv_taps_f32.py). The same layer with
non-constant weights runs the im2col path; both meet the bound. Shapes:
strides 1, 2 and 3, dilation, asymmetric and SAME padding, RGB stems (C = 3,
7x7 / 2 and 3x3 / 2), output widths that cut into runs of several lengths
(6 + 5 on the 6-row tiers, 12 + 12 + 11 on AVX-512), three column panels,
K over one slice (C = 520), batch 2, and an output 3 pixels wide (declined
on AVX-512: under half the 12-row tile; the im2col path runs it); RGB
images with 16 or 24 output channels (one AVX-512 panel half or three
quarters full: MobileNetV3's stem). Grouped
convs under 16 channels per group (RegNet's 8 per group, stride 1 and 2)
run it per group, each group its own chain of (C/G) * kh * kw products:
GROUPED_CASES, the same bound with C/G.
The fused bias / residual / Relu / Clip are checked bit for bit against the
unfused graph in tests/test_fp32_ops.py (CONV_PATHS, the NHWC entries).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from np_kernels import conv2d_f64_nchw

from int8rt._testing import run_single_op

TIERS = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

CASES = [
    # (N, C, H, W, M, k, attrs); M a multiple of 32 (so of every tier's 8, 16 or 32 columns)
    (1, 16, 9, 11, 32, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 17, 12, 35, 64, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 24, 15, 14, 32, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 16, 13, 20, 32, (5, 5), {"pads": [2, 1, 0, 3], "dilations": [2, 1]}),
    (1, 3, 23, 21, 32, (7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),  # a ResNet-like stem
    (2, 3, 17, 16, 32, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # a MobileNet-like stem
    (1, 16, 11, 13, 32, (3, 2), {"auto_pad": "SAME_UPPER", "strides": [1, 2]}),
    (1, 16, 8, 30, 32, (3, 3), {"strides": [3, 2], "dilations": [1, 2]}),
    (1, 16, 7, 7, 96, (3, 3), {"pads": [1, 1, 1, 1]}),  # ResNet's last stage, scaled down
    (1, 520, 5, 6, 32, (3, 3), {"pads": [1, 1, 1, 1]}),  # K = 4680: two slices
    (1, 16, 6, 3, 32, (3, 3), {"pads": [1, 1, 1, 1]}),  # ow = 3: im2col on AVX-512
    # under 16 input channels, M not a multiple of 32: one panel half full on AVX-512
    (2, 3, 17, 16, 16, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # MobileNetV3's stem
    (1, 3, 11, 14, 24, (3, 3), {"pads": [1, 1, 1, 1]}),  # 24 of 32 columns (AVX2: im2col)
]


def _pads(case: tuple) -> list[int]:
    n, c, h, w, m, k, attrs = case
    if attrs.get("auto_pad") == "SAME_UPPER":
        pads = []
        for size, kk, st in zip((h, w), k, attrs["strides"]):
            total = max(0, (-(-size // st) - 1) * st + kk - size)
            pads.append((total // 2, total - total // 2))
        return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
    return attrs.get("pads", [0, 0, 0, 0])


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_nhwc_conv_against_float64(case: tuple) -> None:
    n, c, h, wd, m, k, attrs = case
    rng = np.random.default_rng(13)
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((m, c) + k).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    stride, dil = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    y64, mag = conv2d_f64_nchw(x, w, b, stride, _pads(case), dil, 1)
    bound = (c * k[0] * k[1] + 3) * 2.0 ** -24 * mag
    for isa in TIERS:
        for constant_w in (True, False):  # the NHWC conv, then the im2col path
            int8rt.set_max_isa(isa)  # the layer chooses its kernels when it is created
            try:
                got = run_single_op("Conv", [x, w, b], attrs, [False, constant_w, True])[0]
            finally:
                int8rt.set_max_isa(None)
            assert got.shape == y64.shape
            bad = np.abs(got.astype(np.float64) - y64) > bound
            assert not bad.any(), (isa, constant_w, case, np.argwhere(bad)[:3], got[bad][:3], y64[bad][:3])


GROUPED_CASES = [
    # (N, C, H, W, M, k, attrs): channels per group C/G under 16
    (1, 48, 14, 14, 48, (3, 3), {"pads": [1, 1, 1, 1], "group": 6}),  # RegNet: 8 in, 8 out per group
    (2, 24, 15, 13, 24, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2], "group": 3}),
    (1, 16, 9, 10, 32, (3, 3), {"pads": [1, 1, 1, 1], "group": 2}),  # 16 out per group: one full panel
    (1, 8, 9, 9, 16, (3, 3), {"pads": [0, 1, 2, 1], "group": 2}),  # 4 in, 8 out per group
    (1, 30, 8, 11, 24, (3, 3), {"pads": [1, 1, 1, 1], "dilations": [2, 1], "group": 2}),  # 15 in, 12 out
    (1, 16, 8, 9, 48, (3, 3), {"pads": [1, 1, 1, 1], "group": 2}),  # 24 out per group: declined on AVX2
    (1, 12, 7, 3, 12, (3, 3), {"pads": [1, 1, 1, 1], "group": 3}),  # 4 out per group, ow = 3: declined
]


@pytest.mark.parametrize("case", GROUPED_CASES, ids=[str(i) for i in range(len(GROUPED_CASES))])
def test_grouped_nhwc_conv_against_float64(case: tuple) -> None:
    n, c, h, wd, m, k, attrs = case
    g = attrs["group"]
    rng = np.random.default_rng(17)
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((m, c // g) + k).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    stride, dil = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    y64, mag = conv2d_f64_nchw(x, w, b, stride, _pads(case), dil, g)
    bound = (c // g * k[0] * k[1] + 3) * 2.0 ** -24 * mag
    for isa in TIERS:
        for constant_w in (True, False):  # the NHWC conv where it takes the shape, then the im2col path
            int8rt.set_max_isa(isa)
            try:
                got = run_single_op("Conv", [x, w, b], attrs, [False, constant_w, True])[0]
            finally:
                int8rt.set_max_isa(None)
            assert got.shape == y64.shape
            bad = np.abs(got.astype(np.float64) - y64) > bound
            assert not bad.any(), (isa, constant_w, case, np.argwhere(bad)[:3], got[bad][:3], y64[bad][:3])
            if constant_w:  # the residual and Relu in the epilogue: the unfused Add and Relu's bits
                r = rng.standard_normal(got.shape).astype(np.float32)
                int8rt.set_max_isa(isa)
                try:
                    fused = run_single_op("Conv", [x, w, b, r], {**attrs, "int8rt_residual": 3,
                                                                 "int8rt_activation": "Relu"},
                                          [False, True, True, False])[0]
                finally:
                    int8rt.set_max_isa(None)
                want = np.maximum(got + r, np.float32(0))
                assert fused.tobytes() == want.tobytes(), (isa, case)


# The NHWC conv declines an output under half its tile's rows (conv_nhwc_f32.cc: "output rows
# under half the tile's ... pixels"): AVX-512's tile has 12 rows, so a narrow image under 6
# pixels wide runs on the im2col path there, another algorithm whose bits need not match.
NHWC_TILE_ROWS = {"avx512": 12}

PIXEL_RUN_CASES = [
    # (C, M, group, k, stride, dilation, narrow input H x W): the narrow image's output rows are
    # 7 or fewer pixels wide, so the 6-row AVX2 tile runs its pixels in runs across output rows
    # (SgemmTile::a_pix); the same rows inside an image 60 pixels wider run per output row.
    (16, 96, 1, (3, 3), (1, 1), (1, 1), (9, 9)),  # ResNet's 7x7 stage, scaled down
    (16, 32, 1, (3, 3), (2, 2), (1, 1), (15, 15)),  # stride 2: 7 wide
    (16, 32, 1, (3, 3), (1, 2), (2, 1), (11, 9)),  # dilation, stride 2 across
    (24, 48, 3, (3, 3), (1, 1), (1, 1), (16, 16)),  # RegNet-like groups of 8: 14 wide
    (16, 32, 1, (3, 3), (1, 1), (1, 1), (6, 5)),  # 3 wide
]


@pytest.mark.parametrize("case", PIXEL_RUN_CASES, ids=[str(i) for i in range(len(PIXEL_RUN_CASES))])
def test_pixel_runs_do_not_change_bits(case: tuple) -> None:
    """An output's arithmetic does not depend on which pixels share its tile:
    the narrow image's outputs (runs across output rows where the microkernel
    takes per-pixel rows) equal, bit for bit, the same outputs at the left of
    a wider image (runs within one output row), on every tier; no padding, so
    the left columns see the same inputs."""
    c, m, g, k, stride, dil, (h, wd) = case
    rng = np.random.default_rng(23)
    wide = rng.standard_normal((1, c, h, wd + 60)).astype(np.float32)
    narrow = np.ascontiguousarray(wide[:, :, :, :wd])
    w = rng.standard_normal((m, c // g) + k).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    attrs = {"strides": list(stride), "dilations": list(dil), "group": g}
    for isa in TIERS:
        int8rt.set_max_isa(isa)
        try:
            got_n = run_single_op("Conv", [narrow, w, b], attrs, [False, True, True])[0]
            got_w = run_single_op("Conv", [wide, w, b], attrs, [False, True, True])[0]
        finally:
            int8rt.set_max_isa(None)
        ow = got_n.shape[3]
        if 2 * ow < NHWC_TILE_ROWS.get(isa, 0):
            continue  # the narrow image runs the im2col path here (declined by the NHWC conv): no pixel runs
        assert got_n.tobytes() == np.ascontiguousarray(got_w[:, :, :, :ow]).tobytes(), (isa, case)
