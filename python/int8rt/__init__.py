"""int8rt: open post-training INT8 for trained FP32 networks.

Calibrate activation ranges the way TensorRT does (entropy/KL, MinMax,
percentile, MSE), read and write TensorRT's calibration cache, and use the
TensorRT-shaped calibrator classes so existing calibration code ports by
changing an import.
"""
from __future__ import annotations

from . import calib, kernels
from ._core import get_num_threads, set_num_threads
from ._errors import Error, FormatError, InvalidArgumentError, NotSupportedError
from .kernels import get_max_isa, set_max_isa

__version__ = "0.1.0"

__all__ = [
    "Error",
    "FormatError",
    "InvalidArgumentError",
    "NotSupportedError",
    "__version__",
    "calib",
    "get_max_isa",
    "get_num_threads",
    "kernels",
    "set_max_isa",
    "set_num_threads",
]
