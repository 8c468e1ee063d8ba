"""Calibration: histograms, threshold search and TensorRT's calibration cache."""
from __future__ import annotations

from .histogram import Histogram

__all__: list[str] = ["Histogram"]
