"""The AVX2 sign-trick tile run as a strip (x86/avx2/igemm_6x16c4s.cc,
igemm_strip_s8): convs whose rows are pointwise (1x1 stride 1 unpadded, and
the merged-taps stems, C = 3 with R*S*C <= 32) with a reduction of at most 32
on inputs of any sign, against weights in [-127, 127], take whole 6-row groups
of each full 16-channel tile through the strip and the rest (the last rows, a
partial channel tile) through the plain tile. Results must equal the reference
(==): pixel counts around the 6-row tile (6, 7, 11, 12, 13, 95-97, 200),
channel counts with and without a partial tile (16, 24, 32, 40), reductions of
4 to 32 (and 36 / 320 beside them: the driver's runs), batch 1 and 3, int8
output with bias, ReLU-like bounds and a residual; all -128 / all 127 inputs
and weights of -127 / 127 (the sign tile's largest pair sums); and 1 and 2
threads. Float output does not take the strip (the driver's rule) and is
checked too, as the plain tile's path beside it.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from np_kernels import first_mismatch

KERNEL = "conv_s8_igemm_6x16c2_avx2"
F32 = np.float32

pytestmark = pytest.mark.skipif(
    not int8rt.kernels.isa_info()["avx2"]["enabled"], reason="AVX2 not enabled on this CPU / under this cap")

# (C, H, W, K, R, stride, pad): 1x1 pointwise rows, then merged-taps stems.
CASES = [
    (4, 1, 6, 16, 1, 1, 0),
    (8, 1, 7, 24, 1, 1, 0),
    (20, 3, 4, 32, 1, 1, 0),
    (12, 1, 13, 40, 1, 1, 0),
    (32, 5, 19, 16, 1, 1, 0),
    (16, 8, 12, 24, 1, 1, 0),
    (32, 1, 97, 32, 1, 1, 0),
    (28, 7, 7, 48, 1, 1, 0),
    (320, 7, 7, 48, 1, 1, 0),
    (36, 10, 20, 40, 1, 1, 0),
    (3, 9, 9, 32, 3, 2, 1),
    (3, 17, 16, 16, 3, 2, 1),
    (3, 24, 23, 24, 3, 2, 1),
    (3, 12, 12, 40, 3, 1, 1),
]


def case_id(case) -> str:
    c, h, w, k, r, s, p = case
    return f"C{c}_{h}x{w}_K{k}_{r}x{r}_s{s}_p{p}"


def ref(x, w, scale, bias, s, p, **kw) -> np.ndarray:
    return K.conv2d_s8(x, w, scale, bias, stride=(s, s), pads=(p, p, p, p), kernel="conv_s8_ref", **kw)


def run(x, w, scale, bias, s, p, **kw) -> np.ndarray:
    return K.conv2d_s8(x, w, scale, bias, stride=(s, s), pads=(p, p, p, p), kernel=KERNEL, **kw)


def out_hw(h: int, w: int, r: int, s: int, p: int) -> tuple[int, int]:
    return (h + 2 * p - r) // s + 1, (w + 2 * p - r) // s + 1


def spanning(rng: np.random.Generator, acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel scale / bias mapping each channel's sums onto about
    [-140, 140]: most outputs inside int8, a few saturating."""
    k = acc.shape[-1]
    amax = np.abs(acc.reshape(-1, k)).max(axis=0).astype(np.float64) + 1.0
    return (rng.uniform(0.9, 1.1, k) * 127.0 / amax).astype(F32), rng.uniform(-12, 12, k).astype(F32)


def check(got: np.ndarray, want: np.ndarray, what: str) -> None:
    msg = first_mismatch(got, want)
    assert msg is None, f"{KERNEL} {what}: {msg}"


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_sign_strip_equals_reference(case, batch: int) -> None:
    c, h, w, k, r, s, p = case
    rng = np.random.default_rng(zlib.crc32(f"{case_id(case)}-{batch}".encode()))
    x = rng.integers(-128, 128, (batch, h, w, c), dtype=np.int8)
    wt = rng.integers(-127, 128, (k, c, r, r), dtype=np.int8)
    scale, bias = spanning(rng, ref(x, wt, np.ones(k, F32), None, s, p, out_dtype="float32"))
    oh, ow = out_hw(h, w, r, s, p)
    residual = rng.integers(-128, 128, (batch, oh, ow, k), dtype=np.int8)
    for kw in ({}, dict(lo=0.0, hi=127.0), dict(residual=residual, residual_scale=0.75), dict(out_dtype="float32")):
        check(run(x, wt, scale, bias, s, p, **kw), ref(x, wt, scale, bias, s, p, **kw),
              f"{case_id(case)} batch={batch} {sorted(kw)}")


@pytest.mark.parametrize("wv", [-127, 127])
@pytest.mark.parametrize("xv", [-128, 127])
@pytest.mark.parametrize("case", [CASES[6], CASES[7], CASES[10]], ids=case_id)
def test_sign_strip_extreme_values(case, xv: int, wv: int) -> None:
    """All inputs at -128 or 127 against all weights at -127 or 127: the
    largest accumulators and the largest pair sums |x| * |w| = 128 * 127."""
    c, h, w, k, r, s, p = case
    x = np.full((2, h, w, c), xv, np.int8)
    wt = np.full((k, c, r, r), wv, np.int8)
    acc = ref(x, wt, np.ones(k, F32), None, s, p, out_dtype="float32")
    scale = (127.0 / (np.abs(acc).max() + 1.0) * np.linspace(0.5, 1.5, k)).astype(F32)
    check(run(x, wt, scale, None, s, p), ref(x, wt, scale, None, s, p), f"{case_id(case)} x={xv} w={wv}")


@pytest.mark.parametrize("case", [CASES[6], CASES[12]], ids=case_id)
def test_sign_strip_threads(case) -> None:
    """Strips split across work items: 1 and 2 threads give the same bytes."""
    c, h, w, k, r, s, p = case
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (5, h, w, c), dtype=np.int8)
    wt = rng.integers(-127, 128, (k, c, r, r), dtype=np.int8)
    scale, bias = spanning(rng, ref(x, wt, np.ones(k, F32), None, s, p, out_dtype="float32"))
    want = ref(x, wt, scale, bias, s, p)
    saved = int8rt.get_num_threads()
    try:
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            check(run(x, wt, scale, bias, s, p), want, f"{case_id(case)} threads={threads}")
    finally:
        int8rt.set_num_threads(saved)
