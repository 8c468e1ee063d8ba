"""The reference formulas of int8rt.Quantize / int8rt.Dequantize with a zero
point (csrc/engine/ops/int8/convert_layers.cc), written here in NumPy for the
convert tests, and the two-node engine they run:
  quantize    q = rne(clamp(float32(x * (1 / s)) + z, -128, 127)), NaN -> -128
  dequantize  x = float32(q - z) * s
Float arithmetic is float32 with one rounding per operation, so results must
equal the engine's exactly."""
from __future__ import annotations

import numpy as np

import int8rt
from int8rt import _core

F32 = np.float32


def np_quantize(x: np.ndarray, scale: float, z: int) -> np.ndarray:
    """The reference quantize of x at (scale, zero point z), NaN -> -128."""
    v = (x * (F32(1) / F32(scale))).astype(F32) + F32(z)
    v = np.where(v >= -128, v, F32(-128))  # NaN -> -128, as the reference's select
    v = np.where(v <= 127, v, F32(127))
    return np.rint(v).astype(np.int8)


def np_dequantize(q: np.ndarray, scale: float, z: int) -> np.ndarray:
    """The reference dequantize of int8 codes q at (scale, zero point z)."""
    return (q.astype(np.int32) - z).astype(F32) * F32(scale)


def convert_engine(shape: list[int], scale: float, z: int, logical: bool = False) -> int8rt.Engine:
    """An INT8 engine computing q = Quantize(x) and y = Dequantize(q), both outputs
    marked; `logical` keeps the int8 side in the logical (not channels-last) order."""
    net = _core.Network()
    x = net.add_input("x", shape, "float32")
    attrs = {"scale": scale, "zero_point": z, "logical": int(logical)}
    q = net.add_node("int8rt.Quantize", "quantize", [x], attrs, ["q"])[0]
    y = net.add_node("int8rt.Dequantize", "dequantize", [q], attrs, ["y"])[0]
    net.mark_output(q)
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))
