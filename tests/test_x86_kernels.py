"""Every x86 candidate kernel against the reference kernel, with ``==``.

For each conv / GEMM candidate compiled in and runnable on this CPU (AVX2
kernels run on AVX-512 machines too: they are forced by name), outputs must
equal ``conv_s8_ref`` / ``gemm_s8_ref`` exactly: int8 outputs value for
value, float32 outputs bit for bit (so -0.0 against +0.0 fails too). Shapes
sweep every tile edge of the kernels (channels 1..17, K around 16/32/48/64,
pixel counts around multiples of the 6-row tile), 1x1..7x7 filters, strides
1 and 2, symmetric and asymmetric pads, dilation 2, groups, depthwise, the
C = 3 stem (merged filter rows), batch 1 and 3; epilogues with bias or none,
ReLU / ReLU6-like / clip bounds, residual, float output; inputs of any sign
and inputs in [0, 127] (which AVX2 convs run through their u8 microkernel,
or, against quantizer-like bell-shaped weights, its pair-sum twin; and,
with the engine's promise that no input is negative, ConvShape::nonneg_input,
the AVX512-VNNI conv through its unshifted tile);
weights in [-127, 127] (which AVX2 packs for its sign-trick microkernel) and
weights holding -128 (which it packs for its int16 one);
and all -128 / all 127 inputs and weights (the largest accumulators; 127
inputs against -128 weights are the u8 microkernel's largest pair sums, -128
inputs against -127 weights the sign-trick one's). Output scales come from
each channel's accumulator range so results span int8 instead of saturating.
The C++ suite (tests/cpp/test_x86_kernels.cc) adds guard bytes.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import zlib
from typing import List, Sequence, Tuple

import numpy as np
import pytest

import int8rt
from int8rt import NotSupportedError
from int8rt._testing import kernels as K
from np_kernels import first_mismatch

F32 = np.float32


def runnable(candidates) -> List[str]:
    """Names of the non-reference candidates usable now: the CPU runs their
    ISA and it is not above the cap (INT8RT_MAX_ISA runs test one tier)."""
    info = int8rt.kernels.isa_info()
    return [name for name, isa, _ in candidates if isa != "ref" and info[isa]["enabled"]]


CONV_KERNELS = runnable(K.conv_candidates(4, 4, 4, 4, 1, 1))
GEMM_KERNELS = runnable(K.gemm_candidates(4, 4))

pytestmark = pytest.mark.skipif(not CONV_KERNELS, reason="no x86 kernel runs on this CPU")


def check(got: np.ndarray, want: np.ndarray, what: str) -> None:
    msg = first_mismatch(got, want)
    assert msg is None, f"{what}: {msg}"


# (C, H, W, K, R, S, stride, pads (t, l, b, r), dilation, groups)
Case = Tuple[int, int, int, int, int, int, Tuple[int, int], Tuple[int, int, int, int],
             Tuple[int, int], int]

EDGE_K = [1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 63, 64, 65, 79, 80,
          127, 128, 129]


def conv_cases() -> List[Case]:
    one, no_pad = (1, 1), (0, 0, 0, 0)
    cases: List[Case] = []
    # 1x1: channels 1..17 and around 32/64, K across the tile edges; 5x7 pixels
    # (35 = 5*6 + 5 rows: a partial 6-row tile).
    cases += [(c, 5, 7, EDGE_K[c % len(EDGE_K)], 1, 1, one, no_pad, one, 1) for c in range(1, 18)]
    cases += [(c, 5, 7, 9, 1, 1, one, no_pad, one, 1) for c in (31, 32, 33, 63, 64, 65, 127)]
    cases += [(20, 3, 4, k, 1, 1, one, no_pad, one, 1) for k in EDGE_K]
    # 1x1 with stride 2 and with padding (taps pointing at the zero row).
    cases += [(12, 9, 8, 18, 1, 1, (2, 2), no_pad, one, 1), (5, 4, 4, 33, 1, 1, one, (1, 0, 0, 1),
                                                             one, 1)]
    # 3x3 pad 1, channels 1..17 (merged rows below 16, pairs / quads tails).
    cases += [(c, 6, 5, EDGE_K[(3 * c) % len(EDGE_K)], 3, 3, one, (1, 1, 1, 1), one, 1)
              for c in range(1, 18)]
    # Filter sizes x strides, pad k//2, few and many channels.
    cases += [(c, 9, 9, 20, k, k, (s, s), (k // 2,) * 4, one, 1)
              for c, k, s in itertools.product((3, 16, 20), (1, 3, 5, 7), (1, 2))]
    cases += [
        (3, 23, 23, 64, 7, 7, (2, 2), (3, 3, 3, 3), one, 1),     # ResNet stem, reduced
        (5, 9, 8, 7, 3, 3, (2, 1), (0, 2, 1, 0), one, 1),          # asymmetric pads, strides
        (6, 9, 9, 4, 3, 2, (1, 2), (2, 0, 0, 1), (2, 2), 1),       # dilation 2, non-square
        (3, 8, 9, 5, 3, 3, one, (1, 1, 1, 1), (2, 1), 1),          # merged rows, dilation_h 2
        # Merged taps (R*S*C <= 32: each pixel's window gathered into one row,
        # conv_igemm_taps.h): exactly 32; 33 (merged rows) with a window wider
        # than the input; 1 channel; pads of 2 around a 3-wide input (whole
        # filter rows in the padding); stride 3 with a left pad past the filter.
        (2, 9, 10, 16, 4, 4, one, (1, 2, 2, 1), one, 1),
        (3, 7, 8, 16, 1, 11, one, (0, 5, 0, 5), one, 1),
        (1, 5, 4, 9, 3, 3, (2, 2), (1, 1, 1, 1), one, 1),
        (3, 4, 3, 18, 3, 3, one, (2, 2, 2, 2), one, 1),
        (3, 11, 13, 8, 2, 3, (3, 3), (2, 4, 1, 3), one, 1),
        (2, 7, 11, 17, 1, 5, (1, 3), (0, 4, 0, 1), one, 1),        # merged rows, wide pads
        (20, 9, 9, 17, 3, 3, one, (1, 1, 1, 1), (2, 2), 1),        # dilation 2, many channels
        (12, 6, 6, 6, 3, 3, one, (1, 1, 1, 1), one, 3),            # groups
        (20, 5, 6, 68, 3, 3, one, (1, 1, 1, 1), one, 4),           # groups, Kg = 17
        (34, 5, 5, 40, 1, 1, one, no_pad, one, 2),                 # groups 1x1, Cg = 17
        (8, 7, 6, 16, 3, 3, (2, 2), (1, 0, 1, 2), one, 8),         # depthwise multiplier 2
        (31, 5, 5, 37, 1, 1, one, no_pad, one, 1),                 # primes
        (64, 4, 4, 13, 3, 3, one, (1, 1, 1, 1), one, 1),           # long reduction
        (256, 3, 3, 65, 3, 3, one, (1, 1, 1, 1), one, 1),          # 2304-long reduction
        # Runs of channel tiles sharing one row fill (conv_igemm.cc,
        # kRunWeightBytes), split unevenly with a partial last tile: 6x16c4
        # runs of 3 + 2 tiles; 312 channels: 6x16c4 7 + 7 + 6, 6x64c4 2 + 2 + 1;
        # groups 2: 5 + 5 and 2 + 1 per group.
        (128, 5, 4, 72, 3, 3, one, (1, 1, 1, 1), one, 1),
        (48, 5, 6, 312, 3, 3, one, (1, 1, 1, 1), one, 1),
        (96, 6, 5, 312, 3, 3, (2, 1), (1, 1, 1, 1), one, 2),
        # Pointwise tiles whose input is prefetched with their output
        # (conv_igemm.cc, kMaxInputPrefetchBytes: 6 rows of up to 512 bytes),
        # the last tiles with none ahead; and 513 channels, not prefetched.
        (256, 5, 7, 130, 1, 1, one, no_pad, one, 1),
        (512, 4, 5, 65, 1, 1, one, no_pad, one, 1),
        (513, 4, 5, 64, 1, 1, one, no_pad, one, 1),
    ]
    # Pointwise strips (AVX512-VNNI's igemm_strip_3x64c4 under the promise:
    # full 64-channel tiles, kc a multiple of 4 in [16, 512], 3-row tiles,
    # the rest by the 6x64 tile): kc 16 (the least), 12 (below it), 20, 516
    # (above 512) and 512; pixels 1, 2, 3, 35 (33 + 2), 63; channel tiles
    # 1, 2 + a partial one, 3; 169 pixels: two work chunks of 96 and 73; groups 2
    # of 64 output channels each (the strip at each group's input offset).
    cases += [(16, 5, 7, 64, 1, 1, one, no_pad, one, 1), (12, 5, 7, 64, 1, 1, one, no_pad, one, 1),
              (20, 4, 4, 128, 1, 1, one, no_pad, one, 1), (516, 3, 3, 64, 1, 1, one, no_pad, one, 1),
              (512, 3, 5, 64, 1, 1, one, no_pad, one, 1), (64, 1, 1, 64, 1, 1, one, no_pad, one, 1),
              (64, 1, 2, 64, 1, 1, one, no_pad, one, 1), (64, 1, 3, 65, 1, 1, one, no_pad, one, 1),
              (64, 7, 9, 192, 1, 1, one, no_pad, one, 1), (68, 13, 13, 136, 1, 1, one, no_pad, one, 1),
              (256, 5, 7, 64, 1, 1, one, no_pad, one, 1), (256, 2, 3, 128, 1, 1, one, no_pad, one, 2)]
    # Row taps (AVX512-VNNI: in a pixel tile none of whose windows reaches a
    # padding column, the S taps of a filter row as one tap of S*C values,
    # conv_igemm.cc fill_tile_row_taps; the other tiles one tap per filter
    # pixel; rows with fewer clear columns than a tile, 7 x 7 among them,
    # tap by tap throughout): inputs 1 and 2 wide, a 1x3 filter, 5x5 over a
    # narrower input, pads of 3 (windows wholly in the padding columns),
    # stride 2 with asymmetric pads, dilation_h 2 (padding rows inside
    # row-tap tiles), a 3072-value tap, runs of 4 channel tiles sharing one
    # fill; C = 18 (not whole groups of 4: one tap per pixel).
    cases += [(16, 1, 1, 64, 3, 3, one, (1, 1, 1, 1), one, 1),
              (20, 3, 2, 65, 3, 3, one, (1, 1, 1, 1), one, 1),
              (64, 7, 9, 70, 1, 3, one, (0, 1, 0, 1), one, 1),
              (32, 6, 4, 17, 5, 5, one, (2, 2, 2, 2), one, 1),
              (16, 4, 3, 20, 3, 3, one, (3, 3, 3, 3), one, 1),
              (28, 9, 27, 40, 3, 3, (2, 2), (1, 0, 1, 2), one, 1),
              (36, 8, 8, 48, 3, 3, one, (2, 1, 2, 1), (2, 1), 1),
              (1024, 3, 9, 20, 3, 3, one, (1, 1, 1, 1), one, 1),
              (128, 7, 9, 256, 3, 3, one, (1, 1, 1, 1), one, 1),
              (18, 5, 6, 33, 3, 3, one, (1, 1, 1, 1), one, 1),
              (16, 6, 10, 24, 3, 3, one, no_pad, one, 1)]  # no padding: tiles across output rows
    # Depthwise: channels around 8/16/32/64 blocks, 3x3 stride 1 and 2, 5x5, pads, dilation.
    cases += [(c, 8, 7, c, 3, 3, (s, s), (1, 1, 1, 1), one, c)
              for c, s in itertools.product((1, 3, 8, 15, 16, 17, 31, 32, 33, 64, 65, 144), (1, 2))]
    # Rows wide enough for several 4-pixel interior tiles at stride 1 and 2
    # (W = 7 has none at stride 2), tails of 1..3 blocks and a partial block.
    cases += [(c, 5, 21, c, 3, 3, (s, s), pad, one, c)
              for c in (17, 64, 144) for s in (1, 2) for pad in ((1, 1, 1, 1), (0, 0, 1, 1))]
    cases += [(24, 9, 9, 24, 5, 5, (2, 2), (2, 1, 2, 0), one, 24),
              (17, 7, 7, 17, 3, 3, one, (2, 2, 2, 2), (2, 2), 17),
              (40, 6, 6, 40, 1, 1, one, no_pad, one, 40),
              (9, 5, 6, 9, 3, 2, (1, 2), (0, 0, 2, 1), one, 9)]
    # Rows of 4-7 pixels whose windows reach past both ends (the 4-pixel edge
    # tiles with masked columns; the last tile overlaps the one before it):
    # EfficientNet's 5x5 at 7x7, at stride 2, 3x3 at 4 and 5 wide, column
    # dilation 2.
    cases += [(33, 7, 7, 33, 5, 5, one, (2, 2, 2, 2), one, 33),
              (64, 8, 13, 64, 5, 5, (2, 2), (2, 2, 2, 2), one, 64),
              (17, 4, 4, 17, 3, 3, one, (1, 1, 1, 1), one, 17),
              (20, 6, 5, 20, 5, 5, one, (2, 1, 2, 3), one, 20),
              (24, 6, 6, 24, 3, 3, (1, 2), (1, 2, 1, 2), (1, 2), 24)]
    # Filters 4 or more wide (AVX512-VNNI's pair-row kernel, 16-channel
    # blocks): groups of 4 blocks with tails of 1..3 and partial blocks,
    # wide rows (4-column tiles and single columns), even widths, stride 3
    # with column dilation 2.
    cases += [(c, 6, 21, c, 5, 5, (s, s), (2, 2, 2, 2), one, c)
              for c in (1, 15, 47, 80, 113) for s in (1, 2)]
    cases += [(48, 7, 11, 48, 3, 4, one, (1, 1, 1, 2), one, 48),
              (20, 9, 12, 20, 5, 7, (1, 3), (2, 3, 2, 3), (1, 2), 20),
              (70, 5, 9, 70, 6, 6, one, (0, 3, 3, 1), one, 70)]
    return cases


def case_id(case: Case) -> str:
    c, h, w, k, r, s, st, p, d, g = case
    return f"C{c}H{h}W{w}K{k}_{r}x{s}_s{st[0]}{st[1]}_p{''.join(map(str, p))}_d{d[0]}{d[1]}_g{g}"


def rand_s8(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    return rng.integers(-128, 128, size=tuple(shape), dtype=np.int8)


def rand_weights(rng: np.random.Generator, shape: Sequence[int], with_min: bool) -> np.ndarray:
    """Weights in [-127, 127] (int8rt's weight quantizer's range), or with
    -128 as well and at least one weight -128 (pre-quantized QDQ weights)."""
    w = rng.integers(-128 if with_min else -127, 128, size=tuple(shape), dtype=np.int8)
    if with_min:
        w.reshape(-1)[rng.integers(w.size)] = -128
    return w


def bell_weights(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Weights as a per-channel quantizer makes them from normal ones: each
    output channel's largest magnitude 127, most values small (AVX2 convs
    run their pair-sum u8 tile for them, x86/avx2/igemm_6x16c4u2.cc)."""
    w = rng.standard_normal(tuple(shape))
    amax = np.abs(w.reshape(shape[0], -1)).max(axis=1).reshape((-1,) + (1,) * (len(shape) - 1))
    return np.rint(w / amax * 127).astype(np.int8)


