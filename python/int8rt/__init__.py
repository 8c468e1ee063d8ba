"""int8rt: open post-training INT8 for trained FP32 networks.

Import an ONNX model, calibrate activation ranges the way TensorRT does
(entropy/KL, MinMax, percentile, MSE) with TensorRT-shaped calibrator classes,
read and write TensorRT's calibration cache, and build and run INT8 engines on
the CPU. Code written for TensorRT's calibrators ports by changing an import;
TensorRT build scripts port with ``import int8rt.trt as trt``, and
:func:`export_qdq` writes Q/DQ ONNX models for TensorRT 11 and ONNX Runtime.
"""
from __future__ import annotations

from . import accuracy, calib, kernels, onnx
from ._core import get_num_threads, set_num_threads
from ._errors import Error, FormatError, InvalidArgumentError, NotSupportedError
from .builder import BuilderConfig, build_engine, devices
from .calibrator import (
    AutoCalibrator,
    CalibrationAlgoType,
    EntropyCalibrator,
    EntropyCalibrator2,
    IInt8AutoCalibrator,
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
from .data_calibrator import make_calibrator
from .engine import DeviceArray, Engine, ExecutionContext
from .kernels import get_max_isa, set_max_isa
from .network import Network, create_network
from .progress import Progress
from .qdq_export import export_qdq
from . import trt  # noqa: E402  (after the names it re-exports)

__version__ = "0.1.0"

__all__ = [
    "AutoCalibrator",
    "BuilderConfig",
    "CalibrationAlgoType",
    "DeviceArray",
    "Engine",
    "EntropyCalibrator",
    "EntropyCalibrator2",
    "Error",
    "ExecutionContext",
    "FormatError",
    "IInt8AutoCalibrator",
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
    "Network",
    "NotSupportedError",
    "Progress",
    "__version__",
    "accuracy",
    "build_engine",
    "calib",
    "create_network",
    "devices",
    "export_qdq",
    "get_max_isa",
    "get_num_threads",
    "kernels",
    "make_calibrator",
    "onnx",
    "set_max_isa",
    "set_num_threads",
    "trt",
]
