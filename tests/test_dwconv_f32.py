"""The FP32 depthwise-convolution family (kernels/dwconv_f32.h) on every tier
the CPU has, against its reference tier (dwconv_f32_ref, the spec) and
ONNX Runtime.

The reference rounds each product, then adds; the vector tiers fuse each
multiply-add (one rounding per tap) in the same tap order, so they may
differ from it by the contract's bound (kernels/abi/dwconv_f32.h):
(kh * kw + 1) * 2^-23 * (|bias| + sum |w x|), the sum of magnitudes taken
from the reference run on |x|, |w|, |bias|; and where two tiers sum in the
same order with FMAs (the AVX-512 shift walk and the AVX2 channel-blocked
walk) their outputs are compared with ==. Against ONNX Runtime (MLAS sums
in its own order) the tolerance is that of tests/test_fp32_ops.py's Conv
cases. Shapes sweep the 16-column vector edge (widths 1..17, 31..33), the
flat walk of planes under 32 columns (stride 1, same width: 7x7 and 14x14
planes, 3x3 to 7x7 kernels, asymmetric pads, dilation) and the row walk
(strides 1, 2 (permute path) and 3 (gather path), wide planes), kernels
from 1x1 to 7x7 and batch 1 and 2.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from _ort_oracle import run_ort

from int8rt._testing import run_single_op

# The tiers usable under the process's cap ("enabled", not "cpu"): under
# INT8RT_MAX_ISA=avx2 a run asked for "avx512" is capped to the AVX2 kernels,
# and the tests below that pin which walk a tier runs would judge the wrong one.
TIERS = [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["enabled"]]

CASES = [
    # (N, C, H, W, k, attrs)
    (1, 3, 5, 1, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 4, 6, 7, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 3, 9, 16, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 5, 8, 17, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 2, 7, 33, (5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    (1, 3, 11, 31, (7, 7), {"pads": [3, 3, 3, 3]}),
    (1, 2, 10, 32, (3, 3), {"pads": [0, 2, 1, 0], "dilations": [2, 2]}),
    (1, 3, 12, 20, (3, 3), {"pads": [1, 1, 1, 1], "strides": [3, 3]}),
    (1, 2, 9, 13, (3, 5), {"pads": [1, 0, 1, 4], "strides": [1, 2]}),
    (1, 4, 6, 6, (1, 1), {}),
    (2, 3, 14, 40, (3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    (2, 5, 7, 7, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 4, 14, 14, (5, 5), {"pads": [2, 2, 2, 2]}),
    (1, 3, 9, 9, (3, 3), {"pads": [2, 0, 0, 2]}),
    (1, 2, 12, 12, (3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2]}),
    (1, 3, 10, 10, (7, 7), {"pads": [3, 3, 3, 3]}),
    (1, 2, 6, 56, (7, 7), {"pads": [3, 3, 3, 3]}),
    (1, 3, 12, 37, (3, 3), {"pads": [2, 2, 2, 2], "strides": [2, 2], "dilations": [2, 2]}),  # odd tap offsets
    (1, 2, 9, 112, (3, 3), {"pads": [0, 1, 1, 0], "strides": [2, 2]}),  # 7 column blocks
    (2, 33, 5, 8, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # several planes per run
    # C a multiple of 16: the AVX-512 channel-blocked walk (16 channels as
    # lanes) for every geometry but the flat walk's; bands of output rows
    # (tall planes: several bands, rows carried between them), row ends
    # under 8 pixels, widths around 16, strides 1 / 2 / 3, dilation,
    # asymmetric and SAME padding, 5x5, batch 2 (a group per image).
    (1, 16, 9, 33, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 32, 40, 56, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 16, 57, 57, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 48, 17, 17, (5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    (2, 16, 30, 31, (5, 5), {"pads": [2, 2, 2, 2]}),
    (1, 32, 15, 15, (3, 3), {"pads": [0, 2, 1, 0], "dilations": [2, 2], "strides": [2, 2]}),
    (1, 16, 23, 40, (3, 5), {"pads": [1, 0, 1, 4], "strides": [3, 2]}),
    (2, 16, 14, 7, (3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    (1, 16, 100, 35, (7, 7), {"pads": [3, 3, 3, 3]}),
    # C a multiple of 8, not of 16: the AVX2 channel-blocked walk (8
    # channels as lanes) alone; C = 12 and 20: one or two groups of 8 on it,
    # the channels after them on the reference loop, in the same run.
    (1, 8, 9, 33, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 24, 15, 15, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 40, 7, 7, (5, 5), {"pads": [2, 2, 2, 2]}),
    (1, 24, 80, 21, (3, 3), {"pads": [1, 1, 1, 1]}),
    (2, 12, 11, 13, (3, 3), {"pads": [1, 1, 1, 1]}),
    (1, 20, 10, 9, (3, 5), {"pads": [0, 2, 1, 0], "dilations": [2, 1], "strides": [1, 3]}),
    # C = 16k + 8 (MobileNetV3's 72 and 120): on AVX-512 each image's groups
    # of 16 channel-blocked, its last 8 channels on the row walk, batch 2 so
    # that a run's groups start inside the second image too.
    (2, 72, 21, 21, (5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    (2, 40, 9, 35, (3, 3), {"pads": [1, 1, 1, 1]}),
    # The AVX-512 shift walk (3x3 / 5x5, leading pads k / 2, stride 1 or 2,
    # output rows of 16+ columns, 14+ at stride 2): widths around its
    # 16-column blocks and 4-block tiles, heights around its 4- and 8-row
    # tiles, extra or missing trailing pads, a residual-free odd channel count.
    (1, 3, 13, 65, (5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    (2, 5, 9, 17, (3, 3), {"pads": [1, 1, 2, 2]}),
    (1, 7, 6, 81, (3, 3), {"pads": [1, 1, 0, 0]}),
    (1, 2, 11, 28, (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    (1, 3, 2, 16, (5, 5), {"pads": [2, 2, 2, 2]}),
]


def _bound(x: np.ndarray, w: np.ndarray, b: np.ndarray, attrs: dict, k: tuple) -> np.ndarray:
    """The contract's bound: (kh * kw + 1) 2^-23 (|bias| + sum |w x|)."""
    mag = _run("ref", np.abs(x), np.abs(w), np.abs(b), attrs)
    return (k[0] * k[1] + 1) * 2.0**-23 * mag.astype(np.float64) * 1.0001


