"""Calibration: histograms, threshold search and TensorRT's calibration cache."""
from __future__ import annotations

__all__: list[str] = []
