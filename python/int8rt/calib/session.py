"""Framework-neutral calibration: drive a TensorRT-style calibrator with any
forward function, or push named activations into a session yourself.

:func:`calibrate` follows TensorRT's builder: it asks the calibrator for a
cache first and, if the cache's algorithm matches the calibrator's, uses it
without calling ``get_batch``; otherwise it pulls batches with
``get_batch(input_names)`` until ``None``, runs ``forward`` on each, streams
the inputs and every tensor ``forward`` returns into one histogram per tensor,
searches the thresholds with the calibrator's algorithm and hands the cache to
``write_calibration_cache``. :class:`CalibrationSession` is the same without
the loop, for activations captured by PyTorch hooks, ONNX Runtime outputs or
anything else.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from .. import _core
from .._numerics import amax_from_scale, scale_from_amax
from ..calibrator import CalibrationAlgoType, IInt8Calibrator
from ..progress import Progress, phase
from .cache import DEFAULT_VERSION, read_cache, write_cache
from .collector import Collector

__all__ = ["CalibrationResult", "CalibrationSession", "calibrate"]

logger = logging.getLogger("int8rt")

ProgressArg = Union[bool, None, Progress]
Forward = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]


@dataclass(frozen=True)
class CalibrationResult:
    """What a calibration produced.

    Attributes:
        scales: tensor name -> TensorRT scale (``amax / 127``, a float32 value).
        amaxes: tensor name -> threshold. From a cache, which holds scales
            only, this is ``scale * 127`` in float32.
        cache: the calibration cache bytes (TensorRT's format).
        from_cache: True when the calibrator's cache was used as is.
        num_batches: batches observed (0 from a cache).
        algorithm: the cache header's algorithm name, e.g. ``"EntropyCalibration2"``.
    """

    scales: dict[str, float]
    amaxes: dict[str, float]
    cache: bytes
    from_cache: bool
    num_batches: int
    algorithm: str


def _settings(calibrator: IInt8Calibrator) -> dict[str, Any]:
    if not isinstance(calibrator, IInt8Calibrator):
        raise TypeError(
            f"expected an int8rt calibrator (a subclass of int8rt.IInt8EntropyCalibrator2 or "
            f"another int8rt calibrator class), got {type(calibrator).__name__}; code written "
            "for TensorRT ports by importing the base class from int8rt instead of tensorrt")
    return calibrator._int8rt_settings()


class CalibrationSession:
    """Push-style calibration with a calibrator's algorithm and cache.

    ``CalibrationSession(calibrator)`` reads the calibrator's cache at once:
    when it matches, :attr:`from_cache` is True, observations are not needed
    (and are ignored) and :meth:`finish` returns the cached scales. Otherwise
    :meth:`observe` each batch's named arrays and call :meth:`finish`, which
    computes the scales and calls ``write_calibration_cache``::

        session = int8rt.calib.CalibrationSession(MyCalibrator())
        if not session.from_cache:
            for batch in loader:
                session.observe(run_and_capture(batch))  # {tensor name: array}
        result = session.finish()

    Args:
        calibrator: an int8rt calibrator (its algorithm and options are used;
            ``get_batch`` is not called).
        cache_version: TensorRT version number written in the cache header.
    """

    def __init__(self, calibrator: IInt8Calibrator, *, cache_version: int = DEFAULT_VERSION) -> None:
        settings = _settings(calibrator)
        self._calibrator = calibrator
        self._algorithm: CalibrationAlgoType = settings.pop("algorithm")
        self._header = self._algorithm.cache_name
        self._version = int(cache_version)
        self._num_batches = 0
        self._ignored_warned = False
        self._result: Optional[CalibrationResult] = self._result_from_cache()
        self._collector: Optional[Collector] = None
        if self._result is None:
            method = settings.pop("method")
            # "auto" chooses among every method's thresholds itself (finish(amaxes=...));
            # its histograms are the same as any method's.
            self._collector = Collector("entropy" if method == "auto" else method, **settings)

    def _result_from_cache(self) -> Optional[CalibrationResult]:
        data = self._calibrator.read_calibration_cache()
        if data is None:
            return None
        if not isinstance(data, (bytes, bytearray, memoryview, str)):
            raise TypeError(f"{type(self._calibrator).__name__}.read_calibration_cache() must return "
                            f"bytes or None, got {type(data).__name__}")
        if len(data) == 0:
            return None
        try:
            algorithm, version, scales = read_cache(data)
        except _core.FormatError as e:
            raise _core.FormatError(f"{type(self._calibrator).__name__}.read_calibration_cache() "
                                    f"returned a malformed cache: {e}") from None
        # A name that is not UTF-8 (read with surrogateescape) names no tensor and cannot cross into C++.
        scales = {n: s for n, s in scales.items() if not any("\udc80" <= c <= "\udcff" for c in n)}
        if algorithm != self._header:
            logger.warning("ignoring the calibration cache: it was written by %s calibration, but "
                           "%s uses %s (%s); calibrating instead", algorithm,
                           type(self._calibrator).__name__, self._header, self._algorithm.name)
            return None
        logger.info("using the calibration cache (TRT-%d-%s, %d tensors); calibration skipped",
                    version, algorithm, len(scales))
        amaxes = {name: amax_from_scale(s) for name, s in scales.items()}
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
        return CalibrationResult(scales=scales, amaxes=amaxes, cache=raw, from_cache=True,
                                 num_batches=0, algorithm=algorithm)

    @property
    def from_cache(self) -> bool:
        """True when the calibrator's cache is used and no data is needed."""
        return self._result is not None and self._result.from_cache

    @property
    def num_batches(self) -> int:
        """Batches observed so far."""
        return self._num_batches

    @property
    def collector(self) -> Optional[Collector]:
        """The histograms (None when the cache is used), e.g. to merge shards."""
        return self._collector

    def _active(self) -> Optional[Collector]:
        if self._result is not None and not self.from_cache:
            raise _core.InvalidArgumentError("this calibration session is finished")
        if self._collector is None and not self._ignored_warned:
            self._ignored_warned = True
            logger.warning("the calibrator's cache is used: observed data is ignored "
                           "(check CalibrationSession.from_cache to skip the forward passes)")
        return self._collector

    def observe(self, tensors: Mapping[str, Any]) -> None:
        """Adds one batch of named arrays (float32/float16/float64, any shape)."""
        collector = self._active()
        if collector is not None:
            collector.observe(tensors)
            self._num_batches += 1

    def observe_with(self, feed: Callable[[Collector], None]) -> None:
        """Adds one batch that ``feed(collector)`` streams into the collector
        itself (the engine builder runs the network in C++ and observes every
        activation there, without copying them out to Python)."""
        collector = self._active()
        if collector is not None:
            feed(collector)
            self._num_batches += 1

    def observe_range(self, tensors: Mapping[str, Any]) -> None:
        """First pass of ``policy="two_pass"`` (see :meth:`Collector.observe_range`)."""
        collector = self._active()
        if collector is not None:
            collector.observe_range(tensors)

    def finish(self, amaxes: Optional[Mapping[str, float]] = None, *,
               progress: ProgressArg = False) -> CalibrationResult:
        """Computes the scales, calls ``write_calibration_cache`` once, returns the result.

        ``amaxes`` (tensor name -> threshold, every observed tensor) replaces
        the calibrator's threshold search; the engine builder passes the
        thresholds of ``IInt8AutoCalibrator``, which needs the network and so
        cannot run here without them. ``progress``: show the threshold search
        as a phase."""
        if self._result is not None:
            return self._result
        assert self._collector is not None
        if self._num_batches == 0:
            raise _core.InvalidArgumentError(
                "no data was observed: calibration needs at least one batch")
        if amaxes is None and self._algorithm is CalibrationAlgoType.AUTO_CALIBRATION:
            raise _core.NotSupportedError(
                f"{type(self._calibrator).__name__} (IInt8AutoCalibrator) chooses thresholds by running "
                "the network's layers: build with int8rt.build_engine, or pick another calibrator here")
        if amaxes is None:
            with phase(progress, "thresholds", total=len(self._collector), unit="tensor") as bar:
                amaxes = self._collector.amaxes()  # one parallel search in C++
                bar.update(len(amaxes))
        amaxes = dict(amaxes)
        scales = {name: scale_from_amax(a) for name, a in amaxes.items()}
        cache = write_cache(scales, self._header, self._version)
        self._result = CalibrationResult(scales=scales, amaxes=amaxes, cache=cache, from_cache=False,
                                         num_batches=self._num_batches, algorithm=self._header)
        self._calibrator.write_calibration_cache(cache)
        logger.info("calibrated %d tensors over %d batches (%s)", len(scales), self._num_batches,
                    self._header)
        return self._result


def input_arrays(calibrator: IInt8Calibrator, inputs: dict[str, np.ndarray],
                 dtypes: Optional[Mapping[str, str]] = None) -> dict[str, np.ndarray]:
    """A calibration batch as C-contiguous arrays of the network inputs'
    dtypes (``dtypes``: name -> "float32" / "int64" / "int32" / "int8" /
    "bool"; float32 where absent), each of the shape it was fed (a 0-d
    input stays 0-d). Float data is converted to float32. Integer or
    bool data for a float32 input (uint8 pixels, ids, masks) would calibrate
    the network on values it never sees in use, so it is refused by name; so
    is float data for an integer input (token ids as floats), and anything but
    bool data for a bool input (a mask)."""
    out = {}
    for name, a in inputs.items():
        dtype = (dtypes or {}).get(name, "float32")
        if dtype == "float32" and a.dtype.kind != "f":
            raise _core.InvalidArgumentError(
                f"{type(calibrator).__name__}.get_batch(): input {name!r} has dtype {a.dtype}, but the network "
                "input is float32; convert it (e.g. batch.astype(np.float32), normalised as the model expects)")
        if dtype == "bool" and a.dtype.kind != "b":
            raise _core.InvalidArgumentError(
                f"{type(calibrator).__name__}.get_batch(): input {name!r} has dtype {a.dtype}, but the network "
                "input is bool; pass a bool array (e.g. mask != 0)")
        if dtype not in ("float32", "bool") and a.dtype.kind not in "iu":
            raise _core.InvalidArgumentError(
                f"{type(calibrator).__name__}.get_batch(): input {name!r} has dtype {a.dtype}, but the network "
                f"input is {dtype}; pass integers")
        out[name] = np.asarray(a, dtype=dtype, order="C")  # not ascontiguousarray: it makes a 0-d input [1]
    return out


class _BatchChecker:
    """Turns what get_batch returned into {input name: array}, checking count,
    names, dtype, rank and batch size against the first batch."""

    def __init__(self, owner: str, names: Sequence[str], batch_size: int,
                 shapes: Optional[Mapping[str, Sequence[int]]] = None) -> None:
        self.owner, self.names, self.batch_size = owner, list(names), batch_size
        self.shapes = {n: [int(d) for d in s] for n, s in (shapes or {}).items()}
        self.first: dict[str, tuple[int, np.dtype]] = {}
        self.short_batch: Optional[int] = None  # index of a short (final) batch, once seen

    def __call__(self, batch: Any, index: int) -> Optional[dict[str, np.ndarray]]:
        if batch is None or batch is False:
            return None
        if isinstance(batch, Mapping):
            if len(batch) == 0:
                return None
            unknown = [k for k in batch if k not in self.names]
            if unknown:
                raise _core.InvalidArgumentError(
                    f"{self.owner}.get_batch() batch {index}: unknown input {unknown[0]!r} "
                    f"(inputs: {', '.join(self.names)})")
            missing = [n for n in self.names if n not in batch]
            if missing:
                raise _core.InvalidArgumentError(
                    f"{self.owner}.get_batch() batch {index}: no array for input {missing[0]!r}")
            values = [batch[n] for n in self.names]
        elif isinstance(batch, (list, tuple)):
            if len(batch) == 0:
                return None
            if len(batch) != len(self.names):
                raise _core.InvalidArgumentError(
                    f"{self.owner}.get_batch() batch {index}: returned {len(batch)} arrays for "
                    f"{len(self.names)} inputs ({', '.join(self.names)}); one per name is needed")
            values = list(batch)
        else:
            raise _core.InvalidArgumentError(
                f"{self.owner}.get_batch() must return a list with one array per input name, a dict "
                f"keyed by input name, or None when done; got {type(batch).__name__}")
        return {n: self._check(n, v, index) for n, v in zip(self.names, values)}

    def _check(self, name: str, value: Any, index: int) -> np.ndarray:
        where = f"{self.owner}.get_batch() batch {index}, input {name!r}"
        if isinstance(value, int) and not isinstance(value, bool):
            raise _core.InvalidArgumentError(
                f"{where}: got an int, which looks like a device pointer (TensorRT style); "
                "int8rt needs the data itself as a host array (NumPy)")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise _core.InvalidArgumentError(f"{where}: dtype {arr.dtype} is not numeric")
        if name not in self.first:
            self.first[name] = (arr.ndim, arr.dtype)
        ndim, dtype = self.first[name]
        if arr.ndim != ndim:
            raise _core.InvalidArgumentError(
                f"{where}: rank {arr.ndim} (shape {arr.shape}), but the first batch had rank {ndim}")
        if arr.dtype != dtype:
            raise _core.InvalidArgumentError(
                f"{where}: dtype {arr.dtype}, but the first batch had dtype {dtype}")
        # The batch is axis 0 unless the model fixes that axis: then the model's
        # shape is checked below instead (an LSTM state [directions, batch, hidden]
        # has its batch on axis 1).
        axis0_fixed = bool(self.shapes.get(name)) and self.shapes[name][0] >= 0
        if self.batch_size > 1 and arr.ndim >= 1 and arr.shape[0] != self.batch_size and not axis0_fixed:
            # Only the final batch may be short (the remainder of the data set).
            short_last = index > 1 and 0 < arr.shape[0] < self.batch_size and self.short_batch in (None, index)
            if not short_last:
                raise _core.InvalidArgumentError(
                    f"{where}: first axis is {arr.shape[0]} (shape {arr.shape}) but "
                    f"get_batch_size() is {self.batch_size} (only the last batch may be smaller)")
            self.short_batch = index
        elif self.short_batch is not None and index > self.short_batch:
            raise _core.InvalidArgumentError(
                f"{where}: a batch follows the short batch {self.short_batch}; only the last batch may be smaller")
        if name in self.shapes:
            _check_model_shape(where, list(arr.shape), self.shapes[name])
        return arr


def _check_model_shape(where: str, got: list[int], want: list[int]) -> None:
    """A batch's shape against the model input's (-1: any size), the error
    naming the option that fixes the mismatch."""
    if len(got) == len(want) and all(w < 0 or w == g for g, w in zip(got, want)):
        return
    if len(got) == len(want) and all(w < 0 or w == g for g, w in zip(got[1:], want[1:])):
        n = want[0]
        raise _core.InvalidArgumentError(
            f"{where}: shape {got}, but the model's batch axis is fixed at {n} (shape {want}): calibrate in "
            f"batches of {n} (int8rt build --batch-size {n}; make_calibrator(..., batch_size={n})), or "
            "export the model with a dynamic batch axis")
    raise _core.InvalidArgumentError(
        f"{where}: shape {got}, but the model takes {want} (-1: any size); check the data's layout and "
        "size (for a folder of images: int8rt build --size H W --layout NCHW|NHWC)")


def expected_batches(calibrator: Any) -> Optional[int]:
    """How many batches the calibrator will serve, when it knows: ``len()``
    or a ``num_batches`` attribute (or method); None otherwise."""
    try:
        count = len(calibrator)
    except (TypeError, NotImplementedError):
        count = getattr(calibrator, "num_batches", None)
        if callable(count):
            count = count()
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        return None
    return int(count)


def pull_batches(calibrator: IInt8Calibrator, session: CalibrationSession, input_names: Sequence[str],
                 feed: Callable[[dict[str, np.ndarray]], None], *, progress: ProgressArg = False,
                 input_shapes: Optional[Mapping[str, Sequence[int]]] = None, owner: Optional[str] = None) -> None:
    """TensorRT's calibration loop: ``get_batch(names)`` until it returns None,
    each batch checked (count, names, rank, dtype, batch size, and the shapes
    in ``input_shapes`` where given, -1 matching any size) and handed to
    ``feed``, which must observe it into ``session``. Used by :func:`calibrate`
    and by the engine builder (which may pass a stand-in that replays the
    first batches, ``owner`` naming the calibrator's class in messages).
    Raises if the first ``get_batch`` ends the data.
    """
    owner = owner or type(calibrator).__name__
    names = [str(n) for n in input_names]
    if not names or len(set(names)) != len(names):
        raise _core.InvalidArgumentError(f"calibrate: input_names must be distinct and non-empty, got {names}")
    assert session.collector is not None
    if session.collector.policy == "two_pass":
        raise _core.InvalidArgumentError(
            "calibrate: policy 'two_pass' needs two passes over the data but get_batch() streams it "
            "once; use 'extend' or 'power_of_two', or a CalibrationSession with observe_range()")
    batch_size = calibrator.get_batch_size()
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise _core.InvalidArgumentError(f"{owner}.get_batch_size() returned {batch_size!r}; "
                                         "expected a positive int")
    check = _BatchChecker(owner, names, int(batch_size), input_shapes)
    with phase(progress, "calibrate", total=expected_batches(calibrator), unit="batch") as bar:
        while True:
            inputs = check(calibrator.get_batch(list(names)), session.num_batches + 1)
            if inputs is None:
                break
            feed(inputs)
            bar.update()
    if session.num_batches == 0:
        raise _core.InvalidArgumentError(
            f"calibrate: {owner}.get_batch() returned no batch on its first call; "
            "calibration needs at least one batch")


def calibrate(calibrator: IInt8Calibrator, forward: Forward, *, input_names: Sequence[str],
              progress: ProgressArg = False, cache_version: int = DEFAULT_VERSION) -> CalibrationResult:
    """Calibrates with a TensorRT-style calibrator and any forward function.

    Args:
        calibrator: an int8rt calibrator subclass instance (see :mod:`int8rt.calibrator`).
        forward: called with ``{input name: array}`` for each batch; returns
            ``{tensor name: array}`` of the activations to calibrate (float
            arrays, or anything ``numpy.asarray`` accepts). The float inputs
            are calibrated too; integer inputs (token ids) are only passed on.
        input_names: the network's input names, in the order ``get_batch``
            returns its arrays.
        progress: True (or an :class:`int8rt.Progress`) shows a bar per phase
            (calibration batches, threshold search) on stderr.
        cache_version: TensorRT version number written in the cache header.

    Returns:
        The scales, thresholds and cache; ``from_cache`` says whether the
        calibrator's cache was used (then ``get_batch`` was never called).

    Raises:
        InvalidArgumentError: a batch with the wrong count, rank, dtype or
            batch size (naming the input), no batch at all, or NaN/Inf in an
            activation (naming the tensor). Exceptions raised by the
            calibrator or ``forward`` propagate unchanged.
    """
    session = CalibrationSession(calibrator, cache_version=cache_version)
    if session.from_cache:
        return session.finish()

    def feed(inputs: dict[str, np.ndarray]) -> None:
        outputs = forward(dict(inputs))
        if not isinstance(outputs, Mapping):
            raise TypeError(f"forward must return a mapping {{tensor name: array}}, "
                            f"got {type(outputs).__name__}")
        observed: dict[str, Any] = {n: a for n, a in inputs.items() if a.dtype.kind == "f"}
        observed.update(outputs)
        session.observe(observed)

    pull_batches(calibrator, session, input_names, feed, progress=progress)
    return session.finish(progress=progress)
