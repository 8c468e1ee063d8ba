"""The kernel-equals-stride ConvTranspose (x86/conv_transpose_ks.cc) on its two
tiers: ``conv_transpose_s8_ks_avx2`` (under an avx2 cap: per input row and
phase row the igemm sign tile, or the u8 tile for rows with no negative byte,
written in place) and ``conv_transpose_s8_ks_avx512vnni`` (where that tier is
enabled, capped there: the 6 x 64 shifted tile with its compensated start
sums, or its u8 twin, on the interleaved packing; -128 weights on the tiles),
both with the 2 x 2, K = 1 head on AVX2's pixels-in-lanes dot kernel
(avx2/conv_transpose_dot_2x2.cc). Results must equal the reference
``conv_transpose_s8_ref`` byte for byte (float32 bit for bit) over kernels
2 x 2, 3 x 3, 2 x 1, 1 x 3 and 4 x 2 (= stride), widths around the 6-pixel
tile (1, 5-7, 13) and odd ones for the dot kernel's pixel pairs, input
channels 1-40 (its 16-channel chunks, the tiles' groups of 4), output
channels around the 8-channel blocks (1-3, 8, 9, 16, 24, 25) and the VNNI
tile's 64-channel runs (S*K = 66, 80, 128), batch 1 and 3,
int8 output with bias and ReLU-like bounds, float output; inputs of any sign,
non-negative ones (the u8 tile), all -128 and all 127 against weights of
-127 / 127 (the largest sums), weights with -128 (AVX2: the phases fallback
for the tiles; VNNI's tiles and the dot kernel take them); 1 and 2 threads. Also
which shapes the kernel declines and that dispatch picks it for det's two.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from conv_epilogue_check import INPUTS, input_codes
from np_kernels import first_mismatch

F32 = np.float32
# kernel name -> the tier it is capped at while tested
TIERS = {"conv_transpose_s8_ks_avx2": "avx2", "conv_transpose_s8_ks_avx512vnni": "avx512vnni"}


@pytest.fixture(params=list(TIERS))
def kernel(request):
    """The kernel under test, with selection capped at its tier (the driver
    leaves layers to the phases where a VNNI / AMX tier above its own runs)."""
    name = request.param
    if not int8rt.kernels.isa_info()[TIERS[name]]["enabled"]:
        pytest.skip(f"{TIERS[name]} not enabled on this CPU / under this cap")
    int8rt.set_max_isa(TIERS[name])
    yield name
    int8rt.set_max_isa(None)

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
    (1, 19, 2, 7, 40, 2, 2),   # S*K = 80: a full 64-channel run of 4 interleaved blocks, then one block
    (2, 12, 2, 8, 33, 2, 2),   # 66: a run of 4 and one of 1 with 2 valid channels
    (1, 6, 1, 7, 64, 2, 2),    # 128: two full runs
]


def make(case, inputs: str, seed: int, min_weight: bool = False):
    n, c, h, w, k, r, s = case
    rng = np.random.default_rng(seed)
    x = input_codes(rng, inputs, (n, h, w, c))
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


def run_both(kernel, case, x, wt, scale, bias, out_dtype: str, lo=None, hi=None):
    r, s = case[5], case[6]
    kw = dict(stride=(r, s), out_dtype=out_dtype, lo=lo, hi=hi)
    got = K.conv_transpose2d_s8(x, wt, scale, bias, kernel=kernel, **kw)
    want = K.conv_transpose2d_s8(x, wt, scale, bias, kernel="conv_transpose_s8_ref", **kw)
    return got, want


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}h{}w{}k{}r{}s{}".format(*c))
@pytest.mark.parametrize("inputs", INPUTS)
def test_equals_reference(kernel, case, inputs):
    seed = zlib.crc32(repr((case, inputs)).encode())
    x, wt, scale, bias = make(case, inputs, seed)
    for out_dtype, b, lo, hi in (("int8", bias, None, None), ("int8", None, 0.0, 100.0),
                                 ("float32", bias, None, None), ("float32", None, -3.0, 50.0)):
        got, want = run_both(kernel, case, x, wt, scale, b, out_dtype, lo, hi)
        bad = first_mismatch(got, want)
        assert bad is None, f"{kernel} case={case} inputs={inputs} out={out_dtype} bias={b is not None}: {bad}"
        if out_dtype == "int8" and b is not None and inputs in ("signed", "nonneg") and want.size >= 64:
            assert np.mean((want == -128) | (want == 127)) < 0.25, "outputs should span the int8 range"


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[8], CASES[11]], ids=str)
def test_weights_with_min_value(kernel, case):
    x, wt, scale, bias = make(case, "signed", 7, min_weight=True)
    got, want = run_both(kernel, case, x, wt, scale, bias, "int8")
    bad = first_mismatch(got, want)
    assert bad is None, f"{kernel} case={case} with -128 weights: {bad}"


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(kernel, threads):
    int8rt.set_num_threads(threads)
    try:
        for case in [(3, 24, 9, 20, 24, 2, 2), (2, 24, 12, 33, 1, 2, 2)]:
            x, wt, scale, bias = make(case, "signed", 11)
            got, want = run_both(kernel, case, x, wt, scale, bias, "int8")
            bad = first_mismatch(got, want)
            assert bad is None, f"{kernel} threads={threads} case={case}: {bad}"
    finally:
        int8rt.set_num_threads(0)


def dispatch_lines(capfd) -> list:
    return [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("int8rt dispatch: conv_transpose_s8 [")]


def test_dispatch_picks_it_for_det_and_declines_the_rest(kernel, monkeypatch, capfd):
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    x = np.ones((1, 3, 4, 24), np.int8)
    for k in (24, 1):
        K.conv_transpose2d_s8(x, np.ones((24, k, 2, 2), np.int8), np.full(k, 0.01, F32), stride=(2, 2))
    K.conv_transpose2d_s8(x, np.ones((24, 4, 3, 3), np.int8), np.ones(4, F32), stride=(2, 2))
    lines = dispatch_lines(capfd)
    assert len(lines) == 3, lines
    assert f"-> {kernel} " in lines[0] and f"-> {kernel} " in lines[1], lines
    assert "-> conv_transpose_s8_phases " in lines[2] and f"{kernel}: kernel != stride" in lines[2], lines[2]
    w = np.ones((24, 4, 3, 3), np.int8)
    for kw, why in ((dict(stride=(3, 3), pads=(1, 1, 1, 1)), "pads"),
                    (dict(stride=(3, 3), out_pad=(1, 0)), "output_padding"),
                    (dict(stride=(3, 3), groups=2), "groups")):
        wg = w[:, : 4 // kw.get("groups", 1)]
        with pytest.raises(int8rt.NotSupportedError, match=why):
            K.conv_transpose2d_s8(x, wg, np.ones(4, F32), kernel=kernel, **kw)


def test_a_tier_above_takes_the_layer(monkeypatch, capfd):
    """Uncapped: the highest enabled tier's driver runs det's layers; the AVX2
    one declines where a VNNI tier is enabled, and both leave them to the
    phases where AMX is (its merged conv, not measured against the driver)."""
    info = int8rt.kernels.isa_info()
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    K.conv_transpose2d_s8(np.ones((1, 3, 4, 24), np.int8), np.ones((24, 24, 2, 2), np.int8),
                          np.full(24, 0.01, F32), stride=(2, 2))
    lines = dispatch_lines(capfd)
    assert len(lines) == 1, lines
    if info["amx"]["enabled"]:
        want = "conv_transpose_s8_phases"
    elif info["avx512vnni"]["enabled"]:
        want = "conv_transpose_s8_ks_avx512vnni"
    elif info["avxvnni"]["enabled"]:
        want = "conv_transpose_s8_phases"
    elif info["avx2"]["enabled"]:
        want = "conv_transpose_s8_ks_avx2"
    else:
        want = "conv_transpose_s8_phases"
    assert f"-> {want} " in lines[0], lines[0]
    if info["avx512vnni"]["enabled"] and info["avx2"]["enabled"]:
        with pytest.raises(int8rt.NotSupportedError, match="tier avx512vnni enabled"):
            K.conv_transpose2d_s8(np.ones((1, 3, 4, 24), np.int8), np.ones((24, 24, 2, 2), np.int8),
                                  np.full(24, 0.01, F32), stride=(2, 2), kernel="conv_transpose_s8_ks_avx2")
