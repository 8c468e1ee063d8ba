"""The int8 transposed convolution (kernels/conv_transpose_s8.h).

* ``conv_transpose_s8_ref`` (the spec) against a NumPy scatter written here
  from the ONNX definition (every input pixel times the kernel, added into
  the output at ``i*stride - pad + tap*dilation``), on the int32 sums: a
  float32 output with scale 1 and no bias holds them exactly (|sum| < 2^24).
* ``conv_transpose_s8_phases`` (the stride-phase decomposition over the
  conv_s8 kernels) against the reference with ``==`` (float32 bit for bit)
  over shape sweeps: 1-D (H = 1) and 2-D, kernels smaller than, equal to and
  larger than the stride, strides 1..3, symmetric, asymmetric and large
  pads, output_padding, dilations 1..3, groups and depthwise, channels
  around the conv kernels' tile edges, batch 1 and 3, bias and ReLU / clip
  epilogues, under every ISA tier this CPU runs (the phase convs follow the cap).
"""
from __future__ import annotations

import itertools
from typing import Tuple

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from np_kernels import first_mismatch

F32 = np.float32


def np_conv_transpose(x: np.ndarray, w: np.ndarray, stride, pads, out_pad, dilation, groups) -> np.ndarray:
    """int64 sums of ONNX ConvTranspose by scatter: x [N,H,W,C], w [C,K/g,R,S] -> [N,OH,OW,K]."""
    n, h, wd, c = x.shape
    _, kg, r, s = w.shape
    k = kg * groups
    cg = c // groups
    full_h = stride[0] * (h - 1) + out_pad[0] + dilation[0] * (r - 1) + 1
    full_w = stride[1] * (wd - 1) + out_pad[1] + dilation[1] * (s - 1) + 1
    y = np.zeros((n, full_h, full_w, k), np.int64)
    xi, wi = x.astype(np.int64), w.astype(np.int64)
    for g in range(groups):
        xs = xi[..., g * cg:(g + 1) * cg]                       # [N,H,W,cg]
        for i in range(r):
            for j in range(s):
                contrib = xs @ wi[g * cg:(g + 1) * cg, :, i, j]  # [N,H,W,kg]
                oy = i * dilation[0]
                ox = j * dilation[1]
                y[:, oy:oy + stride[0] * (h - 1) + 1:stride[0], ox:ox + stride[1] * (wd - 1) + 1:stride[1],
                  g * kg:(g + 1) * kg] += contrib
    return y[:, pads[0]:full_h - pads[2], pads[1]:full_w - pads[3], :]


Case = Tuple[int, int, int, int, int, int, Tuple[int, int], Tuple[int, int, int, int], Tuple[int, int],
             Tuple[int, int], int, int]


def cases() -> list:
    """(N, C, H, W, K, (R, S), stride, pads, out_pad, dilation, groups)."""
    out = []
    # 2-D: kernel vs stride, pads, output_padding, dilation.
    for (r, s), st, dil in itertools.product([(1, 1), (2, 2), (3, 3), (4, 4), (3, 2), (5, 3)],
                                             [(1, 1), (2, 2), (3, 3), (2, 1)], [(1, 1), (2, 2), (3, 2)]):
        for pads in [(0, 0, 0, 0), (1, 1, 1, 1), (2, 0, 1, 3)]:
            if any(p >= (kk - 1) * d + 1 for p, kk, d in zip(pads, (r, s, r, s), dil + dil)):
                continue
            op = (min(1, max(st[0], dil[0]) - 1), 0)
            out.append((1, 5, 4, 6, 7, (r, s), st, pads, op, dil, 1))
    # Channels around the conv tiles, batch 3, groups and depthwise.
    for c, k, g in [(16, 16, 1), (17, 33, 1), (64, 64, 1), (3, 65, 1), (8, 12, 4), (16, 16, 16), (6, 6, 3)]:
        out.append((3, c, 5, 7, k, (2, 2), (2, 2), (0, 0, 0, 0), (0, 0), (1, 1), g))
        out.append((1, c, 6, 5, k, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), (1, 1), g))
    # 1-D as H = 1 (a 1-D ConvTranspose lifted by the importer), large pads.
    for s, st, pads in [(3, 2, (0, 1, 0, 1)), (5, 3, (0, 2, 0, 0)), (7, 4, (0, 3, 0, 5)), (1, 3, (0, 0, 0, 0))]:
        out.append((2, 9, 1, 11, 10, (1, s), (1, st), pads, (0, 0), (1, 1), 1))
    # The PP-OCR detector's upsampling (k = s = 2, no pads).
    out.append((1, 24, 10, 20, 24, (2, 2), (2, 2), (0, 0, 0, 0), (0, 0), (1, 1), 1))
    return out


