"""Three-dimensional Conv / ConvTranspose / MaxPool / AveragePool ([N, C, D, H,
W], video and volumetric exports) in the FP32 engine, against ONNX Runtime:
strides, pads (asymmetric), dilations, groups, bias, output_padding,
ceil_mode and count_include_pad. ONNX's conformance cases cover pooling and
one ConvTranspose; these add the Conv cases the wheel does not ship."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import int8rt
from onnx_models import one_node

RNG = np.random.default_rng(13)
F32 = np.float32


def _one_node(op: str, attrs: dict[str, Any], c_in: int, size, weights: Optional[np.ndarray] = None,
              bias: bool = False) -> onnx.ModelProto:
    return one_node(op, attrs, c_in, size, RNG, weights, bias)


def _check(m: onnx.ModelProto, c_in: int, size) -> None:
    x = RNG.standard_normal((2, c_in, *size)).astype(F32)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    got = engine.run({"x": x})["y"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)  # float32 sums in another order


@pytest.mark.parametrize("attrs,c_in,m_out,k,group", [
    ({}, 3, 5, (3, 3, 3), 1),
    ({"pads": [1, 0, 2, 1, 1, 0], "strides": [2, 1, 2]}, 4, 6, (3, 2, 3), 1),
    ({"dilations": [2, 1, 2], "pads": [2, 1, 2, 2, 1, 2]}, 4, 4, (3, 3, 3), 2),
    ({"group": 4}, 4, 4, (1, 3, 3), 4),
    ({"auto_pad": "SAME_UPPER", "strides": [1, 2, 2]}, 2, 3, (2, 3, 3), 1),
])
def test_conv3d_matches_onnxruntime(attrs, c_in, m_out, k, group) -> None:
    attrs = {**attrs, "group": group}
    w = RNG.standard_normal((m_out, c_in // group, *k)).astype(F32)
    _check(_one_node("Conv", attrs, c_in, (5, 7, 6), w, bias=True), c_in, (5, 7, 6))


@pytest.mark.parametrize("attrs,c_in,m_out,k,group", [
    ({"strides": [2, 2, 2]}, 3, 4, (2, 2, 2), 1),
    ({"strides": [2, 1, 3], "pads": [1, 0, 1, 0, 1, 2], "output_padding": [1, 0, 2]}, 4, 2, (3, 3, 3), 2),
    ({"dilations": [2, 1, 1]}, 2, 3, (2, 3, 2), 1),
])
def test_conv_transpose3d_matches_onnxruntime(attrs, c_in, m_out, k, group) -> None:
    attrs = {**attrs, "group": group}
    w = RNG.standard_normal((c_in, m_out // group, *k)).astype(F32)
    _check(_one_node("ConvTranspose", attrs, c_in, (3, 4, 5), w, bias=True), c_in, (3, 4, 5))


@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", {"kernel_shape": [2, 3, 3], "strides": [2, 2, 1], "pads": [0, 1, 1, 1, 1, 0]}),
    ("MaxPool", {"kernel_shape": [3, 2, 2], "ceil_mode": 1, "strides": [2, 2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3, 2], "pads": [1, 1, 0, 1, 1, 1], "count_include_pad": 1}),
    ("AveragePool", {"kernel_shape": [2, 2, 2], "pads": [1, 0, 1, 1, 1, 0]}),
])
def test_pool3d_matches_onnxruntime(op, attrs) -> None:
    _check(_one_node(op, attrs, 3, (5, 6, 7)), 3, (5, 6, 7))


def test_four_spatial_dims_are_refused() -> None:
    w = np.zeros((2, 2, 1, 1, 1, 1), F32)
    with pytest.raises(int8rt.NotSupportedError, match="3-D"):
        int8rt.build_engine(_one_node("Conv", {}, 2, (2, 2, 2, 2), w), int8rt.BuilderConfig(precision="fp32"))
