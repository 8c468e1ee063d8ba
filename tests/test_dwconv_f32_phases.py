"""Single-channel long-filter convolutions (C == M == group == 1: Basic
Pitch's 256-tap stride-2 CQT filters) on the FP32 depthwise family, and the
AVX2 tier's phase walk (x86/avx2/dwconv_f32_phases8.cc) that runs them.

Bound against float64: the reference tier (multiply, then add) and the
vector tiers (one FMA per tap) both sum bias + taps products in one order, an
inner product of n = taps + 1 terms, so each differs from the exact sum by at
most gamma_n (|bias| + sum |w x|), gamma_n = n u / (1 - n u), u = 2^-24
(Higham, Accuracy and Stability of Numerical Algorithms, 3.1); with
n <= 301 the factor 1 / (1 - n u) is under 1.0001. The float64 oracle's own
error (n 2^-53 of the same sum) is far inside that.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt._testing import run_single_op

TIERS = ["ref"] + [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["enabled"]]


def _run(isa: str, inputs: list, attrs: dict) -> np.ndarray:
    int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
    try:
        return run_single_op("Conv", inputs, attrs, [False, True, True, False][:len(inputs)])[0]
    finally:
        int8rt.set_max_isa(None)


def _oracle_1d(x: np.ndarray, w: np.ndarray, b: float, s: int, d: int, pb: int, pe: int) -> tuple:
    """Exact (float64) 1-D conv of rows x [N, L] with taps w, and the
    magnitude sum |b| + sum |w x| per output."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (pb, pe)))
    k = w.size
    ow = (xp.shape[1] - d * (k - 1) - 1) // s + 1
    idx = np.arange(ow)[:, None] * s + np.arange(k)[None, :] * d
    taps = xp[:, idx]  # [N, ow, k]
    w64 = w.astype(np.float64).ravel()
    return b + taps @ w64, abs(b) + np.abs(taps) @ np.abs(w64)


def _check(got: np.ndarray, want: np.ndarray, mag: np.ndarray, taps: int, what: object) -> None:
    assert got.shape == want.shape, (what, got.shape, want.shape)
    bound = (taps + 1) * 2.0**-24 * mag * 1.0001
    err = np.abs(got.astype(np.float64) - want)
    bad = np.argwhere(err > bound)
    assert bad.size == 0, (what, bad[:3], err.max(), bound.ravel()[0])


