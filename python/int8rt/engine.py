"""Built INT8 (or FP32) engines: save, load, inspect and run.

An :class:`Engine` is immutable and thread-safe; each thread that runs it
uses its own :class:`ExecutionContext` (TensorRT's model). Inputs and outputs
are float32 NumPy arrays in the layout the ONNX model declares (NCHW); the
leading batch dimension may vary from call to call.
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from . import _core

__all__ = ["Engine", "ExecutionContext"]


class ExecutionContext:
    """Per-thread run state of an engine (buffers are reused between runs)."""

    def __init__(self, native: _core.ExecutionContext, engine: "Engine") -> None:
        self._native = native
        self._engine = engine  # keeps the engine alive while the context is

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs the engine on ``{input_name: float32 array}``.

        Returns ``{output_name: float32 array}`` for every network output.
        Raises :class:`int8rt.InvalidArgumentError` for unknown or missing
        inputs, a wrong dtype (float32 only) or a wrong shape. The GIL is
        released while the engine runs, so contexts on several threads run
        concurrently.
        """
        if not isinstance(inputs, Mapping):
            raise TypeError("inputs must be a mapping {input name: numpy array}")
        return self._native.run(dict(inputs))

    __call__ = run


class Engine:
    """An engine built by :func:`int8rt.build_engine` or loaded from a file."""

    def __init__(self, native: _core.Engine) -> None:
        self._native = native

    # ---- files ----
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Engine":
        """Loads an engine file; a truncated, corrupted or foreign file raises
        :class:`int8rt.FormatError` naming the file."""
        return cls(_core.Engine.load(os.fspath(path)))

    @classmethod
    def deserialize(cls, data: bytes) -> "Engine":
        """Creates an engine from bytes produced by :meth:`serialize`."""
        return cls(_core.Engine.deserialize(bytes(data)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the engine atomically (temporary file renamed into place)."""
        self._native.save(os.fspath(path))

    def serialize(self) -> bytes:
        """The engine file's bytes."""
        return self._native.serialize()

    # ---- description ----
    @property
    def input_names(self) -> list[str]:
        return list(self._native.input_names)

    @property
    def output_names(self) -> list[str]:
        return list(self._native.output_names)

    def tensor_shape(self, name: str) -> tuple[int, ...]:
        """Declared shape of an input or output; -1 marks the dynamic batch."""
        return tuple(self._native.tensor_shape(name))

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._native.metadata)

    @property
    def precision(self) -> str:
        return self.metadata.get("precision", "")

    @property
    def device(self) -> str:
        """Where the engine runs: ``"cpu"`` or ``"cuda"``."""
        return str(self._native.device)

    @property
    def device_name(self) -> str:
        """The device in words, e.g. ``"cuda:0 (NVIDIA H100 80GB HBM3)"``."""
        return str(self._native.device_name)

    def layers(self) -> list[dict[str, str]]:
        """One dict per layer in run order: name, op, precision, detail (kernel)."""
        return list(self._native.layers())

    def scales(self) -> dict[str, float]:
        """The activation scales the engine was built with (tensor name -> scale)."""
        out: dict[str, float] = {}
        for line in self.metadata.get("scales", "").splitlines():
            name, _, hexbits = line.rpartition(": ")
            out[name] = float(np.frombuffer(int(hexbits, 16).to_bytes(4, "little"), dtype=np.float32)[0])
        return out

    def report(self) -> list[str]:
        """What the builder decided and why (passes applied, layers kept in FP32)."""
        return [line for line in self.metadata.get("report", "").splitlines() if line]

    # ---- running ----
    def create_execution_context(self) -> ExecutionContext:
        return ExecutionContext(self._native.create_execution_context(), self)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Convenience: runs once in a fresh context (use a context in loops)."""
        return self.create_execution_context().run(inputs)

    def __repr__(self) -> str:
        return (f"Engine(precision={self.precision!r}, device={self.device!r}, inputs={self.input_names}, "
                f"outputs={self.output_names}, layers={len(self.layers())})")
