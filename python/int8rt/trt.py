"""A TensorRT-shaped facade: a TensorRT (<= 10) INT8 build script ports to
int8rt by changing its import to ``import int8rt.trt as trt``.

Follows the TensorRT Python API (``tensorrt.Builder``, ``IBuilderConfig``,
``OnnxParser``, ``Runtime``; TensorRT 8 and 10 names), each call mapped onto
int8rt's own: the network is an :class:`int8rt.Network`, building is
:func:`int8rt.build_engine`, the serialized engine is an int8rt engine file,
and engines run on the CPU with NumPy arrays (``_trt_runtime.py``).

Kept thin and honest: what int8rt does not do raises
:class:`int8rt.NotSupportedError` instead of being imitated. In particular
``BuilderFlag.FP16`` raises (int8rt has no float16 kernels; layers not run in
int8 run in float32; TensorRT scripts that ask ``builder.platform_has_fast_fp16``
first skip it). ``BuilderFlag.BF16`` is honoured: float layers that have a
BF16 kernel (Conv, Gemm, MatMul) run in BF16, the
others in float32 (:attr:`int8rt.BuilderConfig.bf16`). Accepted and ignored, because they change nothing on the CPU:
workspace / memory-pool limits, ``BuilderFlag.TF32`` (set by default as in
TensorRT; float layers compute in full float32, which TF32 permits) and
``DISABLE_TIMING_CACHE`` (int8rt has no timing cache), the
``EXPLICIT_BATCH`` creation flag (int8rt networks are explicit-batch), and
``init_libnvinfer_plugins`` (there are no plugins to register). Optimization
profiles are honoured: the engine refuses input shapes outside min..max and
plans for opt. An int8rt engine holds one profile: several added to a config
merge into one spanning them all (min of the mins, max of the maxes, the
first profile's opt). Build errors raise where TensorRT returns None; parse
errors are collected as in TensorRT.
"""
from __future__ import annotations

import logging
from enum import IntEnum
from typing import Any, Optional, Sequence

from ._errors import InvalidArgumentError, NotSupportedError
from ._trt_parser import ErrorCode, OnnxParser, ParserError
from ._trt_runtime import DataType, ICudaEngine, IExecutionContext, Runtime, TensorIOMode, nptype, volume
from .builder import BuilderConfig, build_engine
from .calibrator import (CalibrationAlgoType, IInt8Calibrator, IInt8EntropyCalibrator, IInt8EntropyCalibrator2,
                         IInt8LegacyCalibrator, IInt8MinMaxCalibrator, IInt8MSECalibrator)
from .network import Network

__all__ = [
    "Builder", "BuilderFlag", "CalibrationAlgoType", "DataType", "ErrorCode", "IBuilderConfig", "ICudaEngine",
    "IExecutionContext", "IInt8Calibrator", "IInt8EntropyCalibrator", "IInt8EntropyCalibrator2",
    "IInt8LegacyCalibrator", "IInt8MSECalibrator", "IInt8MinMaxCalibrator", "ILogger", "INetworkDefinition",
    "IOptimizationProfile", "Logger", "MemoryPoolType", "NetworkDefinitionCreationFlag", "NotSupportedError",
    "OnnxParser", "ParserError", "Runtime", "TensorIOMode", "init_libnvinfer_plugins", "nptype", "volume",
]

_log = logging.getLogger("int8rt")


class Logger:
    """TensorRT's ``Logger``: messages at or above ``min_severity`` go to the
    ``"int8rt"`` logging logger (ERROR -> logging.ERROR, ..., VERBOSE -> DEBUG)."""

    class Severity(IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = Severity

    _LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}

    def __init__(self, min_severity: "Logger.Severity" = Severity.WARNING) -> None:
        self.min_severity = Logger.Severity(min_severity)

    def log(self, severity: "Logger.Severity", msg: str) -> None:
        if severity <= self.min_severity:
            _log.log(self._LEVELS[int(severity)], "%s", msg)


ILogger = Logger


class NetworkDefinitionCreationFlag(IntEnum):
    EXPLICIT_BATCH = 0  # int8rt networks always are; accepted
    STRONGLY_TYPED = 1  # TensorRT 10 (TensorRT 8: EXPLICIT_PRECISION); not supported


