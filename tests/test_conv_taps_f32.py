"""The FP32 tap conv (kernels/conv_taps_f32.h): dense kh x kw > 1 Conv layers
with constant weights and one group or at least 16 channels per group, as
per-tap (or, under 16 channels, per-kernel-row over kx-shifted planes) GEMMs
read in place from a padded copy of the image, on every SGEMM tier the CPU
has (kx-expanded only where kw * C >= 16), against a float64 NumPy convolution.

Bound: each output is a sum of K = C/G * kh * kw products plus the bias,
taken in a fixed order with one rounding per step (FMA tiers) or two (the
portable tier), so |y - y64| <= (K + 3) * 2^-24 * sum |terms| (first-order
recursive-summation bound; `sum |terms|` from np_kernels.conv2d_f64_nchw).
The same layer with non-constant weights runs the im2col path; both meet
the bound. Shapes: strides 1 and 2 (phase split), dilation, asymmetric and
SAME padding, groups, channel counts off the 8-row tile and the kc slice
(16, 17, 200; the slices of the flattened (tap, channel) rows span taps,
each B row read at its own offset), output widths that leave the
32-column tile ragged, batch 2, and widths the tap conv declines (an output
under half its grid's width runs the im2col path with unpacked weights).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from np_kernels import conv2d_f64_nchw, conv_out

from int8rt._testing import run_single_op

TIERS = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

CASES = [
    # (N, C, H, W, M, k, attrs)
    (1, 16, 9, 11, 8, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 17, 12, 35, 13, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 24, 15, 14, 20, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 16, 13, 10, 9, (5, 5), {"pads": [2, 1, 0, 3], "dilations": [2, 1]}),
    (1, 32, 7, 7, 40, (3, 3), {"pads": [1, 1, 1, 1], "group": 2}),
    (1, 200, 6, 5, 17, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 16, 11, 9, 8, (3, 2), {"auto_pad": "SAME_UPPER", "strides": [1, 2]}),
    (1, 16, 8, 20, 8, (3, 3), {"strides": [3, 2], "dilations": [1, 2]}),
    (1, 16, 6, 1, 8, (3, 3), {"pads": [1, 1, 1, 1]}),  # ow = 1 of a 3-wide grid: declined, im2col
    # under 16 channels, one group: kx-expanded planes, one slice group per kernel row
    (1, 3, 23, 21, 8, (7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),  # a ResNet-like stem
    (2, 3, 17, 16, 33, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # kw * C = 9: declined, im2col
    (1, 5, 10, 12, 9, (3, 5), {"pads": [2, 1, 0, 3], "dilations": [2, 1]}),
    (1, 6, 9, 9, 4, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 15, 8, 40, 6, (2, 2), {"strides": [2, 2]}),
    (1, 8, 6, 4, 4, (3, 3), {"pads": [1, 1, 1, 1], "group": 2}),  # grouped, 4 per group: declined, im2col
]


def _pads(case: tuple) -> list[int]:
    n, c, h, w, m, k, attrs = case
    if attrs.get("auto_pad") == "SAME_UPPER":
        s = attrs["strides"]
        pads = []
        for size, kk, st in zip((h, w), k, s):
            out = -(-size // st)
            total = max(0, (out - 1) * st + kk - size)
            pads.append((total // 2, total - total // 2))
        return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
    return attrs.get("pads", [0, 0, 0, 0])


def _run(isa: str, inputs: list, attrs: dict, constant_w: bool) -> np.ndarray:
    int8rt.set_max_isa(isa)  # the layer chooses its kernels when it is created
    try:
        return run_single_op("Conv", inputs, attrs, [False, constant_w, True])[0]
    finally:
        int8rt.set_max_isa(None)


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_tap_conv_against_float64(case: tuple) -> None:
    n, c, h, wd, m, k, attrs = case
    g = attrs.get("group", 1)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((m, c // g) + k).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    pads = _pads(case)
    stride, dil = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    y64, mag = conv2d_f64_nchw(x, w, b, stride, pads, dil, g)
    assert y64.shape[2:] == (conv_out(h, pads[0], pads[2], k[0], dil[0], stride[0]),
                             conv_out(wd, pads[1], pads[3], k[1], dil[1], stride[1]))
    terms = c // g * k[0] * k[1]
    bound = (terms + 3) * 2.0 ** -24 * mag
    for isa in TIERS:
        for constant_w in (True, False):  # the tap conv, then the im2col path
            got = _run(isa, [x, w, b], attrs, constant_w)
            assert got.shape == y64.shape
            err = np.abs(got.astype(np.float64) - y64)
            bad = err > bound
            assert not bad.any(), (isa, constant_w, case, np.argwhere(bad)[:3], got[bad][:3], y64[bad][:3])


@pytest.mark.parametrize("isa", TIERS)
def test_tap_conv_epilogue_fused(isa: str) -> None:
    """Bias and Relu / Clip in the tile epilogue of the last slice, and a
    residual after it: bit for bit the unfused Conv then Add then the
    activation (the same tap-conv sums underneath)."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 40, 9, 11)).astype(np.float32)
    w = rng.standard_normal((13, 40, 3, 3)).astype(np.float32)
    b = rng.standard_normal(13).astype(np.float32)
    attrs = {"pads": [1, 1, 1, 1]}
    z = _run(isa, [x, w, b], attrs, True)
    r = rng.standard_normal(z.shape).astype(np.float32)
    int8rt.set_max_isa(isa)
    try:
        for act, extra, ref in [("Relu", {}, np.maximum(z, 0)),
                                ("Clip", {"int8rt_clip_min": -0.5, "int8rt_clip_max": 2.0}, np.clip(z, -0.5, 2.0))]:
            fused = run_single_op("Conv", [x, w, b], {**attrs, "int8rt_activation": act, **extra},
                                  [False, True, True])[0]
            np.testing.assert_array_equal(fused, ref)
        fused = run_single_op("Conv", [x, w, b, r], {**attrs, "int8rt_residual": 3, "int8rt_activation": "Relu"},
                              [False, True, True, False])[0]
        np.testing.assert_array_equal(fused, np.maximum(z + r, 0))
    finally:
        int8rt.set_max_isa(None)
