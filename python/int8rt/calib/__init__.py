"""Calibration: histograms, threshold search and TensorRT's calibration cache."""
from __future__ import annotations

from .cache import cache_algorithm_name, read_cache, write_cache
from .channel_ranges import Sidecar, decode_channel_ranges, decode_sidecar, encode_channel_ranges
from .collector import Collector
from .histogram import Histogram
from .session import CalibrationResult, CalibrationSession, calibrate

__all__: list[str] = [
    "CalibrationResult",
    "CalibrationSession",
    "Collector",
    "Histogram",
    "Sidecar",
    "cache_algorithm_name",
    "calibrate",
    "decode_channel_ranges",
    "decode_sidecar",
    "encode_channel_ranges",
    "read_cache",
    "write_cache",
]