class BuilderFlag(IntEnum):
    """TensorRT 10's builder flags (values as in TensorRT)."""

    FP16 = 0
    INT8 = 1
    DEBUG = 2
    GPU_FALLBACK = 3
    REFIT = 4
    DISABLE_TIMING_CACHE = 5
    TF32 = 6
    SPARSE_WEIGHTS = 7
    SAFETY_SCOPE = 8
    OBEY_PRECISION_CONSTRAINTS = 9
    PREFER_PRECISION_CONSTRAINTS = 10
    DIRECT_IO = 11
    REJECT_EMPTY_ALGORITHMS = 12
    VERSION_COMPATIBLE = 13
    EXCLUDE_LEAN_RUNTIME = 14
    FP8 = 15
    ERROR_ON_TIMING_CACHE_MISS = 16
    BF16 = 17


_IGNORED_FLAGS = {BuilderFlag.TF32, BuilderFlag.DISABLE_TIMING_CACHE}


class MemoryPoolType(IntEnum):
    WORKSPACE = 0
    DLA_MANAGED_SRAM = 1
    DLA_LOCAL_DRAM = 2
    DLA_GLOBAL_DRAM = 3
    TACTIC_DRAM = 4
    TACTIC_SHARED_MEMORY = 5


def init_libnvinfer_plugins(logger: Any, namespace: str) -> bool:
    """Accepted for porting: int8rt has no plugin library to register."""
    return True


class INetworkDefinition:
    """TensorRT's network object over an :class:`int8rt.Network` (``native``).

    ``OnnxParser.parse`` replaces ``native`` with the imported network; every
    other attribute (``add_convolution``, ``mark_output``, ...) is
    ``native``'s."""

    def __init__(self, native: Optional[Network] = None) -> None:
        self.native = native if native is not None else Network()

    def __getattr__(self, name: str) -> Any:
        if name == "native":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.native, name)

    @property
    def num_inputs(self) -> int:
        return len(self.native.inputs())

    @property
    def num_outputs(self) -> int:
        return len(self.native.outputs())

    @property
    def num_layers(self) -> int:
        return len(self.native.nodes())

    def get_input(self, index: int) -> "ITensor":
        return ITensor(self.native.tensor(self.native.inputs()[index]))

    def get_output(self, index: int) -> "ITensor":
        return ITensor(self.native.tensor(self.native.outputs()[index]))


class ITensor:
    """A network tensor's name, shape (-1: a dynamic dimension) and type."""

    def __init__(self, info: dict) -> None:
        self.name: str = info["name"]
        self.shape: tuple[int, ...] = tuple(info["shape"])
        self.dtype = {"float32": DataType.FLOAT, "int8": DataType.INT8, "int32": DataType.INT32}.get(info["dtype"])

    def __repr__(self) -> str:
        return f"ITensor(name={self.name!r}, shape={self.shape})"


class IOptimizationProfile:
    """Min/opt/max shapes per input (``BuilderConfig.input_shapes``); checked
    against the network at build, enforced by the engine at run time."""

    def __init__(self) -> None:
        self._shapes: dict[str, tuple[tuple[int, ...], ...]] = {}

    def set_shape(self, input: str, min: Sequence[int], opt: Sequence[int], max: Sequence[int]) -> None:
        self._shapes[input] = tuple(tuple(int(d) for d in s) for s in (min, opt, max))

    def get_shape(self, input: str) -> list[tuple[int, ...]]:
        return list(self._shapes.get(input, ()))

    def _check(self, network: Network) -> None:
        for name in self._shapes:
            tid = network.find_tensor(name)
            if tid < 0 or tid not in network.inputs():
                raise InvalidArgumentError(f"optimization profile: '{name}' is not a network input")


def _merged_shapes(profiles: Sequence[IOptimizationProfile]) -> dict[str, tuple[tuple[int, ...], ...]]:
    """One (min, opt, max) per input spanning every profile (the first one's opt)."""
    merged: dict[str, tuple[tuple[int, ...], ...]] = {}
    for profile in profiles:
        for name, (mn, opt, mx) in profile._shapes.items():
            if name not in merged:
                merged[name] = (mn, opt, mx)
            elif len(mn) == len(merged[name][0]) and len(mx) == len(merged[name][2]):
                m0, o0, x0 = merged[name]
                merged[name] = (tuple(map(min, m0, mn)), o0, tuple(map(max, x0, mx)))
            else:
                raise InvalidArgumentError(f"optimization profiles disagree on the rank of '{name}'")
    return merged


