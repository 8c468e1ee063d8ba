"""The AVX2 kernel-equals-stride ConvTranspose (x86/conv_transpose_ks.cc,
``conv_transpose_s8_ks_avx2``): per input row and phase row, the igemm sign
tile (or the u8 tile for rows with no negative byte) written in place, and
the 2 x 2, K = 1 head on the pixels-in-lanes dot kernel
(avx2/conv_transpose_dot_2x2.cc). Results must equal the reference
``conv_transpose_s8_ref`` byte for byte (float32 bit for bit) over kernels
2 x 2, 3 x 3, 2 x 1, 1 x 3 and 4 x 2 (= stride), widths around the 6-pixel
tile (1, 5-7, 13) and odd ones for the dot kernel's pixel pairs, input
channels 1-40 (its 16-channel chunks, the tiles' groups of 4), output
channels around the 8-channel blocks (1-3, 8, 9, 16, 24, 25), batch 1 and 3,
int8 output with bias and ReLU-like bounds, float output; inputs of any sign,
non-negative ones (the u8 tile), all -128 and all 127 against weights of
-127 / 127 (the largest sums), weights with -128 (the phases fallback for the
tiles; the dot kernel's int16 products take them); 1 and 2 threads. Also
which shapes the kernel declines and that dispatch picks it for det's two.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from np_kernels import first_mismatch

KERNEL = "conv_transpose_s8_ks_avx2"
F32 = np.float32

pytestmark = pytest.mark.skipif(
    not int8rt.kernels.isa_info()["avx2"]["enabled"], reason="AVX2 not enabled on this CPU / under this cap")

# (N, C, H, W, K, R, S): stride = (R, S), no pads.
CASES = [
    (1, 24, 3, 7, 24, 2, 2),   # PP-OCR det's 24 -> 24 (N = S*K = 48: three 16-channel tiles)
    (3, 24, 2, 13, 1, 2, 2),   # det's 24 -> 1: the dot kernel
    (1, 1, 2, 5, 1, 2, 2),
    (2, 16, 1, 1, 1, 2, 2),
    (1, 17, 3, 6, 1, 2, 2),
    (1, 40, 2, 9, 1, 2, 2),
    (1, 33, 2, 4, 1, 2, 2),
    (1, 5, 4, 6, 3, 2, 2),
    (3, 8, 2, 7, 8, 2, 2),
    (1, 13, 3, 5, 9, 2, 2),
    (1, 3, 2, 13, 25, 2, 2),
    (2, 7, 3, 6, 16, 3, 3),
    (1, 24, 2, 7, 2, 2, 1),
    (1, 9, 1, 11, 5, 1, 3),
    (1, 6, 2, 5, 4, 4, 2),
    (1, 32, 2, 6, 1, 3, 3),
]

# Input draws: (name, low, high) uniform, or a constant.
INPUTS = ["signed", "nonneg", "all -128", "all 127"]


def make(case, inputs: str, seed: int, min_weight: bool = False):
    n, c, h, w, k, r, s = case
    rng = np.random.default_rng(seed)
    if inputs == "signed":
        x = rng.integers(-128, 128, (n, h, w, c), dtype=np.int8)
    elif inputs == "nonneg":
        x = rng.integers(0, 128, (n, h, w, c), dtype=np.int8)
    else:
        x = np.full((n, h, w, c), -128 if inputs == "all -128" else 127, np.int8)
    if inputs.startswith("all"):
        wt = rng.choice(np.array([-127, 127], np.int8), (c, k, r, s))
    else:
        wt = rng.integers(-127, 128, (c, k, r, s), dtype=np.int8)
    if min_weight:
        wt.flat[rng.integers(0, wt.size, 3)] = -128
    # Scales from each channel's sums (the reference's float output at scale 1
    # holds them exactly), so int8 outputs span the range rather than saturate.
    sums = K.conv_transpose2d_s8(x, wt, np.ones(k, F32), stride=(r, s), out_dtype="float32",
                                 kernel="conv_transpose_s8_ref")
    amax = np.maximum(np.abs(sums).reshape(-1, k).max(0), 1).astype(F32)
    scale = (rng.uniform(0.8, 1.2, k).astype(F32) * F32(127.0) / amax).astype(F32)
    bias = rng.uniform(-20, 20, k).astype(F32)
    return x, wt, scale, bias


def run_both(case, x, wt, scale, bias, out_dtype: str, lo=None, hi=None):
    r, s = case[5], case[6]
    kw = dict(stride=(r, s), out_dtype=out_dtype, lo=lo, hi=hi)
    got = K.conv_transpose2d_s8(x, wt, scale, bias, kernel=KERNEL, **kw)
    want = K.conv_transpose2d_s8(x, wt, scale, bias, kernel="conv_transpose_s8_ref", **kw)
    return got, want


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}h{}w{}k{}r{}s{}".format(*c))
@pytest.mark.parametrize("inputs", INPUTS)
def test_equals_reference(case, inputs):
    seed = zlib.crc32(repr((case, inputs)).encode())
    x, wt, scale, bias = make(case, inputs, seed)
    for out_dtype, b, lo, hi in (("int8", bias, None, None), ("int8", None, 0.0, 100.0),
                                 ("float32", bias, None, None), ("float32", None, -3.0, 50.0)):
        got, want = run_both(case, x, wt, scale, b, out_dtype, lo, hi)
        bad = first_mismatch(got, want)
        assert bad is None, f"{KERNEL} case={case} inputs={inputs} out={out_dtype} bias={b is not None}: {bad}"
        if out_dtype == "int8" and b is not None and inputs in ("signed", "nonneg") and want.size >= 64:
            assert np.mean((want == -128) | (want == 127)) < 0.25, "outputs should span the int8 range"


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[8], CASES[11]], ids=str)
def test_weights_with_min_value(case):
    x, wt, scale, bias = make(case, "signed", 7, min_weight=True)
    got, want = run_both(case, x, wt, scale, bias, "int8")
    bad = first_mismatch(got, want)
    assert bad is None, f"{KERNEL} case={case} with -128 weights: {bad}"


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(threads):
    int8rt.set_num_threads(threads)
    try:
        for case in [(3, 24, 9, 20, 24, 2, 2), (2, 24, 12, 33, 1, 2, 2)]:
            x, wt, scale, bias = make(case, "signed", 11)
            got, want = run_both(case, x, wt, scale, bias, "int8")
            bad = first_mismatch(got, want)
            assert bad is None, f"{KERNEL} threads={threads} case={case}: {bad}"
    finally:
        int8rt.set_num_threads(0)


def vnni_tier_enabled() -> bool:
    """Whether a VNNI / AMX tier may run: the kernel then leaves the layer to the phases' merged conv."""
    info = int8rt.kernels.isa_info()
    return any(info[t]["enabled"] for t in ("avxvnni", "avx512vnni", "amx"))