# (taps, stride, dilation, pads, length): taps 1..300 around the 8-lane and
# 64-output tiles, strides 1..4, dilation, asymmetric pads, lengths not a
# multiple of 8 (rows from one partial vector to several 64-output tiles)
SWEEP = [(k, s, d, p, n)
         for k in (1, 2, 7, 8, 9, 31, 64, 255, 256, 257, 300)
         for s in (1, 2, 3, 4)
         for d, p, n in ((1, (0, 0), 617), (2, (3, 1), 540), (1, (k // 2, k - 1 - k // 2), 1001))
         if n + sum(p) - d * (k - 1) - 1 >= 0]  # at least one output


@pytest.mark.parametrize("k,s,d,pads,n", SWEEP, ids=[f"k{k}s{s}d{d}p{p[0]}_{p[1]}n{n}" for k, s, d, p, n in SWEEP])
def test_single_channel_1d_against_float64(k: int, s: int, d: int, pads: tuple, n: int) -> None:
    """ONNX 1-D Conv, X [N, 1, L], W [1, 1, k], every tier within gamma_n of
    the exact sum; batch 2."""
    rng = np.random.default_rng(k * 100 + s * 10 + d)
    x = rng.standard_normal((2, 1, n)).astype(np.float32)
    w = rng.standard_normal((1, 1, k)).astype(np.float32)
    b = rng.standard_normal(1).astype(np.float32)
    want, mag = _oracle_1d(x[:, 0], w, float(b[0]), s, d, *pads)
    attrs = {"strides": [s], "dilations": [d], "pads": list(pads)}
    for isa in TIERS:
        got = _run(isa, [x, w, b], attrs)
        _check(got[:, 0], want, mag, k, (isa, k, s, d, pads, n))


@pytest.mark.parametrize("length,batch", [(44098, 1), (5734, 3), (596, 1), (263, 2)])
def test_basic_pitch_filter_as_2d(length: int, batch: int) -> None:
    """Basic Pitch's form: a 2-D Conv, X [N, 1, 1, L], W [1, 1, 1, 256],
    strides [1, 2], no pads, at the lengths of its octaves (and a short,
    odd one); every tier within gamma_257 of the exact sum."""
    rng = np.random.default_rng(length)
    x = rng.standard_normal((batch, 1, 1, length)).astype(np.float32)
    w = (rng.standard_normal((1, 1, 1, 256)) / 16).astype(np.float32)
    b = np.zeros(1, np.float32)
    want, mag = _oracle_1d(x[:, 0, 0], w, 0.0, 2, 1, 0, 0)
    for isa in TIERS:
        got = _run(isa, [x, w, b], {"strides": [1, 2]})
        _check(got[:, 0, 0], want, mag, 256, (isa, length, batch))


@pytest.mark.parametrize("k,s,d", [((3, 9), (2, 3), (1, 1)), ((5, 1), (1, 2), (2, 1)), ((1, 40), (1, 4), (1, 2)),
                                   ((7, 7), (3, 2), (1, 2))])
def test_single_channel_2d_against_float64(k: tuple, s: tuple, d: tuple) -> None:
    """2-D single-channel kernels (rows of taps, rows outside the image
    skipped, padded columns adding w * 0): within gamma_n of the exact sum."""
    rng = np.random.default_rng(sum(k) + 7 * sum(s))
    n, h, wd = 2, 13, 77
    pads = [k[0] // 2, k[1] // 2, 1, k[1] - 1 - k[1] // 2]
    x = rng.standard_normal((n, 1, h, wd)).astype(np.float32)
    w = rng.standard_normal((1, 1) + k).astype(np.float32)
    b = rng.standard_normal(1).astype(np.float32)
    xp = np.pad(x[:, 0].astype(np.float64), ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (xp.shape[1] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (xp.shape[2] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    want = np.full((n, oh, ow), float(b[0]))
    mag = np.full((n, oh, ow), abs(float(b[0])))
    for ky in range(k[0]):
        for kx in range(k[1]):
            win = xp[:, ky * d[0]:ky * d[0] + (oh - 1) * s[0] + 1:s[0], kx * d[1]:kx * d[1] + (ow - 1) * s[1] + 1:s[1]]
            want += float(w[0, 0, ky, kx]) * win
            mag += abs(float(w[0, 0, ky, kx])) * np.abs(win)
    attrs = {"strides": list(s), "dilations": list(d), "pads": pads}
    for isa in TIERS:
        got = _run(isa, [x, w, b], attrs)
        _check(got[:, 0], want, mag, k[0] * k[1], (isa, k, s, d))


@pytest.mark.parametrize("k,s", [(256, 2), (37, 3), (5, 1)])
def test_single_channel_takes_the_depthwise_kernel(k: int, s: int) -> None:
    """C == M == group == 1 runs the depthwise kernel (engine/ops/conv_f32.cc):
    the same bits as the same channel inside a depthwise conv of 3 channels
    (each of its planes on the same walk); the SGEMM path would sum in
    another order."""
    rng = np.random.default_rng(k + s)
    x = rng.standard_normal((2, 3, 1, 3001)).astype(np.float32)
    w = rng.standard_normal((3, 1, 1, k)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    attrs = {"strides": [1, s], "pads": [0, k // 2, 0, 0]}
    for isa in TIERS:
        dw = _run(isa, [x, w, b], dict(attrs, group=3))
        for c in range(3):
            one = _run(isa, [np.ascontiguousarray(x[:, c:c + 1]), w[c:c + 1], b[c:c + 1]], attrs)
            np.testing.assert_array_equal(one, dw[:, c:c + 1], err_msg=str((isa, k, s, c)))


def test_single_channel_fused_residual_and_clip() -> None:
    """The residual and Clip on a single-channel conv (in the kernel, after
    the sum) equal Conv -> Add -> Clip computed separately, bit for bit."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 1, 1237)).astype(np.float32)
    w = rng.standard_normal((1, 1, 1, 65)).astype(np.float32)
    b = rng.standard_normal(1).astype(np.float32)
    attrs = {"strides": [1, 2], "pads": [0, 32, 0, 32]}
    for isa in TIERS:
        y = _run(isa, [x, w, b], attrs)
        r = rng.standard_normal(y.shape).astype(np.float32)
        fused = _run(isa, [x, w, b, r], dict(attrs, int8rt_residual=3, int8rt_activation="Clip",
                                                int8rt_clip_min=-0.5, int8rt_clip_max=1.0))
        np.testing.assert_array_equal(fused, np.clip(y + r, -0.5, 1.0), err_msg=isa)
