"""int8rt.Quantize / int8rt.Dequantize with a zero point (a pre-quantized
model's asymmetric activations, csrc/engine/ops/int8/convert_layers.cc)
against the reference's formulas written here in NumPy, with ==:
  quantize    q = rne(clamp(float32(x * (1 / s)) + z, -128, 127)), NaN -> -128
  dequantize  x = float32(q - z) * s
on rank-4 tensors (float NCHW <-> int8 NHWC, pixel counts that are not a
multiple of the 64-pixel blocks) and logical ones, with specials."""
from __future__ import annotations

import numpy as np
import pytest

from convert_oracle import convert_engine, np_dequantize, np_quantize

F32 = np.float32


@pytest.mark.parametrize("shape", [[2, 37, 9, 11], [1, 3, 8, 8], [1, 130, 1, 65]])
@pytest.mark.parametrize("z", [-128, 5])
@pytest.mark.parametrize("logical", [False, True])
def test_zero_point_converts_match_the_reference(shape: list[int], z: int, logical: bool) -> None:
    rng = np.random.default_rng(sum(shape) + abs(z))
    scale = 0.0237
    x = (rng.standard_normal(shape) * 2.5).astype(F32)
    flat = x.reshape(-1)
    flat[:6] = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.5 * scale]  # specials and a tie
    flat[6::97] = (np.arange(flat[6::97].size) - 40).astype(F32) * F32(scale) / 2  # half steps
    out = convert_engine(shape, scale, z, logical).run({"x": x})
    want_q = np_quantize(x, scale, z)
    if not logical:
        want_q = want_q.transpose(0, 2, 3, 1)  # the int8 side is channels-last
    assert np.array_equal(out["q"], want_q)
    want_y = np_dequantize(want_q, scale, z)
    if not logical:
        want_y = want_y.transpose(0, 3, 1, 2)
    assert np.array_equal(out["y"], want_y)
