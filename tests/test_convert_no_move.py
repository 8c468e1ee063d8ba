"""int8rt.Quantize / int8rt.Dequantize on rank-4 tensors whose layout change
moves no element (one channel, or one pixel per image: NCHW and NHWC order
the elements alike), which convert_layers.cc runs on the flat element path,
beside shapes that do move, against the reference's formulas in NumPy with ==:
  quantize    q = rne(clamp(float32(x * (1 / s)) + z, -128, 127)), NaN -> -128
  dequantize  x = float32(q - z) * s
and the int8 side channels-last."""
from __future__ import annotations

import numpy as np
import pytest

from convert_oracle import convert_engine, np_dequantize, np_quantize

F32 = np.float32


# One channel (PP-OCR's detector output is 1 x 1 x 320 x 320), one pixel,
# both, and shapes that move elements (2 channels, 2 pixels).
SHAPES = [[1, 1, 320, 320], [2, 1, 19, 23], [3, 37, 1, 1], [1, 1, 1, 1], [2, 2, 5, 7], [2, 9, 1, 2]]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("z", [0, -7])
def test_converts_match_the_reference(shape: list[int], z: int) -> None:
    rng = np.random.default_rng(sum(shape) + abs(z))
    scale = 0.0311
    x = (rng.standard_normal(shape) * 2.5).astype(F32)
    flat = x.reshape(-1)
    specials = [np.nan, np.inf, -np.inf, 1e30, 0.5 * scale]  # specials and a tie
    flat[:min(len(specials), flat.size)] = specials[:flat.size]
    out = convert_engine(shape, scale, z).run({"x": x})
    want_q = np_quantize(x, scale, z).transpose(0, 2, 3, 1)  # the int8 side is channels-last
    assert out["q"].shape == want_q.shape and np.array_equal(out["q"], want_q)
    want_y = np_dequantize(want_q, scale, z).transpose(0, 3, 1, 2)
    assert out["y"].shape == tuple(shape) and np.array_equal(out["y"], want_y)