class IBuilderConfig:
    """TensorRT's builder config. ``flags`` holds ``1 << BuilderFlag.X`` bits;
    INT8 builds use ``int8_calibrator``. See the module docstring for what is
    accepted and ignored."""

    def __init__(self) -> None:
        self._flags = 1 << BuilderFlag.TF32  # TensorRT's default
        self.int8_calibrator: Optional[IInt8Calibrator] = None
        self.max_workspace_size = 0  # TensorRT <= 8; ignored
        self._pools: dict[int, int] = {}
        self._profiles: list[IOptimizationProfile] = []
        self._calibration_profile: Optional[IOptimizationProfile] = None

    @property
    def flags(self) -> int:
        return self._flags

    @flags.setter
    def flags(self, value: int) -> None:
        value = int(value)
        for bit in range(value.bit_length()):
            if value >> bit & 1:
                _check_flag(bit)
        self._flags = value

    def set_flag(self, flag: BuilderFlag) -> None:
        _check_flag(int(flag))
        self._flags |= 1 << int(flag)

    def clear_flag(self, flag: BuilderFlag) -> None:
        self._flags &= ~(1 << int(flag))

    def get_flag(self, flag: BuilderFlag) -> bool:
        return bool(self._flags >> int(flag) & 1)

    def set_memory_pool_limit(self, pool: MemoryPoolType, pool_size: int) -> None:
        """Recorded and ignored: int8rt allocates what a layer needs on the host."""
        self._pools[int(pool)] = int(pool_size)

    def get_memory_pool_limit(self, pool: MemoryPoolType) -> int:
        return self._pools.get(int(pool), 0)

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        self._profiles.append(profile)
        return len(self._profiles) - 1

    @property
    def num_optimization_profiles(self) -> int:
        return len(self._profiles)

    def set_calibration_profile(self, profile: IOptimizationProfile) -> bool:
        self._calibration_profile = profile
        return True

    def get_calibration_profile(self) -> Optional[IOptimizationProfile]:
        return self._calibration_profile


def _check_flag(bit: int) -> None:
    try:
        flag = BuilderFlag(bit)
    except ValueError:
        raise NotSupportedError(f"builder flag bit {bit} is not one int8rt knows") from None
    if flag in (BuilderFlag.INT8, BuilderFlag.BF16) or flag in _IGNORED_FLAGS:
        return
    if flag == BuilderFlag.FP16:
        raise NotSupportedError("BuilderFlag.FP16: int8rt has no float16 kernels; layers that do not run in int8 "
                                "run in float32. Drop the flag (builder.platform_has_fast_fp16 is False)")
    raise NotSupportedError(f"BuilderFlag.{flag.name} is not supported by int8rt")


class Builder:
    """TensorRT's ``Builder``: networks, configs, and engines built with
    :func:`int8rt.build_engine` (errors raise; TensorRT returns None)."""

    platform_has_fast_int8 = True
    platform_has_fast_fp16 = False
    platform_has_tf32 = False

    def __init__(self, logger: Any) -> None:
        self.logger = logger

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        """An empty network; ``EXPLICIT_BATCH`` is accepted (int8rt is explicit-batch)."""
        extra = int(flags) & ~(1 << NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
        if extra:
            raise NotSupportedError(f"network creation flags {extra:#x}: only EXPLICIT_BATCH is supported "
                                    "(STRONGLY_TYPED / EXPLICIT_PRECISION networks are not)")
        return INetworkDefinition()

    def create_builder_config(self) -> IBuilderConfig:
        return IBuilderConfig()

    def create_optimization_profile(self) -> IOptimizationProfile:
        return IOptimizationProfile()

    @property
    def max_batch_size(self) -> int:
        raise NotSupportedError("implicit batch (builder.max_batch_size) is not supported: int8rt engines take "
                                "any batch size")

    @max_batch_size.setter
    def max_batch_size(self, value: int) -> None:
        self.max_batch_size  # noqa: B018 - raises

    def build_engine(self, network: INetworkDefinition, config: IBuilderConfig) -> ICudaEngine:
        """Builds the engine (TensorRT <= 8's call)."""
        native = network.native if isinstance(network, INetworkDefinition) else network
        for profile in config._profiles + ([config._calibration_profile] if config._calibration_profile else []):
            profile._check(native)
        int8 = config.get_flag(BuilderFlag.INT8)
        if int8 and config.int8_calibrator is None:
            raise InvalidArgumentError("BuilderFlag.INT8 needs config.int8_calibrator: int8rt builds INT8 engines "
                                       "by calibration")
        precision = "int8" if int8 else "fp32"
        shapes = _merged_shapes(config._profiles) or None
        return ICudaEngine.of(build_engine(native, BuilderConfig(precision=precision, input_shapes=shapes,
                                                                 calibrator=config.int8_calibrator if int8 else None,
                                                                 bf16=config.get_flag(BuilderFlag.BF16))))

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> bytes:
        """Builds the engine and returns its file's bytes (TensorRT 10's call);
        ``Runtime.deserialize_cuda_engine`` or :meth:`int8rt.Engine.deserialize` load them."""
        return self.build_engine(network, config).serialize()
