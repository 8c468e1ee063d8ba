"""The int8 values a table layer (``int8rt.QLut``) hands the layer reading it.

A chain of element-wise float ops on an int8 tensor (HardSwish, a learnable
affine, ``Add+Clip+Mul+Div+Mul+Add`` in PP-LCNetV3) is lowered to one
256-entry table: the output code is ``table[code_in + 128]``, where
``code_in`` is the table input's own int8 code (csrc/engine/ops/int8/
qlut_layer.cc; the table bytes are the whole arithmetic). So the table
output the engine holds is not the float output rounded to the output grid
(what :func:`int8rt.accuracy.metrics.fake_quantize` models) but the function
of the *input* rounded to the input's grid, then rounded to the output's:

    q(y) = s_out * (table[clip(rint(p / s_in) + z_in, -128, 127) + 128] - z_out)

with ``p`` the table's float32 input (a conv's output, before the chain),
``(s_in, z_in)`` its grid and ``(s_out, z_out)`` the output's. The input step
is often coarser than the output's (the input's range includes what the
chain clips or squashes), and its clipping at the input threshold is a
clipping of ``p``, not of ``y``: both shift the mean of ``y``. Bias
correction (bias_correction.py) measures the shift of a conv reading ``y``
against this ``q(y)``; measured against the fake-quantized float output it
missed it (PP-OCRv4 det, RESULTS_accuracy.md, 2026-12-04 morning (defaults)).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .taps import INT8_SUFFIX, _int8_grids

__all__ = ["LutInput", "lut_inputs", "table_output"]

_LUT_OP = "int8rt.QLut"


@dataclass(frozen=True)
class LutInput:
    """What the engine computes a table output from: the float tensor
    ``source`` on the grid ``source_grid`` (scale, zero point), through
    ``codes`` (int8 [256], indexed by the input code + 128), on ``grid``."""

    source: str
    source_grid: tuple[float, int]
    codes: np.ndarray
    grid: tuple[float, int]


def lut_inputs(lowered: Any) -> dict[str, LutInput]:
    """Source tensor name -> :class:`LutInput` for every tensor a lowered
    INT8 network (``_core.Engine.network()``) writes with a table layer
    whose input and output are held on one per-tensor grid each."""
    grids = _int8_grids(lowered)
    tensors = lowered.tensors()
    out: dict[str, LutInput] = {}
    for node in lowered.nodes():
        if node["op"] != _LUT_OP or len(node["inputs"]) < 2 or not node["outputs"]:
            continue
        src, table, dst = (tensors[t]["name"] for t in (node["inputs"][0], node["inputs"][1], node["outputs"][0]))
        if not (src.endswith(INT8_SUFFIX) and dst.endswith(INT8_SUFFIX)):
            continue
        src, dst = src[: -len(INT8_SUFFIX)], dst[: -len(INT8_SUFFIX)]
        codes = np.asarray(lowered.constant_data(node["inputs"][1])).reshape(-1)
        if src not in grids or dst not in grids or codes.size != 256:
            continue
        out[dst] = LutInput(src, grids[src], codes.astype(np.int8), grids[dst])
    return out


def table_output(lut: LutInput, p: np.ndarray) -> np.ndarray:
    """The table output the engine holds for the float32 table input ``p``,
    dequantized (float32; the module's formula)."""
    s_in, z_in = lut.source_grid
    s_out, z_out = lut.grid
    code = np.divide(np.asarray(p, np.float32), np.float32(s_in), dtype=np.float32)
    np.rint(code, out=code)
    code += np.float32(z_in + 128)
    np.clip(code, 0, 255, out=code)
    y = lut.codes.astype(np.float32)[code.astype(np.intp)]
    y -= np.float32(z_out)
    y *= np.float32(s_out)
    return y
