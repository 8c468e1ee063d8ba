"""The FP32 max-pooling family (kernels/maxpool_f32.h) on every tier the CPU
has, against its reference tier (maxpool_f32_ref, the spec), a NumPy window
loop and ONNX Runtime.

A maximum is exact and the same in any tap order, so every tier equals the
reference bit for bit (==) on data without +0 / -0 ties, which seeded
Gaussian data does not have (the contract, kernels/abi/maxpool_f32.h, leaves
only the sign of a tied zero open). NaN taps are never taken and a window
with no tap inside the image gives -inf, on every tier. Shapes sweep the
16- and 8-column vector edges (output widths 1..17, 31..33), strides 1 (unaligned
loads), 2 (the even / odd split: ResNet's 3x3 / 2) and 3 (column by
column), dilation, asymmetric and SAME padding, ceil_mode, 1-D windows and
kernels from 1x1 to 7x7.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from _ort_oracle import run_ort

from int8rt._testing import run_single_op

TIERS = [isa for isa in ("avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]

CASES = [
    # (input shape, attrs)
    ((1, 64, 112, 112), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),  # ResNet-50's
    ((2, 3, 9, 17), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 2, 5, 1), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ((1, 3, 8, 33), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ((1, 2, 7, 32), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ((1, 2, 11, 31), {"kernel_shape": [5, 5], "strides": [2, 2], "pads": [2, 0, 1, 2]}),
    ((1, 2, 13, 66), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ((1, 2, 10, 35), {"kernel_shape": [3, 3], "strides": [3, 3], "pads": [1, 1, 1, 1]}),
    ((1, 2, 12, 20), {"kernel_shape": [3, 2], "dilations": [2, 3], "pads": [2, 1, 2, 1]}),
    ((1, 3, 9, 9), {"kernel_shape": [7, 7], "pads": [3, 3, 3, 3]}),
    ((1, 2, 6, 6), {"kernel_shape": [1, 1]}),
    ((2, 2, 14, 40), {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 6, 34), {"kernel_shape": [4, 4], "strides": [1, 2], "pads": [3, 3, 3, 3]}),
    ((2, 3, 15), {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    ((1, 2, 40), {"kernel_shape": [4], "strides": [1], "pads": [0, 3]}),
    # The AVX2 tier's 8-lane edges: image and output widths 7, 8, 9, 15, 16.
    ((1, 2, 5, 8), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ((1, 2, 6, 15), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((2, 2, 7, 16), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 3, 5, 7), {"kernel_shape": [2, 2]}),
    ((1, 2, 9, 9), {"kernel_shape": [3, 3], "strides": [1, 1]}),
]


def _run(isa: str, x: np.ndarray, attrs: dict) -> np.ndarray:
    int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
    try:
        return run_single_op("MaxPool", [x], attrs, [False])[0]
    finally:
        int8rt.set_max_isa(None)


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_maxpool_tiers_equal_reference(case: tuple) -> None:
    shape, attrs = case
    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    ref = _run("ref", x, attrs)
    np.testing.assert_array_equal(ref, run_ort("MaxPool", [x], attrs, [False])[0])
    for isa in TIERS:
        got = _run(isa, x, attrs)
        assert got.shape == ref.shape, (isa, case)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, (isa, case, bad[:3], got[tuple(bad[0])], ref[tuple(bad[0])])


def _numpy_maxpool(x: np.ndarray, k: int, s: int, pad: int) -> np.ndarray:
    """Max over the window's taps inside the image that are not NaN; -inf if none."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    xp = np.full((n, c, h + 2 * pad, w + 2 * pad), -np.inf, np.float32)
    xp[:, :, pad:pad + h, pad:pad + w] = np.where(np.isnan(x), -np.inf, x)
    y = np.full((n, c, oh, ow), -np.inf, np.float32)
    for i in range(k):
        for j in range(k):
            y = np.maximum(y, xp[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s])
    return y


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_maxpool_nan_taps_and_empty_windows(stride: int) -> None:
    """A NaN tap is never taken (an all-NaN window gives -inf), and pads
    larger than the kernel leave windows with no tap inside: -inf."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 3, 9, 21)).astype(np.float32)
    x[0, 0, 2, 3:9] = np.nan
    x[0, 1, :, :] = np.nan
    x[0, 2, 4, 4] = np.nan
    attrs = {"kernel_shape": [2, 2], "strides": [stride, stride], "pads": [3, 3, 3, 3]}
    want = _numpy_maxpool(x, 2, stride, 3)
    assert np.isneginf(want).any() and not np.isnan(want).any()
    for isa in ["ref"] + TIERS:
        np.testing.assert_array_equal(_run(isa, x, attrs), want, err_msg=isa)
