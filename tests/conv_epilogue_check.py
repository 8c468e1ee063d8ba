"""The int8 conv tile tests' shared input draws and oracle
(test_avx2_conv_3x24.py, test_avx512vnni_conv_6x24.py; the draws also
test_conv_transpose_ks.py; test_avx2_conv_3x24.py adds a kind of its own): int8 inputs of a named kind (INPUTS); per-channel requantize scales from the
reference kernel's own sums (each channel's output spread over most of the
int8 range), a bias and an int8 residual; then the dispatched kernel ==
kernels/ref's conv_s8_ref, byte for byte, under four epilogues (bias,
clip without bias, bias + residual, float32 output)."""
from __future__ import annotations

import numpy as np

from int8rt._testing import kernels as K
from np_kernels import first_mismatch

F32 = np.float32
# Input kinds: uniform signed codes, uniform non-negative codes, or a constant.
INPUTS = ["signed", "nonneg", "all -128", "all 127"]


def input_codes(rng: np.random.Generator, kind: str, shape: tuple) -> np.ndarray:
    """int8 codes of ``shape`` of the INPUTS ``kind`` (the constants draw nothing from ``rng``)."""
    if kind == "signed":
        return rng.integers(-128, 128, shape, dtype=np.int8)
    if kind == "nonneg":
        return rng.integers(0, 128, shape, dtype=np.int8)
    return np.full(shape, -128 if kind == "all -128" else 127, np.int8)


def epilogue_operands(rng: np.random.Generator, x: np.ndarray, wt: np.ndarray, kw: dict):
    """(scale, bias, residual) for the conv of ``x`` by ``wt`` with the conv keywords ``kw``."""
    k = wt.shape[0]
    sums = K.conv2d_s8(x, wt, np.ones(k, F32), out_dtype="float32", kernel="conv_s8_ref", **kw)
    amax = np.maximum(np.abs(sums).reshape(-1, k).max(0), 1).astype(F32)
    scale = (rng.uniform(0.8, 1.2, k).astype(F32) * F32(127.0) / amax).astype(F32)
    bias = rng.uniform(-20, 20, k).astype(F32)
    residual = rng.integers(-128, 128, sums.shape, dtype=np.int8)
    return scale, bias, residual


def assert_epilogues_equal_reference(x, wt, scale, bias, residual, kw: dict, label: str) -> None:
    """The dispatched conv == conv_s8_ref under each of the four epilogues; ``label`` names the case on failure."""
    for out_dtype, b, lo, hi, res in (("int8", bias, None, None, None), ("int8", None, 0.0, 100.0, None),
                                      ("int8", bias, None, None, residual), ("float32", bias, None, None, None)):
        args = dict(lo=lo, hi=hi, out_dtype=out_dtype, residual=res, residual_scale=0.37 if res is not None else 0.0,
                    **kw)
        got = K.conv2d_s8(x, wt, scale, b, **args)
        want = K.conv2d_s8(x, wt, scale, b, kernel="conv_s8_ref", **args)
        bad = first_mismatch(got, want)
        assert bad is None, (f"{label} out={out_dtype} bias={b is not None} residual={res is not None}: {bad}")
