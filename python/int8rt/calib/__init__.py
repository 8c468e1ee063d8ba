"""Calibration: histograms, threshold search and TensorRT's calibration cache."""
from __future__ import annotations

from .cache import cache_algorithm_name, read_cache, write_cache

__all__: list[str] = [
    "cache_algorithm_name",
    "read_cache",
    "write_cache",
]
