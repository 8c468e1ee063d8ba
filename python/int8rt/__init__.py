"""int8rt: open post-training INT8 for trained FP32 networks.

Calibrate activation ranges the way TensorRT does (entropy/KL, MinMax,
percentile, MSE), read and write TensorRT's calibration cache, and use the
TensorRT-shaped calibrator classes so existing calibration code ports by
changing an import.
"""
from __future__ import annotations

from . import calib
from ._core import get_num_threads, set_num_threads
from ._errors import Error, FormatError, InvalidArgumentError, NotSupportedError
from .calibrator import (
    CalibrationAlgoType,
    EntropyCalibrator,
    EntropyCalibrator2,
    IInt8Calibrator,
    IInt8EntropyCalibrator,
    IInt8EntropyCalibrator2,
    IInt8LegacyCalibrator,
    IInt8MinMaxCalibrator,
    IInt8MSECalibrator,
    LegacyCalibrator,
    MinMaxCalibrator,
    MSECalibrator,
)

__version__ = "0.1.0"

__all__ = [
    "CalibrationAlgoType",
    "EntropyCalibrator",
    "EntropyCalibrator2",
    "Error",
    "FormatError",
    "IInt8Calibrator",
    "IInt8EntropyCalibrator",
    "IInt8EntropyCalibrator2",
    "IInt8LegacyCalibrator",
    "IInt8MSECalibrator",
    "IInt8MinMaxCalibrator",
    "InvalidArgumentError",
    "LegacyCalibrator",
    "MSECalibrator",
    "MinMaxCalibrator",
    "NotSupportedError",
    "__version__",
    "calib",
    "get_num_threads",
    "set_num_threads",
]