def conv_ref(x, w, scale, bias=None, *, case: Case, **kw) -> np.ndarray:
    c, h, wd, k, r, s, stride, pads, dil, groups = case
    return K.conv2d_s8(x, w, scale, bias, stride=stride, pads=pads, dilation=dil, groups=groups,
                       kernel="conv_s8_ref", **kw)


def spanning_epilogue(rng: np.random.Generator, acc: np.ndarray):
    """Per-channel scale/bias mapping each channel's accumulator range onto
    about [-140, 140]: most outputs inside int8, a few saturating."""
    k = acc.shape[-1]
    amax = np.abs(acc.reshape(-1, k)).max(axis=0).astype(np.float64) + 1.0
    scale = (rng.uniform(0.9, 1.1, k) * 127.0 / amax).astype(F32)
    bias = rng.uniform(-12, 12, k).astype(F32)
    return scale, bias


def kernels_accepting(case: Case, out: str) -> List[str]:
    c, h, w, k, r, s, stride, pads, dil, groups = case
    rows = K.conv_candidates(c, h, w, k, r, s, stride, pads, dil, groups, out)
    return [name for name, isa, reason in rows if name in CONV_KERNELS and reason == ""]


def gemm_kernels_accepting(n: int, k: int, out: str = "int8") -> List[str]:
    """GEMM_KERNELS that take an [N, K] weight (the AMX kernel declines
    shapes whose tiles would be mostly padding: those run on VNNI)."""
    return [name for name, _, reason in K.gemm_candidates(n, k, out) if name in GEMM_KERNELS and reason == ""]


