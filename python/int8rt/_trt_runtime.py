"""The run-time half of :mod:`int8rt.trt`: ``Runtime``, ``ICudaEngine`` and
``IExecutionContext`` with TensorRT's (8 and 10) Python names, over int8rt's
CPU :class:`~int8rt.Engine`.

There is no device memory: ``execute_v2`` takes NumPy arrays in binding
order (inputs, then outputs; outputs are filled in place) instead of device
pointers, and ``run({name: array})`` returns the outputs. Asynchronous and
address-based execution (``execute_async_v2/v3``, ``set_tensor_address``)
raises :class:`int8rt.NotSupportedError`.
"""
from __future__ import annotations

import logging
from enum import IntEnum
from typing import Any, Sequence

import numpy as np

from . import _core
from ._errors import InvalidArgumentError, NotSupportedError
from .engine import Engine, ExecutionContext

__all__ = ["DataType", "ICudaEngine", "IExecutionContext", "Runtime", "TensorIOMode", "nptype", "volume"]

logger = logging.getLogger("int8rt")


class DataType(IntEnum):
    """TensorRT's tensor types (values as in TensorRT); int8rt engine I/O is FLOAT."""

    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4


_NPTYPES = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8,
            DataType.INT32: np.int32, DataType.BOOL: np.bool_}


def nptype(dtype: DataType) -> type:
    """The NumPy type of a :class:`DataType` (TensorRT's ``trt.nptype``)."""
    return _NPTYPES[DataType(dtype)]


def volume(shape: Sequence[int]) -> int:
    """Product of the dimensions (TensorRT's ``trt.volume``)."""
    out = 1
    for d in shape:
        out *= int(d)
    return out


