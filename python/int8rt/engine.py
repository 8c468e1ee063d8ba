"""Built INT8 (or FP32) engines: save, load, inspect and run.

An :class:`Engine` is immutable and thread-safe; each thread that runs it
uses its own :class:`ExecutionContext` (TensorRT's model). Inputs and outputs
are float32 NumPy arrays in the layout the ONNX model declares (NCHW); the
leading batch dimension may vary from call to call. Engines on a GPU
(``device="cuda"``) also take device arrays: anything with
``__cuda_array_interface__`` (CuPy, PyTorch CUDA tensors, Numba,
:class:`DeviceArray`), and then return :class:`DeviceArray` outputs or write
into the ``outputs`` given.
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import numpy as np

from . import _core
from ._errors import InvalidArgumentError
from ._numerics import scale_from_hex

if TYPE_CHECKING:
    from .accuracy.report import BuildReport

__all__ = ["DeviceArray", "Engine", "ExecutionContext"]


def _is_device_array(x: Any) -> bool:
    try:
        return isinstance(getattr(x, "__cuda_array_interface__"), dict)
    except (AttributeError, RuntimeError):  # e.g. a CPU torch tensor refuses the attribute
        return False


class DeviceArray:
    """A float32 array in an engine's device memory, owned by int8rt.

    Exposes ``__cuda_array_interface__`` (version 3), so ``cupy.asarray``,
    ``torch.as_tensor(a, device="cuda")`` and Numba see it without a copy.
    Create one with :meth:`Engine.device_array` or get it as an output of
    :meth:`ExecutionContext.run` given device inputs.
    """

    def __init__(self, allocation: _core.DeviceAllocation, shape: Sequence[int]) -> None:
        self._allocation = allocation
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(np.float32)

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return dict(self._allocation.cuda_array_interface(list(self.shape)))

    @property
    def ptr(self) -> int:
        """The device address (as ``__cuda_array_interface__`` gives it)."""
        return int(self.__cuda_array_interface__["data"][0])

    def numpy(self) -> np.ndarray:
        """A host copy."""
        out = np.empty(self.shape, np.float32)
        self._allocation.copy_to_host(out)
        return out

    def copy_from(self, array: np.ndarray) -> None:
        """Copies a host array of this shape in (float32)."""
        a = np.ascontiguousarray(array, dtype=np.float32)
        if a.shape != self.shape:
            raise InvalidArgumentError(f"copy_from: expected shape {self.shape}, got {a.shape}")
        self._allocation.copy_from_host(a)

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype=float32, ptr=0x{self.ptr:x})"


class ExecutionContext:
    """Per-thread run state of an engine (buffers are reused between runs)."""

    def __init__(self, native: _core.ExecutionContext, engine: "Engine") -> None:
        self._native = native
        self._engine = engine  # keeps the engine alive while the context is

    def run(self, inputs: Mapping[str, Any], outputs: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
        """Runs the engine on ``{input_name: array}``: float32 arrays, or
        int64 / int32 / int8 / bool ones for inputs the network declares so
        (token ids, masks); nothing is converted.

        Returns ``{output_name: array}`` for every network output (float32,
        int64 for an integer output such as Shape's or ArgMax's, int32 where
        the network computes int32, or bool for a comparison's or mask's). Raises
        :class:`int8rt.InvalidArgumentError` for unknown or missing inputs, a
        dtype other than the declared one, or a wrong shape. The GIL is
        released while the engine runs, so contexts on several threads run
        concurrently.

        ``outputs`` (host arrays): ``{output_name: array}`` for every output,
        C-contiguous, writeable, of the output's shape (:meth:`output_shapes`)
        and dtype; the outputs are written there instead of into new arrays,
        so repeated runs of one shape make no output arrays. Returns that mapping.

        Engines on a GPU also take device arrays (``__cuda_array_interface__``,
        float32, C-contiguous; all inputs on the device, and complete: work
        writing them on other streams synchronized). The outputs are then
        written to ``outputs`` (device arrays of the shapes
        :meth:`output_shapes` gives) or to new :class:`DeviceArray` s, and
        the call returns when they are written.
        """
        if outputs is None and type(inputs) is dict and all(type(v) is np.ndarray for v in inputs.values()):
            return self._native.run(inputs)  # host arrays: no device checks (each costs a caught AttributeError)
        if not isinstance(inputs, Mapping):
            raise TypeError("inputs must be a mapping {input name: numpy array}")
        on_device = [_is_device_array(v) for v in inputs.values()]
        if not any(on_device) and outputs is None:
            return self._native.run(dict(inputs))
        if not any(on_device) and not any(_is_device_array(v) for v in outputs.values()):
            self._native.run_into(dict(inputs), dict(outputs))  # checks each is a writeable C-contiguous ndarray
            return dict(outputs)
        if not all(on_device):
            raise InvalidArgumentError("inputs must be all host arrays or all device arrays")
        if self._engine.device == "cpu":
            raise _core.NotSupportedError("this engine runs on the CPU: pass NumPy arrays, not device arrays")
        if outputs is None:
            shapes = self.output_shapes({name: v.__cuda_array_interface__["shape"] for name, v in inputs.items()})
            outputs = {name: self._engine.device_array(shape) for name, shape in shapes.items()}
        # The binding reads and checks each array's interface (float32, C-contiguous, not null).
        self._native.run_on_device(dict(inputs), dict(outputs))
        return dict(outputs)

    @property
    def shape_plan_capacity(self) -> int:
        """How many input-shape signatures (the shapes of all inputs
        together) this context keeps a shape plan for, least recently used
        dropped first; default 8, 0 keeps none. A run at a kept signature
        sizes its tensors from the plan instead of inferring every layer's
        shapes again, so a detector fed images of a few sizes in turn neither
        infers shapes nor allocates once each size has run twice. A plan is
        a few tens of KB; activation buffers are sized for the largest
        shape run, whatever this is."""
        return int(self._native.shape_plan_capacity)

    @shape_plan_capacity.setter
    def shape_plan_capacity(self, plans: int) -> None:
        if int(plans) < 0:
            raise InvalidArgumentError(f"shape_plan_capacity must be >= 0, got {plans}")
        self._native.shape_plan_capacity = int(plans)

    def profile(self, inputs: Mapping[str, np.ndarray], runs: int = 10, *,
                clock: str = "wall") -> list[dict[str, Any]]:
        """Runs ``runs`` times and returns one dict per layer, in run order:
        name, op, precision, detail (kernel) and ``ms``, its median time.
        Before each If, the layers of the branch the runs took, named
        ``"<If>/<then_branch|else_branch>/<layer>"``; the If's own row then
        holds only its own work (with ``"thread_cpu"``, also the clock reads
        around its branch's layers, a system call each).
        ``clock``: ``"wall"``, or ``"thread_cpu"``, the CPU time of the
        calling thread: with one thread (``set_num_threads(1)``) a layer's own
        work, not the time the thread waited descheduled on a busy machine;
        with more threads it misses the helper threads' share.
        CPU engines only (NotSupportedError on a GPU engine)."""
        if clock not in ("wall", "thread_cpu"):
            raise InvalidArgumentError(f"profile: clock must be 'wall' or 'thread_cpu', not {clock!r}")
        return list(self._native.profile(dict(inputs), int(runs), clock == "thread_cpu"))

    def output_shapes(self, input_shapes: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
        """Each output's shape for inputs of the given shapes (nothing is computed)."""
        shapes = self._native.output_shapes({k: [int(d) for d in v] for k, v in input_shapes.items()})
        return {name: tuple(shape) for name, shape in shapes.items()}

    __call__ = run


class Engine:
    """An engine built by :func:`int8rt.build_engine` or loaded from a file."""

    def __init__(self, native: _core.Engine) -> None:
        self._native = native
        # Contexts that run() keeps between calls, idle ones only: a context
        # holds the activation buffers, so a fresh one per call would allocate
        # (and the OS zero) every buffer of the network on every call.
        self._idle_contexts: list[ExecutionContext] = []
        self._idle_lock = threading.Lock()

    # ---- files ----
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Engine":
        """Loads an engine file; a truncated, corrupted or foreign file raises
        :class:`int8rt.FormatError` naming the file."""
        return cls(_core.Engine.load(os.fspath(path)))

    @classmethod
    def deserialize(cls, data: bytes) -> "Engine":
        """Creates an engine from bytes produced by :meth:`serialize`; bytes
        that are not a valid engine raise :class:`int8rt.FormatError`
        ("engine bytes: ...")."""
        return cls(_core.Engine.deserialize(bytes(data)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the engine atomically: to a temporary file of its own in the
        same folder (``<path>.tmp.<host>.<pid>.<random>``), renamed into place,
        so concurrent saves to one path never collide and a reader never sees
        a part. Temporary files that killed saves to ``path`` left behind
        (their process is gone) are removed first."""
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
        """Declared shape of an input or output; -1 marks a dynamic dimension
        (the batch, or any other the model leaves symbolic)."""
        return tuple(self._native.tensor_shape(name))

    def shape_range(self, name: str) -> Optional[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
        """``(min, opt, max)`` of input ``name``'s optimization profile
        (``BuilderConfig.input_shapes``), or None when it has none."""
        r = self._native.shape_range(name)
        return None if r is None else tuple(tuple(s) for s in r)

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

    def layers(self, *, branches: bool = False) -> list[dict[str, str]]:
        """One dict per layer in run order: name, op, precision, detail (kernel).
        With ``branches``, the layers inside each If's branches too, right
        before that If, named under their scopes (``pick/then_branch/conv``,
        as the int8 plan and calibration name them; detail empty)."""
        return list(self._native.layers(branches))

    def network(self) -> _core.Network:
        """The lowered network this engine runs (a copy): its nodes carry the
        engine's layer names and ops, int8 tensors are named ``<tensor>::int8``;
        the layers an INT8 image chain runs image by image are each listed
        (:meth:`layers` shows the chain as one, ``engine/int8_image_chain.h``).
        For tools that read the engine's graph (``int8rt compare``, Q/DQ export)."""
        return self._native.network()

    def int8_plan(self) -> Optional[_core.Int8Plan]:
        """What the INT8 lowering decided, as data (``csrc/include/int8rt/int8_plan.h``):
        ``tensors`` (each tensor held in int8: ``tensor``, ``int8_tensor``,
        ``scale``, ``zero_point`` (0, or -128 for an unsigned activation; docs/numerics.md), ``producer``,
        ``produced_in_int8``, ``readers``, ``channel_scales``: one scale per channel where a
        pre-quantized model quantizes the tensor per channel, ``scale`` then 0), ``layers``
        (each int8 layer: ``name``, ``op``, ``sources``, the network's nodes it
        computes, merged ones listed) and ``converts`` (each Quantize /
        Dequantize inserted: ``tensor``, ``scale``, ``readers``,
        ``network_output``, ``reason``). None for an FP32 engine and for an
        engine loaded from a file or bytes: engine files do not keep the plan."""
        return self._native.int8_plan()

    def scales(self) -> dict[str, float]:
        """The activation scales the engine was built with (tensor name -> scale)."""
        out: dict[str, float] = {}
        for line in self.metadata.get("scales", "").splitlines():
            name, _, hexbits = line.rpartition(": ")
            out[name] = scale_from_hex(hexbits)
        return out

    def build_report(self) -> "BuildReport":
        """What the INT8 build measured: per int8 tensor clipping and SQNR, per
        output INT8-vs-FP32 error, and the warnings (int8rt/accuracy/report.py).
        Saved in the engine file. Engines built without calibration data (FP32,
        a calibration cache) or before int8rt had reports give an unmeasured
        report saying why."""
        from .accuracy.report import METADATA_KEY, BuildReport

        text = self.metadata.get(METADATA_KEY)
        if text is None:
            reason = "an FP32 engine" if self.precision == "fp32" else "the engine has no build report"
            return BuildReport(measured=False, reason=reason)
        return BuildReport.from_json(text)

    def report(self) -> list[str]:
        """What the builder decided and why (passes applied, layers kept in FP32)."""
        return [line for line in self.metadata.get("report", "").splitlines() if line]

    # ---- running ----
    def create_execution_context(self) -> ExecutionContext:
        return ExecutionContext(self._native.create_execution_context(), self)

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Convenience: runs on a context the engine keeps for these calls,
        so repeated calls reuse its buffers as a context's own runs do.
        Thread-safe: a call that finds every kept context busy (another
        thread running) makes one more, kept too."""
        with self._idle_lock:
            ctx = self._idle_contexts.pop() if self._idle_contexts else None
        if ctx is None:
            ctx = self.create_execution_context()
        try:
            return ctx.run(inputs)
        finally:
            with self._idle_lock:
                self._idle_contexts.append(ctx)

    def device_array(self, shape: Sequence[int]) -> DeviceArray:
        """A new float32 :class:`DeviceArray` on this engine's device (engines
        on a GPU only; NotSupportedError on the CPU)."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise InvalidArgumentError(f"device_array: negative dimension in {shape}")
        return DeviceArray(self._native.allocate_device(4 * int(np.prod(shape, dtype=np.int64))), shape)

    def __repr__(self) -> str:
        return (f"Engine(precision={self.precision!r}, device={self.device!r}, inputs={self.input_names}, "
                f"outputs={self.output_names}, layers={len(self.layers())})")