def test_dispatch_picks_it_for_det_and_declines_the_rest(monkeypatch, capfd):
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    x = np.ones((1, 3, 4, 24), np.int8)
    for k in (24, 1):
        K.conv_transpose2d_s8(x, np.ones((24, k, 2, 2), np.int8), np.full(k, 0.01, F32), stride=(2, 2))
    K.conv_transpose2d_s8(x, np.ones((24, 4, 3, 3), np.int8), np.ones(4, F32), stride=(2, 2))
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("int8rt dispatch: conv_transpose_s8 [")]
    assert len(lines) == 3, lines
    want = "conv_transpose_s8_phases" if vnni_tier_enabled() else KERNEL
    assert f"-> {want} " in lines[0] and f"-> {want} " in lines[1], lines
    assert "-> conv_transpose_s8_phases " in lines[2] and f"{KERNEL}: kernel != stride" in lines[2], lines[2]
    w = np.ones((24, 4, 3, 3), np.int8)
    for kw, why in ((dict(stride=(3, 3), pads=(1, 1, 1, 1)), "pads"),
                    (dict(stride=(3, 3), out_pad=(1, 0)), "output_padding"),
                    (dict(stride=(3, 3), groups=2), "groups")):
        wg = w[:, : 4 // kw.get("groups", 1)]
        with pytest.raises(int8rt.NotSupportedError, match=why):
            K.conv_transpose2d_s8(x, wg, np.ones(4, F32), kernel=KERNEL, **kw)