class TensorIOMode(IntEnum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


def _no_device(what: str) -> NotSupportedError:
    return NotSupportedError(f"{what}: int8rt runs on the CPU and has no device memory; pass NumPy arrays to "
                             "context.execute_v2([inputs..., outputs...]) or call context.run({name: array})")


class IExecutionContext(ExecutionContext):
    """An :class:`int8rt.ExecutionContext` with TensorRT's execution calls."""

    def __init__(self, native: Any, engine: "ICudaEngine") -> None:
        super().__init__(native, engine)
        self.engine = engine
        self._input_shapes: dict[str, tuple[int, ...]] = {}

    # ---- shapes ----
    def set_input_shape(self, name: str, shape: Sequence[int]) -> bool:
        """Records the shape of input ``name`` (TensorRT 10): its dynamic (-1)
        dimensions may take any size within the engine's optimization profile;
        a shape outside it raises. Changing it between runs rebuilds nothing."""
        if name not in self.engine.input_names:
            raise InvalidArgumentError(f"set_input_shape: '{name}' is not an input of the engine "
                                       f"(inputs: {', '.join(self.engine.input_names)})")
        shape = tuple(int(d) for d in shape)
        declared = self.engine.tensor_shape(name)
        if len(shape) != len(declared) or any(d != s for d, s in zip(declared, shape) if d != -1) or min(shape) < 1:
            raise InvalidArgumentError(f"set_input_shape('{name}', {list(shape)}): the engine takes "
                                       f"{list(declared)} (-1: any size)")
        profile = self.engine.shape_range(name)
        if profile is not None and not all(lo <= d <= hi for lo, d, hi in zip(profile[0], shape, profile[2])):
            raise InvalidArgumentError(f"set_input_shape('{name}', {list(shape)}): outside the engine's optimization "
                                       f"profile (min {list(profile[0])}, max {list(profile[2])})")
        self._input_shapes[name] = shape
        return True

    def set_binding_shape(self, index: int, shape: Sequence[int]) -> bool:
        """TensorRT 8's name for :meth:`set_input_shape`, by binding index."""
        return self.set_input_shape(self.engine.get_binding_name(index), shape)

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        """The shape of ``name`` for the input shapes set: an input's own, an
        output's as the layers infer it once every input shape is set (the
        declared shape, -1 where dynamic, before)."""
        if name in self._input_shapes:
            return self._input_shapes[name]
        if name in self.engine.output_names and all(n in self._input_shapes for n in self.engine.input_names):
            return tuple(self.output_shapes(self._input_shapes)[name])
        return self.engine.tensor_shape(name)

    def get_binding_shape(self, index: int) -> tuple[int, ...]:
        return self.get_tensor_shape(self.engine.get_binding_name(index))

    @property
    def all_binding_shapes_specified(self) -> bool:
        return all(d >= 0 for name in self.engine.input_names for d in self.get_tensor_shape(name))

    all_shape_inputs_specified = all_binding_shapes_specified

    # ---- execution ----
    def execute_v2(self, bindings: Sequence[np.ndarray]) -> bool:
        """Runs on NumPy arrays ordered like the engine's bindings: every input,
        then every output (``engine.get_binding_name(i)``). Outputs must be
        float32 arrays of the output's shape for this batch and are filled in
        place (written directly where they are C-contiguous). Returns True (errors raise, naming the binding)."""
        names = self.engine.input_names + self.engine.output_names
        if len(bindings) != len(names):
            raise InvalidArgumentError(f"execute_v2 takes {len(names)} arrays ({', '.join(names)}), "
                                       f"got {len(bindings)}")
        for name, b in zip(names, bindings):
            if not isinstance(b, np.ndarray):
                raise _no_device(f"execute_v2 binding '{name}' is a {type(b).__name__}, not a NumPy array")
        n_in = len(self.engine.input_names)
        inputs, dsts = dict(zip(names[:n_in], bindings[:n_in])), dict(zip(names[n_in:], bindings[n_in:]))
        if all(d.flags.c_contiguous and d.flags.writeable for d in dsts.values()):
            self.run(inputs, dsts)  # written in place: no output arrays made per call
            return True
        outputs = self.run(inputs)
        for name, dst in zip(names[n_in:], bindings[n_in:]):
            src = outputs[name]
            if dst.dtype != np.float32 or dst.shape != src.shape or not dst.flags.writeable:
                raise InvalidArgumentError(
                    f"execute_v2 output '{name}': needs a writeable float32 array of shape {list(src.shape)}, "
                    f"got {dst.dtype} {list(dst.shape)}{'' if dst.flags.writeable else ' (read-only)'}")
            np.copyto(dst, src)
        return True

    def execute_async_v2(self, *args: Any, **kwargs: Any) -> bool:
        raise _no_device("execute_async_v2")

    def execute_async_v3(self, *args: Any, **kwargs: Any) -> bool:
        raise _no_device("execute_async_v3")

    def set_tensor_address(self, *args: Any, **kwargs: Any) -> bool:
        raise _no_device("set_tensor_address")


class ICudaEngine(Engine):
    """An :class:`int8rt.Engine` (CPU) with TensorRT's engine queries. Bindings
    (TensorRT 8) and I/O tensors (TensorRT 10) are the inputs, then the
    outputs, in the ONNX model's order."""

    @classmethod
    def of(cls, engine: Engine) -> "ICudaEngine":
        return cls(engine._native)

    def _io(self) -> list[str]:
        return self.input_names + self.output_names

    # TensorRT 10
    @property
    def num_io_tensors(self) -> int:
        return len(self._io())

    def get_tensor_name(self, index: int) -> str:
        return self._io()[index]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        if name in self.input_names:
            return TensorIOMode.INPUT
        return TensorIOMode.OUTPUT if name in self.output_names else TensorIOMode.NONE

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.tensor_shape(name)

    def get_tensor_dtype(self, name: str) -> DataType:
        self.tensor_shape(name)  # raises for an unknown name
        return DataType.FLOAT

    # TensorRT 8
    @property
    def num_bindings(self) -> int:
        return len(self._io())

    def get_binding_name(self, index: int) -> str:
        io = self._io()
        if not 0 <= index < len(io):
            raise InvalidArgumentError(f"binding index {index} out of range (the engine has {len(io)})")
        return io[index]

    def get_binding_index(self, name: str) -> int:
        io = self._io()
        return io.index(name) if name in io else -1

    def binding_is_input(self, index: int) -> bool:
        return self.get_binding_name(index) in self.input_names

    def get_binding_shape(self, index: int) -> tuple[int, ...]:
        return self.tensor_shape(self.get_binding_name(index))

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[tuple[int, ...]]:
        """``[min, opt, max]`` of input ``name`` (TensorRT 10). int8rt engines
        hold one profile (index 0); an input without one reports its declared
        shape three times."""
        if profile_index != 0:
            raise InvalidArgumentError(f"profile {profile_index}: int8rt engines hold one optimization profile (0)")
        if name not in self.input_names:
            raise InvalidArgumentError(f"get_tensor_profile_shape: '{name}' is not an input of the engine")
        r = self.shape_range(name)
        return list(r) if r is not None else [self.tensor_shape(name)] * 3

    def get_profile_shape(self, profile_index: int, binding: Any) -> list[tuple[int, ...]]:
        """TensorRT 8's :meth:`get_tensor_profile_shape`, by binding index or name."""
        name = binding if isinstance(binding, str) else self.get_binding_name(binding)
        return self.get_tensor_profile_shape(name, profile_index)

    @property
    def num_optimization_profiles(self) -> int:
        return 1

    def get_binding_dtype(self, index: int) -> DataType:
        self.get_binding_name(index)
        return DataType.FLOAT

    def create_execution_context(self) -> IExecutionContext:
        return IExecutionContext(self._native.create_execution_context(), self)


class Runtime:
    """TensorRT's ``Runtime``: loads int8rt engine files."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger

    def deserialize_cuda_engine(self, serialized: Any) -> ICudaEngine:
        """Loads an int8rt engine from bytes (``build_serialized_network``'s
        result or a file's contents). The name is TensorRT's; the engine runs
        on the CPU. A foreign or corrupted engine raises ``FormatError``
        (TensorRT returns None)."""
        return ICudaEngine(_core.Engine.deserialize(bytes(serialized)))
