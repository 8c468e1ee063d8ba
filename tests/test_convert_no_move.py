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

import int8rt
from int8rt import _core

F32 = np.float32


def np_quantize(x: np.ndarray, scale: float, z: int) -> np.ndarray:
    v = (x * (F32(1) / F32(scale))).astype(F32) + F32(z)
    v = np.where(v >= -128, v, F32(-128))  # NaN -> -128, as the reference's select
    v = np.where(v <= 127, v, F32(127))
    return np.rint(v).astype(np.int8)


def np_dequantize(q: np.ndarray, scale: float, z: int) -> np.ndarray:
    return (q.astype(np.int32) - z).astype(F32) * F32(scale)


def convert_engine(shape: list[int], scale: float, z: int) -> int8rt.Engine:
    net = _core.Network()
    x = net.add_input("x", shape, "float32")
    attrs = {"scale": scale, "zero_point": z, "logical": 0}
    q = net.add_node("int8rt.Quantize", "quantize", [x], attrs, ["q"])[0]
    y = net.add_node("int8rt.Dequantize", "dequantize", [q], attrs, ["y"])[0]
    net.mark_output(q)
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))


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