def _run(isa: str, x: np.ndarray, w: np.ndarray, b: np.ndarray, attrs: dict) -> np.ndarray:
    int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
    try:
        return run_single_op("Conv", [x, w, b], attrs, [False, True, True])[0]
    finally:
        int8rt.set_max_isa(None)


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_depthwise_tiers_against_reference(case: tuple) -> None:
    n, c, h, wd, k, attrs = case
    attrs = dict(attrs, group=c)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((c, 1) + k).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    ref = _run("ref", x, w, b, attrs)
    np.testing.assert_allclose(ref, run_ort("Conv", [x, w, b], attrs, [False, True, True])[0],
                               rtol=1e-5, atol=2e-6 * k[0] * k[1])  # MLAS sums in its own order
    bound = _bound(x, w, b, attrs, k)
    for isa in TIERS:
        got = _run(isa, x, w, b, attrs)
        assert got.shape == ref.shape
        err = np.abs(got.astype(np.float64) - ref)
        assert (err <= bound).all(), (isa, case, np.argwhere(err > bound)[:3], err.max())


# flat walk, row walk, channel-blocked (16 lanes, and 8 lanes on AVX2), channel-blocked and reference in one run
@pytest.mark.parametrize("width,channels", [(19, 6), (40, 6), (40, 32), (13, 8), (21, 12)])
@pytest.mark.parametrize("act", [{"int8rt_activation": "Clip", "int8rt_clip_min": -0.5, "int8rt_clip_max": 1.0},
                                 {"int8rt_activation": "Relu"},
                                 {"int8rt_activation": "LeakyRelu", "int8rt_leaky_alpha": 0.1}],
                         ids=["clip", "relu", "leakyrelu"])