# Epilogue variants: (out_dtype, lo, hi, with bias, with residual).
EPILOGUES = [
    ("int8", None, None, True, False),
    ("int8", 0.0, 127.0, True, True),     # ReLU with a residual
    ("int8", 0.0, 51.0, False, False),    # ReLU6-like upper bound, no bias
    ("int8", -50.5, 77.25, True, False),  # clip
    ("float32", None, None, True, True),
    ("float32", 0.0, 6.5, True, False),
]


def run_conv_case(case: Case, seed: int) -> None:
    c, h, w, k, r, s, stride, pads, dil, groups = case
    rng = np.random.default_rng(seed)
    w127, w128 = (rand_weights(rng, (k, c // groups, r, s), m) for m in (False, True))
    # Batch 2 holds no negative value (a ReLU output): AVX2 runs it through
    # its u8 microkernel (x86/conv_igemm_nonneg.cc), the others as any input,
    # with weights in [-127, 127] through its sign-trick microkernel (batches
    # 1 and 2 share its packed weights), with a -128 through its int16 one;
    # the last batch, against bell-shaped weights, through its pair-sum u8
    # microkernel where few of them break its rule (most of these shapes).
    # Those two run again with the engine's promise that no input is
    # negative (ConvShape::nonneg_input): AVX512-VNNI's unshifted tile, AVX2's
    # u8 ones packed alone. Inputs in [-2, 127] (a hard-swish's output) take
    # AVX2's shifted u8 tile, which every weight allows for inputs >= -2
    # (avx2/igemm_6x16c4a.cc; tests/test_avx2_shifted_conv.py).
    wbell = bell_weights(rng, (k, c // groups, r, s))
    for batch, x_lo, wt in ((1, -128, w127), (3, -128, w128), (2, 0, w127), (2, 0, wbell), (2, -2, w127)):
        x = rng.integers(x_lo, 128, size=(batch, h, w, c), dtype=np.int8)
        x.reshape(-1)[0] = x_lo
        acc = conv_ref(x, wt, np.ones(k, F32), case=case, out_dtype="float32")
        scale, bias = spanning_epilogue(rng, acc)
        residual = rand_s8(rng, acc.shape)
        for out, lo, hi, with_bias, with_res in EPILOGUES:
            kw = dict(lo=lo, hi=hi, out_dtype=out)
            if with_res:
                kw.update(residual=residual, residual_scale=0.731)
            b = bias if with_bias else None
            want = conv_ref(x, wt, scale, b, case=case, **kw)
            names = kernels_accepting(case, out)
            assert names, f"no x86 kernel accepts {case_id(case)}"
            for name, promise in itertools.product(names, (False, True) if x_lo == 0 else (False,)):
                got = K.conv2d_s8(x, wt, scale, b, stride=stride, pads=pads, dilation=dil,
                                  groups=groups, kernel=name, nonneg_input=promise, **kw)
                check(got, want, f"{name} {case_id(case)} batch={batch} out={out} lo={lo} "
                                 f"hi={hi} bias={with_bias} residual={with_res} nonneg_input={promise}")


@pytest.mark.parametrize("case", conv_cases(), ids=case_id)
def test_conv_kernels_equal_reference(case: Case) -> None:
    run_conv_case(case, seed=zlib.crc32(case_id(case).encode()))


@pytest.mark.parametrize("value", [-128, 127])
@pytest.mark.parametrize("case", [
    (3, 9, 9, 64, 7, 7, (2, 2), (3, 3, 3, 3), (1, 1), 1),
    (64, 5, 5, 33, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1024, 2, 3, 17, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (33, 6, 6, 33, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 33),
    (144, 4, 14, 144, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 144),
    (64, 4, 14, 128, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),      # row-tap tiles beside tap-by-tap ones
    (16, 3, 2, 20, 3, 3, (2, 2), (3, 3, 3, 3), (1, 1), 1),
    (80, 4, 17, 80, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 80),
], ids=case_id)
def test_conv_extreme_values(case: Case, value: int) -> None:
    """All inputs and weights at -128 (or 127): the largest accumulators,
    and for -128 the case where x + 128 = 0 in the u8 shift; weights at -127:
    the sign-trick microkernel's largest pair sums (|x| = 128 times 127)."""
    c, h, w, k, r, s, stride, pads, dil, groups = case
    x = np.full((2, h, w, c), value, np.int8)
    for wv in (-128, -127, 127):
        wt = np.full((k, c // groups, r, s), wv, np.int8)
        acc = conv_ref(x, wt, np.ones(k, F32), case=case, out_dtype="float32")
        scale = (127.0 / (np.abs(acc).max() + 1.0) * np.linspace(0.5, 1.5, k)).astype(F32)
        for out in ("int8", "float32"):
            want = conv_ref(x, wt, scale, None, case=case, out_dtype=out)
            for name in kernels_accepting(case, out):
                got = K.conv2d_s8(x, wt, scale, None, stride=stride, pads=pads, dilation=dil,
                                  groups=groups, out_dtype=out, kernel=name)
                check(got, want, f"{name} {case_id(case)} x={value} w={wv} out={out}")


@pytest.mark.parametrize("value", [0, 127])
@pytest.mark.parametrize("case", [
    (64, 5, 7, 128, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (512, 2, 5, 64, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (16, 7, 7, 65, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
], ids=case_id)
def test_promised_pointwise_extreme_values(case: Case, value: int) -> None:
    """Promised non-negative inputs at 0 or 127 against weights all -128,
    -127 or 127 and residuals all -128 or 127, pointwise (the AVX512-VNNI
    strip tile and the 6x64 tile for its remainder): the largest accumulators
    of the u8 path, outputs at both clamps, the residual term at both ends."""
    c, h, w, k, r, s, stride, pads, dil, groups = case
    x = np.full((3, h, w, c), value, np.int8)
    for wv, rv in itertools.product((-128, -127, 127), (-128, 127)):
        wt = np.full((k, c, r, s), wv, np.int8)
        acc = conv_ref(x, wt, np.ones(k, F32), case=case, out_dtype="float32")
        scale = (127.0 / (np.abs(acc).max() + 1.0) * np.linspace(0.5, 1.5, k)).astype(F32)
        bias = np.linspace(-3.0, 3.0, k).astype(F32)
        res = np.full(acc.shape, rv, np.int8)
        for lo, hi, kw in ((None, None, {}), (0.0, 127.0, dict(residual=res, residual_scale=0.61))):
            want = conv_ref(x, wt, scale, bias, case=case, lo=lo, hi=hi, **kw)
            for name in kernels_accepting(case, "int8"):
                got = K.conv2d_s8(x, wt, scale, bias, kernel=name, nonneg_input=True, lo=lo, hi=hi, **kw)
                check(got, want, f"{name} {case_id(case)} x={value} w={wv} residual={rv if kw else None}")


@pytest.mark.parametrize("case, batch", [
    ((64, 11, 13, 192, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1), 4),  # pointwise strips over several chunks
    ((32, 20, 20, 80, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1), 2),
    # Merged taps over 8 x 300 output rows of 5 pixels: the window gather
    # (conv_igemm_taps.cc) splits into several chunks of rows, whose pixels'
    # fixed-size moves must not run into the next chunk's bytes.
    ((1, 300, 5, 8, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1), 8),
], ids=lambda v: case_id(v) if isinstance(v, tuple) else f"batch{v}")
def test_results_do_not_depend_on_thread_count(case: Case, batch: int) -> None:
    rng = np.random.default_rng(7)
    c, h, w, k, r, s_, stride, pads, dil, groups = case
    x, wt = rand_s8(rng, (batch, h, w, c)), rand_s8(rng, (k, c, r, s_))
    scale = np.full(k, 1e-3, F32)
    want = conv_ref(x, wt, scale, case=case)
    # And a ReLU output under the promise (the unsigned tiles, pointwise strips).
    xp = np.maximum(x, 0)
    want_p = conv_ref(xp, wt, scale, case=case)
    saved = int8rt.get_num_threads()
    try:
        for threads in (1, 2, 3):
            int8rt.set_num_threads(threads)
            for name in kernels_accepting(case, "int8"):
                got = K.conv2d_s8(x, wt, scale, stride=stride, pads=pads, kernel=name)
                check(got, want, f"{name} {case_id(case)} threads={threads}")
                got = K.conv2d_s8(xp, wt, scale, stride=stride, pads=pads, kernel=name, nonneg_input=True)
                check(got, want_p, f"{name} {case_id(case)} threads={threads} nonneg_input")
    finally:
        int8rt.set_num_threads(saved)


@pytest.mark.parametrize("case, batch", [
    ((24, 56, 56, 144, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1), 2),  # MobileNetV2 expand: 3 channel tiles
    ((32, 30, 30, 72, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1), 3),   # 3x3, a partial last tile
    ((3, 128, 128, 24, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 1), 4),  # merged-row stem, stride 2
    ((144, 29, 29, 144, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 144), 3),  # depthwise: the dw driver's prefetch
    ((96, 29, 29, 96, 5, 5, (1, 1), (2, 2, 2, 2), (1, 1), 96), 3),  # depthwise 5x5: pair rows
], ids=lambda v: case_id(v) if isinstance(v, tuple) else f"batch{v}")
def test_conv_panels_equal_reference(case: Case, batch: int) -> None:
    """Layers whose input and output exceed one cache panel (conv_igemm.cc's
    kPanelBytes) at batch > 1, so pixel chunks run panel by panel: equal to the
    reference for int8 and float32 outputs, without and with a residual (whose
    lines the driver prefetches a few tiles ahead), with 1 and 2 threads."""
    c, h, w, k, r, s, stride, pads, dil, groups = case
    rng = np.random.default_rng(zlib.crc32(case_id(case).encode()))
    x, wt = rand_s8(rng, (batch, h, w, c)), rand_s8(rng, (k, c // groups, r, s))
    scale, bias = spanning_epilogue(rng, conv_ref(x, wt, np.ones(k, F32), case=case, out_dtype="float32"))
    oh = (h + pads[0] + pads[2] - r) // stride[0] + 1
    ow = (w + pads[1] + pads[3] - s) // stride[1] + 1
    residual = rand_s8(rng, (batch, oh, ow, k))
    saved = int8rt.get_num_threads()
    try:
        for out, res in (("int8", None), ("float32", None), ("int8", residual)):
            kw = {} if res is None else dict(residual=res, residual_scale=0.75)
            want = conv_ref(x, wt, scale, bias, case=case, out_dtype=out, **kw)
            for threads in (1, 2):
                int8rt.set_num_threads(threads)
                for name in kernels_accepting(case, out):
                    got = K.conv2d_s8(x, wt, scale, bias, stride=stride, pads=pads, dilation=dil,
                                      groups=groups, out_dtype=out, kernel=name, **kw)
                    check(got, want, f"{name} {case_id(case)} batch={batch} out={out} "
                                     f"residual={res is not None} threads={threads}")
    finally:
        int8rt.set_num_threads(saved)


GEMM_M = [1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 64]
GEMM_NK = ([(n, k) for n in EDGE_K for k in (1, 3, 4, 5, 17)]
           + [(n, k) for n in (1, 16, 33) for k in range(1, 18)]
           + [(64, 768), (65, 255), (129, 64), (48, 1024)])


@pytest.mark.skipif(not GEMM_KERNELS, reason="no x86 GEMM kernel runs on this CPU")
@pytest.mark.parametrize("n,k", GEMM_NK, ids=lambda v: str(v))
def test_gemm_kernels_equal_reference(n: int, k: int) -> None:
    rng = np.random.default_rng(n * 1000 + k)
    # AVX2 packs weights in [-127, 127] for its sign-trick microkernel and
    # weights holding -128 for its int16 one: both, on alternate row counts.
    bs = [rand_weights(rng, (n, k), m) for m in (False, True)]
    for i, m in enumerate(GEMM_M[:: 1 if k <= 17 else 3]):
        a, b = rand_s8(rng, (m, k)), bs[i % 2]
        acc = K.gemm_s8(a, b, np.ones(n, F32), out_dtype="float32", kernel="gemm_s8_ref")
        scale, bias = spanning_epilogue(rng, acc)
        residual = rand_s8(rng, (m, n))
        for out, lo, hi, with_bias, with_res in EPILOGUES:
            kw = dict(lo=lo, hi=hi, out_dtype=out)
            if with_res:
                kw.update(residual=residual, residual_scale=0.731)
            bb = bias if with_bias else None
            want = K.gemm_s8(a, b, scale, bb, kernel="gemm_s8_ref", **kw)
            for name in gemm_kernels_accepting(n, k, out):
                got = K.gemm_s8(a, b, scale, bb, kernel=name, **kw)
                check(got, want, f"{name} M={m} N={n} K={k} out={out} lo={lo} hi={hi} "
                                 f"bias={with_bias} residual={with_res}")


@pytest.mark.skipif(not GEMM_KERNELS, reason="no x86 GEMM kernel runs on this CPU")
@pytest.mark.parametrize("value", [-128, 127])
def test_gemm_extreme_values(value: int) -> None:
    for m, n, k in ((1, 17, 4096), (7, 64, 768), (13, 33, 3)):
        a = np.full((m, k), value, np.int8)
        for wv in (-128, -127, 127):
            b = np.full((n, k), wv, np.int8)
            scale = np.full(n, 127.0 / (128.0 * 128.0 * k), F32)
            want = K.gemm_s8(a, b, scale, kernel="gemm_s8_ref")
            for name in gemm_kernels_accepting(n, k):
                check(K.gemm_s8(a, b, scale, kernel=name), want, f"{name} M={m} N={n} K={k}")


def test_packed_objects_rerun_equal() -> None:
    """A layer packed once gives the same results on every run and input."""
    rng = np.random.default_rng(3)
    wt = rand_s8(rng, (24, 16, 3, 3))
    case = (16, 7, 7, 24, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    scale = np.full(24, 2e-3, F32)
    for name in kernels_accepting(case, "int8"):
        packed = K.PackedConv2d(wt, 7, 7, scale, pads=(1, 1, 1, 1), kernel=name)
        assert packed.kernel == name
        for batch in (1, 2):
            x = rand_s8(rng, (batch, 7, 7, 16))
            check(packed.run(x), conv_ref(x, wt, scale, case=case), f"{name} packed")


def test_avx2_packs_sign_trick_unless_a_weight_is_min() -> None:
    """The AVX2 conv and GEMM pack the sign-trick microkernel (|x| times
    w * sign(x), exact for |w| <= 127) when every weight is in [-127, 127],
    the int16 one when a weight is -128 (INT8RT_LOG=dispatch says which), and
    both equal the reference on inputs of any sign: a single -128 weight
    meeting negative inputs, where vpsignb would negate -128 to -128."""
    if not int8rt.kernels.isa_info()["avx2"]["enabled"]:
        pytest.skip("AVX2 not enabled on this CPU / under this cap")
    code = (
        "import numpy as np; from int8rt._testing import kernels as K\n"
        "rng = np.random.default_rng(5)\n"
        "x = rng.integers(-128, 128, (2, 6, 7, 20), dtype=np.int8); x[:, :, :, 0] = -1\n"
        "a = rng.integers(-128, 128, (5, 20), dtype=np.int8); a[:, 0] = -128\n"
        "s = np.full(9, 1e-3, np.float32)\n"
        "for lo in (-127, -128):\n"
        "    w = rng.integers(-127, 128, (9, 20, 3, 3), dtype=np.int8)\n"
        "    w[4, 0, 1, 1] = lo\n"
        "    b = np.ascontiguousarray(w[:, :, 1, 1])\n"
        "    print('conv', lo, flush=True)\n"
        "    got = K.conv2d_s8(x, w, s, pads=(1, 1, 1, 1), kernel='conv_s8_igemm_6x16c2_avx2')\n"
        "    assert (got == K.conv2d_s8(x, w, s, pads=(1, 1, 1, 1), kernel='conv_s8_ref')).all(), lo\n"
        "    print('gemm', lo, flush=True)\n"
        "    got = K.gemm_s8(a, b, s, kernel='gemm_s8_6x16c2_avx2')\n"
        "    assert (got == K.gemm_s8(a, b, s, kernel='gemm_s8_ref')).all(), lo\n")
    env = dict(os.environ, INT8RT_LOG="dispatch")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stderr.splitlines() if " packs " in l]
    assert lines == [
        "int8rt dispatch: conv_s8_igemm_6x16c2_avx2 packs conv_s8_igemm_6x16c4s_avx2: every weight in [-127, 127]",
        "int8rt dispatch: gemm_s8_6x16c2_avx2 packs gemm_s8_6x16c4s_avx2: every weight in [-127, 127]",
        "int8rt dispatch: conv_s8_igemm_6x16c2_avx2 packs conv_s8_igemm_6x16c2_avx2: a weight is -128",
        "int8rt dispatch: gemm_s8_6x16c2_avx2 packs gemm_s8_6x16c2_avx2: a weight is -128",
    ], out.stderr


# The convs whose tier reads a promised non-negative input as u8, unshifted
# (IgemmUkernel::nonneg; AVX2's is also tried per run without the promise).
UNSHIFTED_WHEN_PROMISED = ["conv_s8_igemm_6x64c4_avx512vnni", "conv_s8_igemm_6x16c2_avx2"]


@pytest.mark.parametrize("name", UNSHIFTED_WHEN_PROMISED)
def test_nonneg_promise_reaches_the_unshifted_kernel(name: str) -> None:
    """The promise of ConvShape::nonneg_input is what selects the unshifted
    microkernel: on inputs in [0, 127] it equals the reference (the sweep
    above), and on an input that breaks the promise it reads -1 as 255, so
    the result differs, for a 1x1 and a padded 3x3 conv (else the sweep's
    promised runs could be the shifted kernel's and prove nothing). Without
    the promise the same input gives the reference's result."""
    if name not in CONV_KERNELS:
        pytest.skip(f"{name} does not run on this CPU / under this cap")
    rng = np.random.default_rng(84)
    for case in [(32, 5, 7, 64, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
                 (20, 6, 5, 40, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1)]:
        c, h, w, k, r, s, stride, pads, dil, groups = case
        wt = rand_weights(rng, (k, c, r, s), False)
        x = rng.integers(0, 128, size=(2, h, w, c), dtype=np.int8)
        x[1, 2, 3, 5] = -1
        scale = np.full(k, 1.0 / (127 * 128 * c * r * s), F32) * 64
        kw = dict(stride=stride, pads=pads, kernel=name, out_dtype="float32")
        want = conv_ref(x, wt, scale, case=case, out_dtype="float32")
        check(K.conv2d_s8(x, wt, scale, **kw), want, f"{name} {case_id(case)} without the promise")
        got = K.conv2d_s8(x, wt, scale, nonneg_input=True, **kw)
        assert not np.array_equal(got, want), f"{name} {case_id(case)}: the promise did not reach the kernel"
        check(got[0], want[0], f"{name} {case_id(case)}: the image that keeps the promise")


def test_avx2_nonneg_runs_pair_sums_unless_weights_break_the_rule() -> None:
    """The AVX2 conv's u8 microkernel runs as its pair-sum twin where the
    weights moved out of the pair rule (positives of four <= 258, negatives
    >= -258) are at most a sixteenth of the groups (bell-shaped weights), as
    itself where more are (all 127) or where no tap has two groups (C = 4, 1x1);
    INT8RT_LOG=dispatch says which, and every one equals the reference on
    inputs in [0, 127]."""
    if not int8rt.kernels.isa_info()["avx2"]["enabled"]:
        pytest.skip("AVX2 not enabled on this CPU / under this cap")
    code = (
        "import numpy as np; from int8rt._testing import kernels as K\n"
        "rng = np.random.default_rng(11)\n"
        "def bell(shape):\n"
        "    w = rng.standard_normal(shape)\n"
        "    return np.rint(w / np.abs(w.reshape(shape[0], -1)).max(1)[:, None, None, None] * 127).astype(np.int8)\n"
        "for c, r, w in ((64, 3, bell((24, 64, 3, 3))), (64, 3, np.full((24, 64, 3, 3), 127, np.int8)),\n"
        "                (4, 1, bell((24, 4, 1, 1)))):\n"
        "    x = rng.integers(0, 128, (2, 7, 9, c), dtype=np.int8)\n"
        "    s = np.full(24, 1.0 / (127 * 127 * c * r * r), np.float32)\n"
        "    p = (r // 2,) * 4\n"
        "    got = K.conv2d_s8(x, w, s, pads=p, kernel='conv_s8_igemm_6x16c2_avx2')\n"
        "    assert (got == K.conv2d_s8(x, w, s, pads=p, kernel='conv_s8_ref')).all(), (c, r)\n")
    env = dict(os.environ, INT8RT_LOG="dispatch")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [l.split(": ", 2)[1:] for l in out.stderr.splitlines() if " runs as " in l]
    assert [l[0] for l in lines] == [
        "conv_s8_igemm_6x16c4u_avx2 runs as conv_s8_igemm_6x16c4u2_avx2",
        "conv_s8_igemm_6x16c4u_avx2 runs as conv_s8_igemm_6x16c4u_avx2",
        "conv_s8_igemm_6x16c4u_avx2 runs as conv_s8_igemm_6x16c4u_avx2",
    ], out.stderr
    assert lines[2][1].endswith("(no pair of groups)"), out.stderr
    # 24 channels: 3 blocks x 9 taps x 16 groups. All 127: each four (508)
    # gives 127 + 123 of its excess 250 from its first two weights, both in
    # the pair's first group, so the first group of every pair has a residual.
    assert lines[1][1] == "216 residual groups of 432", out.stderr


# ---- dispatch across tiers ----

def test_native_avxvnni_kernels_are_under_test() -> None:
    """Where the CPU has AVX-VNNI, the library's native VEX kernels are among
    the kernels every sweep above compares with the reference; elsewhere the
    same source runs as its EVEX twin in tests/cpp/test_x86_twin_kernels.cc."""
    info = int8rt.kernels.isa_info()["avxvnni"]
    if not (info["cpu"] and info["compiled"]):
        pytest.skip("CPU lacks AVX-VNNI (or the library lacks its kernels): the EVEX twin runs "
                    "in tests/cpp/test_x86_twin_kernels.cc instead")
    if not info["enabled"]:
        pytest.skip("INT8RT_MAX_ISA caps below avxvnni")
    assert {"conv_s8_igemm_6x16c4_avxvnni", "conv_s8_dw_4x16_avxvnni"} <= set(CONV_KERNELS)
    assert "gemm_s8_6x16c4_avxvnni" in GEMM_KERNELS


def first_eligible(rows) -> str:
    """The candidate dispatch must pick: the first whose reason is empty."""
    return next(name for name, _, reason in rows if reason == "")


def test_dispatch_prefers_x86_kernels() -> None:
    # Dense: the best tier's igemm-style kernel (AMX, AVX512-VNNI, AVX-VNNI or
    # AVX2, whichever the CPU runs first); depthwise: a dwconv kernel.
    pads = (1, 1, 1, 1)
    dense = K.choose_conv(16, 8, 8, 32, 3, 3, pads=pads)
    assert dense == first_eligible(K.conv_candidates(16, 8, 8, 32, 3, 3, pads=pads))
    assert dense in CONV_KERNELS and "_dw_" not in dense
    dw = K.choose_conv(16, 8, 8, 16, 3, 3, pads=pads, groups=16)
    assert dw in CONV_KERNELS and dw.startswith("conv_s8_dw_")
    assert K.choose_gemm(64, 64) == GEMM_KERNELS[0]
    assert K.conv_candidates(1, 1, 1, 1, 1, 1)[-1][0] == "conv_s8_ref"


def test_set_max_isa_avx2_selects_avx2_kernels() -> None:
    if not int8rt.kernels.isa_info()["avx2"]["cpu"]:
        pytest.skip("CPU lacks AVX2")
    try:
        int8rt.set_max_isa("avx2")
        assert K.choose_conv(16, 8, 8, 32, 3, 3) == "conv_s8_igemm_6x16c2_avx2"
        assert K.choose_conv(16, 8, 8, 16, 3, 3, groups=16) == "conv_s8_dw_pairs_8c_avx2"
        assert K.choose_gemm(64, 64) == "gemm_s8_6x16c4p_avx2"  # the pair tile, falling back to 6x16c2 (gemm_s8_pairs.h)
        if int8rt.kernels.isa_info()["avx512vnni"]["cpu"]:
            with pytest.raises(NotSupportedError, match="above cap"):
                K.gemm_s8(np.zeros((1, 4), np.int8), np.zeros((4, 4), np.int8),
                          np.ones(4, F32), kernel="gemm_s8_6x64c4_avx512vnni")
        int8rt.set_max_isa("ref")
        assert K.choose_conv(16, 8, 8, 32, 3, 3) == "conv_s8_ref"
    finally:
        int8rt.set_max_isa(None)


@pytest.mark.parametrize("cap", ["avx2", "avxvnni", "avx512vnni", "amx"])
def test_int8rt_max_isa_environment(cap: str) -> None:
    """INT8RT_MAX_ISA caps dispatch in a fresh process; the dispatched kernel
    still equals the reference."""
    if not int8rt.kernels.isa_info()[cap]["cpu"]:
        pytest.skip(f"CPU lacks {cap}")
    code = (
        "import numpy as np; from int8rt._testing import kernels as K\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.integers(-128, 128, (2, 9, 9, 20), dtype=np.int8)\n"
        "w = rng.integers(-128, 128, (33, 20, 3, 3), dtype=np.int8)\n"
        "s = np.full(33, 1e-4, np.float32)\n"
        "y = K.conv2d_s8(x, w, s, pads=(1, 1, 1, 1))\n"
        "r = K.conv2d_s8(x, w, s, pads=(1, 1, 1, 1), kernel='conv_s8_ref')\n"
        "assert (y == r).all()\n"
        "print(K.choose_conv(20, 9, 9, 33, 3, 3, pads=(1, 1, 1, 1)))\n")
    env = dict(os.environ, INT8RT_MAX_ISA=cap)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(cap), out.stdout


# ---- heavier sweeps (pytest -m slow) ----

@pytest.mark.slow
@pytest.mark.parametrize("c", list(range(1, 18)) + [31, 32, 33, 63, 64, 65])
def test_conv_channel_sweep_slow(c: int) -> None:
    """Every K edge for this C, 1x1 and 3x3 (stride 1 and 2), plus depthwise."""
    for k in EDGE_K:
        run_conv_case((c, 7, 8, k, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1), seed=c * 100 + k)
        run_conv_case((c, 7, 8, k, 3, 3, (2, 2), (1, 0, 2, 1), (1, 1), 1), seed=c * 101 + k)
    run_conv_case((c, 9, 10, c, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), c), seed=c)
    run_conv_case((c, 9, 10, c, 5, 5, (2, 2), (2, 2, 2, 2), (1, 1), c), seed=c + 1)


@pytest.mark.slow
@pytest.mark.parametrize("m", [1, 5, 6, 7, 12, 13, 100])
def test_gemm_sweep_slow(m: int) -> None:
    rng = np.random.default_rng(m)
    for n, k in itertools.product(EDGE_K, (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 63, 64, 65, 300)):
        a, b = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
        acc = K.gemm_s8(a, b, np.ones(n, F32), out_dtype="float32", kernel="gemm_s8_ref")
        scale, bias = spanning_epilogue(rng, acc)
        want = K.gemm_s8(a, b, scale, bias, kernel="gemm_s8_ref")
        for name in gemm_kernels_accepting(n, k):
            check(K.gemm_s8(a, b, scale, bias, kernel=name), want, f"{name} M={m} N={n} K={k}")


@pytest.mark.skipif(not GEMM_KERNELS, reason="no x86 GEMM kernel runs on this CPU")
@pytest.mark.parametrize("n", [1, 15, 16, 17, 48, 63, 64, 65, 128, 129, 200])
def test_gemm_b_packed_per_run_equals_b_packed_once(n: int) -> None:
    """GemmKernel::pack_per_run_into (QAttention's keys [N, K] and values
    [K, N], packed every product; avx512vnni: its own one-pass packer,
    IgemmUkernel::pack_b) into a slot that held another B (b's bytes
    inverted) packs what pack() packs once: the float accumulators agree bit
    for bit, for N and K around the 16-channel block, the 4-block run and the
    64-byte chunk, random and extreme weights (the compensation sums)."""
    rng = np.random.default_rng(n + 500)
    ones = np.ones(n, F32)
    for k in (1, 2, 3, 4, 5, 63, 64, 65, 128, 197, 300):
        for b in (rand_weights(rng, (n, k), True), np.full((n, k), -128, np.int8),
                  np.full((n, k), 127, np.int8)):
            b_kn = np.ascontiguousarray(b.T)
            # (the reference's slot is rewritten too, RESULTS.md section 188)
            for name in gemm_kernels_accepting(n, k, "float32") + ["gemm_s8_ref"]:
                want = K.PackedGemm(b, ones, out_dtype="float32", kernel=name)
                nk = K.PackedGemm(b, ones, out_dtype="float32", kernel=name, per_run=True)
                kn = K.PackedGemm(b_kn, ones, out_dtype="float32", kernel=name, b_kn=True, per_run=True)
                for m in (1, 7):
                    a = rand_s8(rng, (m, k))
                    w = want.run(a)
                    check(nk.run(a), w, f"{name} per run [N, K] M={m} N={n} K={k}")
                    check(kn.run(a), w, f"{name} per run [K, N] M={m} N={n} K={k}")


@pytest.mark.skipif(not GEMM_KERNELS, reason="no x86 GEMM kernel runs on this CPU")
@pytest.mark.parametrize("n,k", [(1, 1), (5, 3), (17, 4), (64, 64), (65, 197), (197, 64), (129, 5), (33, 255)])
def test_gemm_packed_from_k_major_equals_packed_from_n_major(n: int, k: int) -> None:
    """GemmKernel::pack_kn (B [K, N], as int8rt.QMatMul holds it) packs what
    pack() packs from B's transpose: the float accumulators agree bit for
    bit for every kernel, random and extreme weights (the compensation sums)."""
    rng = np.random.default_rng(n * 7 + k)
    ones = np.ones(n, F32)
    for b in (rand_weights(rng, (n, k), False), rand_weights(rng, (n, k), True),
              np.full((n, k), -128, np.int8), np.full((n, k), 127, np.int8)):
        b_kn = np.ascontiguousarray(b.T)
        for name in gemm_kernels_accepting(n, k, "float32") + ["gemm_s8_ref"]:
            nk = K.PackedGemm(b, ones, out_dtype="float32", kernel=name)
            kn = K.PackedGemm(b_kn, ones, out_dtype="float32", kernel=name, b_kn=True)
            for m in (1, 7, 13):
                a = rand_s8(rng, (m, k))
                check(kn.run(a), nk.run(a), f"{name} M={m} N={n} K={k}")
