"""Building engines: ``int8rt.build_engine(model, BuilderConfig(...))``.

The path (DESIGN.md): import (ONNX) -> graph passes (BN folding, fusions) ->
float32 calibration over the calibrator's batches, every activation streamed
into its histogram in C++ with the GIL released -> thresholds with the
calibrator's algorithm -> INT8 lowering -> Engine. The calibration cache
works as in TensorRT: a cache the calibrator returns from
``read_calibration_cache`` whose algorithm matches skips calibration, and the
computed cache is handed to ``write_calibration_cache``. Tensor names in the
cache are the ONNX model's, so TensorRT (<= 10) can read it for the same model.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Optional, Union

import numpy as np

from . import _core
from .calib.session import CalibrationSession, _BatchChecker
from .calibrator import IInt8Calibrator
from .engine import Engine
from .kernels import get_max_isa, set_max_isa
from .network import Network

__all__ = ["BuilderConfig", "build_engine"]

logger = logging.getLogger("int8rt")

ModelSource = Union[str, "os.PathLike[str]", bytes, Network, Any]


@dataclass
class BuilderConfig:
    """How to build an engine (TensorRT's ``IBuilderConfig``, as a dataclass).

    Attributes:
        precision: ``"int8"`` (needs a calibrator) or ``"fp32"``.
        calibrator: an int8rt calibrator (``int8rt.IInt8EntropyCalibrator2``
            subclass, ...), as TensorRT's ``config.int8_calibrator``.
        layer_precisions: layer (node) name -> ``"fp32"`` keeps that layer in
            float32 (TensorRT's per-layer precision).
        device: ``"cpu"``; ``"cuda"`` is not available in this build (the CUDA
            kernels are not yet wired into the engine).
        max_isa: cap on the CPU kernels chosen (``"ref"``, ``"avx2"``,
            ``"avxvnni"``, ``"avx512vnni"``, ``"amx"``) while building;
            engines pick kernels again when loaded.
        num_threads: threads for calibration and the build (None: all CPUs).
        optimize: run the graph passes (BN folding, fusions).
        progress: show calibration progress (tqdm when installed) on stderr.
        batch_size: static batch for ONNX models whose batch dim is not symbolic.
    """

    precision: str = "int8"
    calibrator: Optional[IInt8Calibrator] = None
    layer_precisions: Optional[dict[str, str]] = None
    device: str = "cpu"
    max_isa: Optional[str] = None
    num_threads: Optional[int] = None
    optimize: bool = True
    progress: bool = False
    batch_size: Optional[int] = None
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)


def _to_network(model: ModelSource, batch_size: Optional[int]) -> Network:
    if isinstance(model, _core.Network):
        return model
    from .onnx import import_model

    return import_model(model, batch_size=batch_size)


@contextlib.contextmanager
def _build_settings(config: BuilderConfig) -> Iterator[None]:
    """Applies max_isa / num_threads for the build and restores them after."""
    old_threads = _core.get_num_threads()
    old_isa = get_max_isa() if config.max_isa is not None else None
    try:
        if config.num_threads is not None:
            _core.set_num_threads(int(config.num_threads))
        if config.max_isa is not None:
            set_max_isa(config.max_isa)
        yield
    finally:
        if config.num_threads is not None:
            _core.set_num_threads(old_threads)
        if config.max_isa is not None:
            set_max_isa(None)
            if old_isa is not None and old_isa != get_max_isa():
                set_max_isa(old_isa)


def _progress(total: Optional[int], enabled: bool) -> Callable[[int], None]:
    if not enabled:
        return lambda n: None
    try:
        from tqdm import tqdm  # optional

        bar = tqdm(total=total, desc="calibrating", unit="batch", file=sys.stderr)
        return lambda n: bar.update(1) if n >= 0 else bar.close()
    except ImportError:
        def report(n: int) -> None:
            if n >= 0:
                print(f"\rcalibrating: batch {n + 1}" + (f"/{total}" if total else ""), end="", file=sys.stderr)
            else:
                print(file=sys.stderr)
        return report


def _calibrate(builder: _core.Builder, calibrator: IInt8Calibrator, progress: bool) -> dict[str, float]:
    session = CalibrationSession(calibrator)
    if not session.from_cache:
        names = builder.input_names()
        owner = type(calibrator).__name__
        check = _BatchChecker(owner, names, int(calibrator.get_batch_size()))
        tick = _progress(getattr(calibrator, "num_batches", None), progress)
        index = 0
        try:
            while True:
                batch = check(calibrator.get_batch(list(names)), index)
                if batch is None:
                    break
                inputs = {n: np.ascontiguousarray(a, dtype=np.float32) for n, a in batch.items()}
                session.observe_with(lambda collector: builder.calibrate_batch(inputs, collector._native))
                tick(index)
                index += 1
        finally:
            tick(-1)
    return session.finish().scales


def build_engine(model: ModelSource, config: Optional[BuilderConfig] = None) -> Engine:
    """Builds an engine from an ONNX model (path, bytes or ``onnx.ModelProto``)
    or an :class:`int8rt.Network`.

    INT8 builds need ``config.calibrator``; see :class:`BuilderConfig`.
    Unsupported operators raise :class:`int8rt.NotSupportedError` naming the
    node before any calibration work is done.
    """
    config = config or BuilderConfig()
    if config.precision not in ("int8", "fp32"):
        raise ValueError(f"precision must be 'int8' or 'fp32', got {config.precision!r}")
    if config.device != "cpu":
        raise _core.NotSupportedError(
            f"device {config.device!r} is not available: this int8rt runs engines on the CPU only")
    if config.precision == "int8" and config.calibrator is None:
        raise ValueError("an INT8 build needs BuilderConfig.calibrator (or precision='fp32')")
    network = _to_network(model, config.batch_size)
    with _build_settings(config):
        builder = _core.Builder(network, config.precision, dict(config.layer_precisions or {}), config.optimize)
        scales: dict[str, float] = {}
        if config.precision == "int8":
            scales = _calibrate(builder, config.calibrator, config.progress)
        return Engine(builder.build(scales))
