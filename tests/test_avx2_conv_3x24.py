"""The AVX2 3 x 24 sign tile (x86/avx2/igemm_3x24c4s.cc): convs of exactly 24
output channels per group whose reduction C/groups * R * S is at least 256
(x86/conv_igemm.cc, kWideMinReduction) run on it instead of the 6 x 16 sign
tile, sharing its packing with the u8 tile that takes the runs with no
negative input. Results must equal the reference ``conv_s8_ref`` (==, float32
bit for bit): 3x3 convs of 29-96 input channels (reductions 261-864, a
partial last group of 4: C = 29, 30, 31) and 1x1 convs of 256 / 259 channels,
widths around the 3-row tile (1-5, 7, 13) and heights 1-9, stride 1 and 2,
padding, two groups of 24, batch 1 and 3; int8 output with bias, ReLU-like
bounds and a residual; float output; inputs of any sign, non-negative ones
(the u8 tile on the shared packing), a few codes below 0 (the shifted tile),
all -128 and all 127 against weights of -127 / 127, and weights with -128
(the int16 tile instead); 1 and 2 threads. The dispatch log names the tile
for the FPN conv and not for a 1x1 24 -> 24 (reduction 24).
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from conv_epilogue_check import assert_epilogues_equal_reference, epilogue_operands

F32 = np.float32
TILE = "conv_s8_igemm_3x24c4s_avx2"

pytestmark = pytest.mark.skipif(
    not int8rt.kernels.isa_info()["avx2"]["enabled"], reason="AVX2 not enabled on this CPU / under this cap")

# (N, C, H, W, K, R, stride, pad, groups)
CASES = [
    (1, 96, 9, 13, 24, 3, 1, 1, 1),    # PP-OCR det's FPN 3x3 96 -> 24
    (3, 32, 5, 7, 24, 3, 1, 1, 1),
    (1, 29, 4, 5, 24, 3, 1, 1, 1),     # reduction 261, a partial group of 4 per tap
    (2, 30, 3, 4, 24, 3, 2, 1, 1),
    (1, 31, 6, 3, 24, 3, 1, 0, 1),
    (1, 64, 2, 2, 48, 3, 1, 1, 2),     # two groups of 24 (32 * 9 = 288 each)
    (1, 40, 1, 1, 24, 3, 1, 1, 1),
    (1, 96, 7, 1, 24, 3, 1, 1, 1),
    (1, 256, 4, 5, 24, 1, 1, 0, 1),
    (3, 259, 3, 3, 24, 1, 1, 0, 1),
]
INPUTS = ["signed", "nonneg", "shifted", "all -128", "all 127"]


def make(case, inputs: str, seed: int, min_weight: bool = False):
    n, c, h, w, k, r, st, p, g = case
    rng = np.random.default_rng(seed)
    if inputs == "signed":
        x = rng.integers(-128, 128, (n, h, w, c), dtype=np.int8)
    elif inputs == "nonneg":
        x = rng.integers(0, 128, (n, h, w, c), dtype=np.int8)
    elif inputs == "shifted":
        x = rng.integers(-3, 128, (n, h, w, c), dtype=np.int8)
    else:
        x = np.full((n, h, w, c), -128 if inputs == "all -128" else 127, np.int8)
    if inputs.startswith("all"):
        wt = rng.choice(np.array([-127, 127], np.int8), (k, c // g, r, r))
    else:
        wt = rng.integers(-127, 128, (k, c // g, r, r), dtype=np.int8)
    if min_weight:
        wt.flat[rng.integers(0, wt.size, 3)] = -128
    kw = dict(stride=(st, st), pads=(p, p, p, p), groups=g)
    scale, bias, residual = epilogue_operands(rng, x, wt, kw)
    return x, wt, scale, bias, residual, kw


def check(case, inputs, seed, min_weight=False):
    x, wt, scale, bias, residual, kw = make(case, inputs, seed, min_weight)
    assert_epilogues_equal_reference(x, wt, scale, bias, residual, kw,
                                     f"{TILE} (dispatch) case={case} inputs={inputs}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}h{}w{}k{}r{}s{}p{}g{}".format(*c))
@pytest.mark.parametrize("inputs", INPUTS)
def test_equals_reference(case, inputs):
    check(case, inputs, zlib.crc32(repr((case, inputs)).encode()))


@pytest.mark.parametrize("case", [CASES[0], CASES[5], CASES[9]], ids=str)
def test_weights_with_min_value(case):
    check(case, "signed", 5, min_weight=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(threads):
    int8rt.set_num_threads(threads)
    try:
        check((3, 96, 20, 21, 24, 3, 1, 1, 1), "signed", 9)
    finally:
        int8rt.set_num_threads(0)


def test_dispatch_log(monkeypatch, capfd):
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    rng = np.random.default_rng(0)
    for c, r in ((96, 3), (24, 1)):
        x = rng.integers(-128, 128, (1, 6, 6, c), dtype=np.int8)
        K.conv2d_s8(x, rng.integers(-127, 128, (24, c, r, r), dtype=np.int8), np.full(24, 1e-3, F32),
                    pads=(r // 2,) * 4)
    err = capfd.readouterr().err
    wide = [ln for ln in err.splitlines() if TILE in ln]
    vnni = any(int8rt.kernels.isa_info()[t]["enabled"] for t in ("avxvnni", "avx512vnni", "amx"))
    if vnni:  # a higher tier's conv kernel comes first
        return
    assert len(wide) == 1 and "runs 24 channels per group as" in wide[0], err
