"""Calibration data from what users already have, served through TensorRT's
calibrator protocol (``get_batch(names)``), so the builder's loop, checks and
cache handling stay the one path every source goes through.

Accepted sources (:func:`source_batches` says which is which):

- an ONNX Runtime ``CalibrationDataReader``: anything with ``get_next()``
  returning ``{input name: array}`` and ``None`` at the end (duck-typed, so
  onnxruntime need not be installed);
- an ``nncf.Dataset``-like object: ``get_inference_data()`` (and
  ``get_length()``), duck-typed too;
- an ``(iterable, transform)`` pair, as ``nncf.Dataset(items, transform_fn)``
  takes: each item goes through ``transform`` first;
- any other iterable of batches: ``{input name: array}`` dicts (keys that
  are not inputs, e.g. ``labels``, are dropped), tuples/lists of arrays in
  input order (trailing extras, e.g. a DataLoader's labels, are dropped) or
  bare arrays (single-input models). A PyTorch ``DataLoader`` is such an
  iterable.

Each item is one batch with its batch axis (the calibrator reports
``get_batch_size() == 1``, TensorRT's explicit-batch convention). Tensors
become NumPy arrays without a copy where the memory allows it: PyTorch CPU
tensors and any object with ``__dlpack__`` on the CPU go through
``numpy.from_dlpack``; device tensors are copied to the host once.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

from .._errors import InvalidArgumentError
from .cache import CacheFile

__all__ = ["IterableCalibrator", "is_batch_source", "source_batches", "to_numpy"]

logger = logging.getLogger("int8rt")

_DLPACK_CPU = 1  # kDLCPU in DLPack's DLDeviceType


def to_numpy(value: Any) -> np.ndarray:
    """``value`` as a NumPy array, sharing its memory when it is on the CPU.

    PyTorch tensors are detached first (a tensor that requires grad cannot be
    exported); objects with ``__dlpack__`` on the CPU are viewed through
    ``numpy.from_dlpack``; those on a device with ``.cpu()`` (torch, ...)
    are copied to the host once; anything else goes through ``numpy.asarray``.
    """
    if isinstance(value, np.ndarray):
        return value
    if callable(getattr(value, "detach", None)):
        value = value.detach()
    dlpack_device = getattr(value, "__dlpack_device__", None)
    if callable(getattr(value, "__dlpack__", None)) and callable(dlpack_device):
        if int(dlpack_device()[0]) != _DLPACK_CPU and callable(getattr(value, "cpu", None)):
            value = value.cpu()
            dlpack_device = value.__dlpack_device__
        if int(dlpack_device()[0]) == _DLPACK_CPU:
            try:
                return np.from_dlpack(value)
            except (TypeError, BufferError, RuntimeError) as e:  # e.g. bfloat16, which NumPy lacks
                logger.debug("numpy.from_dlpack(%s) failed (%s); converting with numpy.asarray",
                             type(value).__name__, e)
    return np.asarray(value)


def is_batch_source(source: Any) -> bool:
    """Whether :func:`source_batches` accepts ``source`` (not a str, bytes,
    NumPy array or mapping: those are files or whole data sets)."""
    if isinstance(source, (str, bytes, np.ndarray, Mapping)):
        return False
    return (callable(getattr(source, "get_next", None)) or callable(getattr(source, "get_inference_data", None))
            or _is_pair(source) or isinstance(source, Iterable))


def _is_pair(source: Any) -> bool:
    return (isinstance(source, tuple) and len(source) == 2 and callable(source[1])
            and isinstance(source[0], Iterable) and not isinstance(source[0], (str, bytes)))


def _length(obj: Any) -> Optional[int]:
    try:
        n = len(obj)
    except (TypeError, NotImplementedError):  # ONNX Runtime's reader base raises the latter
        return None
    return n if n > 0 else None


def source_batches(source: Any) -> tuple[Callable[[], Iterator[Any]], Optional[int], str]:
    """``(make_iterator, number of batches or None, description)`` for a source."""
    get_next = getattr(source, "get_next", None)
    if callable(get_next):
        return (lambda: iter(get_next, None)), _length(source), type(source).__name__
    get_data = getattr(source, "get_inference_data", None)
    if callable(get_data):
        get_length = getattr(source, "get_length", None)
        length = get_length() if callable(get_length) else None
        return (lambda: iter(get_data())), (length or None), type(source).__name__
    if _is_pair(source):
        items, transform = source
        return (lambda: map(transform, items)), _length(items), f"({type(items).__name__}, transform)"
    if isinstance(source, Iterable) and not isinstance(source, (str, bytes, np.ndarray, Mapping)):
        return (lambda: iter(source)), _length(source), type(source).__name__
    raise TypeError(
        f"calibration data of type {type(source).__name__} is not understood: pass an int8rt calibrator, "
        "an ONNX Runtime CalibrationDataReader (get_next()), an iterable of batches ({input name: array} "
        "dicts, tuples of arrays or arrays; a PyTorch DataLoader), an (iterable, transform) pair, or "
        "{input name: array} of the whole data set")


class IterableCalibrator(CacheFile):
    """Serves a batch source (see the module docstring) as TensorRT-style
    batches; mixed in before a calibrator class by ``make_calibrator``, which
    fixes the algorithm.

    Args:
        source: the batches.
        cache_file: read if present (and used when its algorithm matches),
            written after calibration.
        **options: the calibrator base's options (``num_bins``, ``policy``, ...).
    """

    def __init__(self, source: Any, *, cache_file: Optional[str] = None, **options: Any) -> None:
        super().__init__(**options)  # the calibrator base
        self._make_iter, self._count, self._what = source_batches(source)
        self._iter: Optional[Iterator[Any]] = None
        self._cache_file = cache_file
        self._index = 0
        self._dropped_logged = False

    def __len__(self) -> int:
        """Batches in the source; TypeError when the source has no length."""
        if self._count is None:
            raise TypeError(f"the calibration source ({self._what}) has no length")
        return self._count

    def get_batch_size(self) -> int:
        return 1  # the batch axis is in each array's shape (explicit batch)

    def get_batch(self, names: list[str]) -> Optional[dict[str, np.ndarray]]:
        if self._iter is None:
            self._iter = self._make_iter()
        item = next(self._iter, None)
        if item is None:
            return None
        self._index += 1
        return self._named(item, names)

    def _named(self, item: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
        where = f"calibration batch {self._index} from {self._what}"
        if isinstance(item, Mapping):
            missing = [n for n in names if n not in item]
            if missing:
                raise InvalidArgumentError(f"{where}: no array for input '{missing[0]}' "
                                           f"(it has: {', '.join(map(str, item))})")
            self._log_dropped([k for k in item if k not in names], where)
            return {n: to_numpy(item[n]) for n in names}
        if isinstance(item, (tuple, list)):
            if len(item) < len(names):
                raise InvalidArgumentError(f"{where}: {len(item)} arrays for {len(names)} inputs "
                                           f"({', '.join(names)}); one per input is needed, in that order")
            self._log_dropped([f"element {i}" for i in range(len(names), len(item))], where)
            return {n: to_numpy(v) for n, v in zip(names, item)}
        if len(names) != 1:
            raise InvalidArgumentError(f"{where}: one array for {len(names)} inputs ({', '.join(names)}); "
                                       "yield {input name: array} dicts or tuples in input order")
        return {names[0]: to_numpy(item)}

    def _log_dropped(self, dropped: list[str], where: str) -> None:
        if dropped and not self._dropped_logged:
            self._dropped_logged = True
            logger.info("%s: not a model input, ignored: %s", where, ", ".join(map(str, dropped)))