def run_case(case, kernel: str, out_dtype: str, rng: np.random.Generator, relu: bool = False):
    n, c, h, w, k, (r, s), st, pads, op, dil, g = case
    x = rng.integers(-128, 128, (n, h, w, c), dtype=np.int8)
    wt = rng.integers(-128, 128, (c, k // g, r, s), dtype=np.int8)
    sums = np_conv_transpose(x, wt, st, pads, op, dil, g)
    # Scales from each channel's sum range, so int8 outputs span the range.
    amax = np.maximum(np.abs(sums).reshape(-1, k).max(0), 1).astype(F32)
    scale = (F32(127.0) / amax).astype(F32) if out_dtype == "int8" else np.ones(k, F32)
    bias = rng.uniform(-20, 20, k).astype(F32) if out_dtype == "int8" else None
    lo = 0.0 if relu else None
    y = K.conv_transpose2d_s8(x, wt, scale, bias, lo=lo, stride=st, pads=pads, out_pad=op, dilation=dil, groups=g,
                              out_dtype=out_dtype, kernel=kernel)
    return y, sums


def tiers() -> list:
    info = int8rt.kernels.isa_info()
    return [isa for isa in ("ref", "avx2", "avxvnni", "avx512vnni", "amx") if info[isa]["cpu"]]


@pytest.mark.parametrize("case", cases())
def test_reference_equals_numpy_scatter(case):
    y, sums = run_case(case, "conv_transpose_s8_ref", "float32", np.random.default_rng(1))
    assert y.shape == sums.shape
    np.testing.assert_array_equal(y.astype(np.int64), sums, err_msg=str(case))


@pytest.mark.parametrize("isa", tiers())
def test_phases_equal_reference(isa):
    int8rt.set_max_isa(isa)
    try:
        for i, case in enumerate(cases()):
            for out_dtype, relu in (("int8", False), ("int8", True), ("float32", False)):
                want, _ = run_case(case, "conv_transpose_s8_ref", out_dtype, np.random.default_rng(i), relu)
                got, _ = run_case(case, "conv_transpose_s8_phases", out_dtype, np.random.default_rng(i), relu)
                bad = first_mismatch(got, want)
                assert bad is None, f"isa={isa} case={case} out={out_dtype} relu={relu}: {bad}"
    finally:
        int8rt.set_max_isa(None)


def test_dispatch_picks_phases_and_refuses_bad_shapes():
    x = np.zeros((1, 2, 2, 4), np.int8)
    w = np.zeros((4, 3, 2, 2), np.int8)
    y = K.conv_transpose2d_s8(x, w, np.ones(3, F32), stride=(2, 2))
    assert y.shape == (1, 4, 4, 3)
    with pytest.raises(int8rt.InvalidArgumentError, match="output padding"):
        K.conv_transpose2d_s8(x, w, np.ones(3, F32), stride=(2, 2), out_pad=(2, 0))
    with pytest.raises(int8rt.InvalidArgumentError, match="empty output"):
        K.conv_transpose2d_s8(x, w, np.ones(3, F32), stride=(1, 1), pads=(2, 0, 2, 0))
