"""int8rt's quantization numerics for the Python package: thin wrappers over
the C++ definitions (``csrc/include/int8rt/quantization.h``, bound in
``csrc/python/bind_quantization.cc``), so the scales and int8 weights Python
computes are bit for bit the ones the engine uses.

- ``scale = amax / 127`` in float32 (TensorRT's convention);
- ``amax = scale * 127`` in float32 (a cache holds scales only);
- weights: per output channel ``s = amax / 127`` (an all-zero channel gets
  ``s = 1``), ``q = clip(rint(w / s), -127, 127)`` with ``w / s`` divided in
  float32 and rounded half to even;
- a cache's hex: the float32 bits of the scale.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _core

__all__ = ["amax_from_scale", "quantize_weights", "scale_from_amax", "scale_from_hex"]


def scale_from_amax(amax: float) -> float:
    """TensorRT scale of threshold ``amax``: ``amax / 127`` in float32 (0 for 0)."""
    return _core.scale_from_amax(amax)


def amax_from_scale(scale: float) -> float:
    """The threshold a scale stands for: ``scale * 127`` in float32."""
    return _core.amax_from_scale(scale)


def scale_from_hex(hex_bits: str) -> float:
    """The float32 scale spelled by a cache's hex (``"3c010204"`` -> 1/127)."""
    return _core.scale_from_hex(hex_bits)


def quantize_weights(w: np.ndarray, axis: Optional[int]) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantization of ``w``: per slice along ``axis`` (per
    output channel), or per tensor when ``axis`` is None.

    Returns ``(q int8 with w's shape, scales float32 [w.shape[axis]] or [])``.
    """
    w = np.asarray(w, dtype=np.float32)
    if axis is None:
        q, scales = _core.quantize_weights_per_channel(w.reshape(1, w.size))
        return q.reshape(w.shape), scales.reshape(())
    rows = np.moveaxis(w, axis, 0)
    q, scales = _core.quantize_weights_per_channel(rows.reshape(rows.shape[0], rows[:1].size))
    return np.ascontiguousarray(np.moveaxis(q.reshape(rows.shape), 0, axis)), scales