def test_depthwise_fused_residual_and_activation(width: int, channels: int, act: dict) -> None:
    """The residual and activation (the kernel's, in registers, for Relu
    and Clip; after the kernel for LeakyRelu) equal Conv -> Add -> activation
    computed separately, bit for bit (the same sum, then exact steps)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, channels, 9, width)).astype(np.float32)
    w = rng.standard_normal((channels, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(channels).astype(np.float32)
    r = rng.standard_normal((2, channels, 9, width)).astype(np.float32)
    attrs = {"pads": [1, 1, 1, 1], "group": channels}
    y = run_single_op("Conv", [x, w, b], attrs, [False, True, True])[0]
    fused = run_single_op("Conv", [x, w, b, r], dict(attrs, int8rt_residual=3, **act),
                          [False, True, True, False])[0]
    v = y + r
    if act["int8rt_activation"] == "Clip":
        want = np.clip(v, -0.5, 1.0)
    elif act["int8rt_activation"] == "Relu":
        want = np.maximum(v, 0)
    else:
        want = np.where(v >= 0, v, np.float32(0.1) * v)
    np.testing.assert_array_equal(fused, want)


@pytest.mark.parametrize("k", [(3, 3), (5, 5), (7, 7), (3, 5)])
def test_stride1_plane_walk_equals_channel_blocked_bits(k: tuple) -> None:
    """On AVX2, stride-1 layers whose output rows are 32 pixels or wider run
    the plane walk (x86/avx2/dwconv_f32_rows8.cc), narrower ones the
    channel-blocked walk; both add bias + one FMA per tap in row-major order
    (w * 0 for a padded tap), so the outputs of a narrow image equal the same
    outputs at the left of a wider one bit for bit (no right padding, so those
    columns read the same inputs), on every tier; C = 12: 8 channels on the
    channel-blocked walk, 4 on the AVX2 phase walk in the narrow run (also
    bias + one FMA per tap in row-major order; a padded row skipped, not
    w * 0, which changes no nonzero sum)."""
    rng = np.random.default_rng(9)
    c, h = 12, 11
    wide = rng.standard_normal((2, c, h, 70)).astype(np.float32)
    narrow = np.ascontiguousarray(wide[:, :, :, :20])
    w = rng.standard_normal((c, 1) + k).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    attrs = {"pads": [k[0] // 2, k[1] // 2, k[0] // 2, 0], "group": c}
    for isa in TIERS:
        got_n = _run(isa, narrow, w, b, attrs)
        got_w = _run(isa, wide, w, b, attrs)
        ow = got_n.shape[3]
        assert ow < 32 <= got_w.shape[3]
        np.testing.assert_array_equal(got_n, got_w[:, :, :, :ow], err_msg=str((isa, k)))


@pytest.mark.parametrize("size,k", [(28, (5, 5)), (14, (3, 3)), (20, (3, 3)), (7, (5, 5))])
def test_flat_walk_plane_pairs_equal_lone_planes(size: int, k: tuple) -> None:
    """On AVX-512 the flat walk (stride 1, planes under 32 columns) runs two
    planes at a time sharing each tap's masks, and a run's last odd plane
    alone; each output takes the same FMAs in the same order either way, so
    the bits do not depend on the pairing. With C = 3 planes 0 and 1 pair and
    plane 2 goes alone; with the channels rotated, the plane that went alone
    pairs and one that paired goes alone: the outputs match with ==, every
    tier."""
    rng = np.random.default_rng(10)
    c = 3
    x = rng.standard_normal((1, c, size, size)).astype(np.float32)
    w = rng.standard_normal((c, 1) + k).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    attrs = {"pads": [k[0] // 2, k[1] // 2, k[0] // 2, k[1] // 2], "group": c}
    rot = [2, 0, 1]
    for isa in TIERS:
        got = _run(isa, x, w, b, attrs)
        got_rot = _run(isa, np.ascontiguousarray(x[:, rot]), w[rot], b[rot], attrs)
        np.testing.assert_array_equal(got_rot[:, [1, 2, 0]], got, err_msg=str((isa, size, k)))


SHIFT_GEOMS = [((3, 3), 1), ((5, 5), 1), ((3, 3), 2), ((5, 5), 2)]


@pytest.mark.skipif(TIERS != ["avx2", "avx512"], reason="needs both the AVX2 and the AVX-512 tier")
@pytest.mark.parametrize("k,stride", SHIFT_GEOMS, ids=[f"{k[0]}x{k[1]}s{s}" for k, s in SHIFT_GEOMS])
def test_shift_walk_equals_avx2_channel_blocked_bits(k: tuple, stride: int) -> None:
    """The AVX-512 shift walk (x86/avx512/dwconv_f32_shift.cc) and the AVX2
    channel-blocked walk (C = 16: two groups of 8 lanes) both start at the
    bias and add one FMA per tap in row-major order, so their outputs are
    equal bit for bit (random data: no zero results, whose sign the walks
    may leave differently). Widths sweep the 16-column blocks and 4-block
    tiles (shift walk from 16 output columns, 14 at stride 2), heights the
    4- and 8-row tiles and their tails; trailing pads 0, k / 2 and k / 2 + 1;
    batch 2; with and without a fused residual and Clip."""
    rng = np.random.default_rng(11)
    c, p = 16, k[0] // 2
    for h in (1, 2, 5, 9, 13):
        for wd in ((16, 17, 31, 33, 47, 64, 65, 112) if stride == 1 else (28, 31, 33, 63, 64, 97, 112)):
            for end in (0, p, p + 1):
                if h + p + end < k[0]:  # no output row
                    continue
                x = rng.standard_normal((2, c, h, wd)).astype(np.float32)
                w = rng.standard_normal((c, 1) + k).astype(np.float32)
                b = rng.standard_normal(c).astype(np.float32)
                attrs = {"pads": [p, p, end, end], "strides": [stride, stride], "group": c}
                got = {isa: _run(isa, x, w, b, attrs) for isa in TIERS}
                np.testing.assert_array_equal(got["avx512"], got["avx2"], err_msg=str((k, stride, h, wd, end)))
    x = rng.standard_normal((2, c, 9, 40)).astype(np.float32)
    w = rng.standard_normal((c, 1) + k).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    attrs = {"pads": [p] * 4, "strides": [stride, stride], "group": c}
    r = rng.standard_normal(_run("ref", x, w, b, attrs).shape).astype(np.float32)
    fused = dict(attrs, int8rt_residual=3, int8rt_activation="Clip", int8rt_clip_min=-0.5, int8rt_clip_max=1.0)
    outs = []
    for isa in TIERS:
        int8rt.set_max_isa(isa)
        try:
            outs.append(run_single_op("Conv", [x, w, b, r], fused, [False, True, True, False])[0])
        finally:
            int8rt.set_max_isa(None)
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(outs[1], np.clip(_run("avx512", x, w, b, attrs) + r, -0.5, 1.0))
