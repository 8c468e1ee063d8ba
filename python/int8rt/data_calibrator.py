"""Calibrators over data on disk or in memory, for the CLI and quick scripts.

``ArrayCalibrator`` serves batches from ``{input name: array}`` whose first
axis is the sample axis (a 0-d array, a mode input such as Silero VAD's
sample rate, goes whole with every batch); ``load_calibration_data`` reads such a mapping from
an ``.npz`` file, a ``.npy`` file (single-input models), or a folder of either
(concatenated in sorted file order) — and from a folder of images when
Pillow is installed (preprocessed as :mod:`int8rt.calib.images` says:
resized, scaled to [0, 1], normalised by mean and std, in the model's
layout). ``make_calibrator`` also takes the batch sources of
:mod:`int8rt.calib.sources` (ONNX Runtime readers, DataLoaders, iterables).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from .calib.cache import CacheFile
from .calib.images import ImageBatches, ImageOptions, load_images
from .calib.sources import IterableCalibrator, is_batch_source
from .calibrator import (IInt8AutoCalibrator, IInt8Calibrator, IInt8EntropyCalibrator, IInt8EntropyCalibrator2,
                         IInt8LegacyCalibrator, IInt8MinMaxCalibrator, IInt8MSECalibrator)

__all__ = ["ArrayCalibrator", "CALIBRATOR_CLASSES", "RENAMED_CALIBRATORS", "calibrator_name", "load_calibration_data",
           "make_calibrator"]

# One vocabulary: each calibrator by the name of the method it runs, the
# name the build report, int8rt.calib (Collector, compute_amax), the C++
# method table and the cache header's mapping use (CalibrationAlgoType.method:
# entropy is TensorRT's EntropyCalibration2, entropy_legacy its
# EntropyCalibration), and auto.
CALIBRATOR_CLASSES: dict[str, type] = {
    cls.get_algorithm(None).method: cls  # a constant of the class; self unused
    for cls in (IInt8AutoCalibrator, IInt8EntropyCalibrator2, IInt8EntropyCalibrator, IInt8MinMaxCalibrator,
                IInt8LegacyCalibrator, IInt8MSECalibrator)
}

# Names make_calibrator and `int8rt build --calibrator` took before
# 2026-12-05, still accepted with a warning: entropy2 was EntropyCalibration2
# (now entropy). Until then, entropy there named the legacy EntropyCalibration
# (now entropy_legacy): that name now means EntropyCalibration2, as everywhere
# else in int8rt.
RENAMED_CALIBRATORS: dict[str, str] = {"entropy2": "entropy"}


def calibrator_name(algorithm: str) -> str:
    """The name in :data:`CALIBRATOR_CLASSES` for ``algorithm``: itself, or
    for a renamed one (:data:`RENAMED_CALIBRATORS`) its new name, with a
    ``FutureWarning`` saying so. Raises ``ValueError`` for an unknown name."""
    if algorithm in RENAMED_CALIBRATORS:
        new = RENAMED_CALIBRATORS[algorithm]
        warnings.warn(f"calibrator {algorithm!r} is now called {new!r} (TensorRT's EntropyCalibration2, the name "
                      f"the build report and the calibration cache's algorithm use); the legacy EntropyCalibration "
                      f"is 'entropy_legacy'", FutureWarning, stacklevel=3)
        return new
    if algorithm not in CALIBRATOR_CLASSES:
        raise ValueError(f"unknown calibrator {algorithm!r}; choose from {', '.join(CALIBRATOR_CLASSES)}")
    return algorithm

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".webp"}


class ArrayCalibrator(CacheFile):
    """Serves ``data`` in batches; mixed in before a TensorRT calibrator class
    by :func:`make_calibrator`, which fixes the algorithm. ``cache_file`` is
    read when present and written after calibration (:class:`CacheFile`)."""

    def __init__(self, data: Mapping[str, np.ndarray], *, batch_size: int = 32,
                 cache_file: Optional[str] = None, **options: object) -> None:
        super().__init__(**options)  # the calibrator base (num_bins, policy, ...)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        # A 0-d array (Silero VAD's sample rate) has no sample axis: it goes whole with every batch.
        sizes = {name: len(a) for name, a in data.items() if np.ndim(a) > 0}
        if not sizes:
            raise ValueError("calibration data needs an array with a sample axis (first axis = samples)")
        if len(set(sizes.values())) != 1:
            raise ValueError(f"calibration arrays have different sample counts: {sizes}")
        # Float data as float32; integer and bool data (token ids, masks, byte values) keep their
        # dtype, which the build checks against the network input's (calib.session.input_arrays).
        self._data = {name: np.asarray(a, dtype=np.float32) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
                      for name, a in data.items()}
        self._count = next(iter(sizes.values()))
        # Fewer samples than one batch: one batch of all of them (its size is
        # the batch size, so the batch-axis check holds).
        self._batch_size = max(1, min(batch_size, self._count))
        self._cache_file = cache_file
        self._offset = 0

    def get_batch_size(self) -> int:
        return self._batch_size

    def get_batch(self, names: list[str]) -> Optional[list[np.ndarray]]:
        if self._offset >= self._count:
            return None
        missing = [n for n in names if n not in self._data]
        if missing:
            raise KeyError(f"calibration data has no array for input {missing[0]!r} "
                           f"(it has: {', '.join(self._data)})")
        end = min(self._offset + self._batch_size, self._count)
        batch = [self._data[n][self._offset:end] if self._data[n].ndim else self._data[n] for n in names]
        self._offset = end
        return batch

    @property
    def num_batches(self) -> int:
        return (self._count + self._batch_size - 1) // self._batch_size


def make_calibrator(data: Any, *, algorithm: str = "auto", batch_size: int = 32,
                    cache_file: Optional[str] = None, **options: object) -> IInt8Calibrator:
    """A calibrator of the TensorRT class for ``algorithm`` serving ``data``.

    ``data`` is what you have: ``{input name: array}`` of the whole data set
    (first axis = samples, served ``batch_size`` at a time), or a batch source
    (:mod:`int8rt.calib.sources`): an ONNX Runtime ``CalibrationDataReader``,
    a PyTorch ``DataLoader`` or any iterable of batches (``{name: array}``
    dicts, tuples of arrays, arrays), an ``(iterable, transform)`` pair as
    ``nncf.Dataset`` takes, or an ``nncf.Dataset``; a batch source sets its
    own batch size and ``batch_size`` is not used. An int8rt calibrator is
    returned unchanged.

    ``algorithm`` is one of ``auto`` (the default: int8rt's per-tensor choice,
    :class:`int8rt.IInt8AutoCalibrator`), ``entropy`` (TensorRT's default,
    EntropyCalibration2), ``entropy_legacy`` (TensorRT's EntropyCalibration),
    ``minmax``, ``percentile``, ``mse`` (``entropy2``, its name until
    2026-12-05, is accepted with a warning: :func:`calibrator_name`);
    ``options`` go to the calibrator (``num_bins``, ``policy``, ...). A cache file that
    exists is read (and, as in TensorRT, used when its algorithm matches); the
    computed cache is written to it atomically.
    """
    if isinstance(data, IInt8Calibrator):
        return data
    base = CALIBRATOR_CLASSES[calibrator_name(algorithm)]
    if isinstance(data, Mapping):
        cls = type(f"Array{base.__name__}", (ArrayCalibrator, base), {})
        return cls(data, batch_size=batch_size, cache_file=cache_file, **options)
    if callable(getattr(data, "get_batch", None)):
        raise TypeError(f"{type(data).__name__} has get_batch() but does not derive from an int8rt calibrator "
                        "class; code written for TensorRT ports by importing the base class from int8rt "
                        "instead of tensorrt (class C(int8rt.IInt8EntropyCalibrator2))")
    if is_batch_source(data):
        cls = type(f"Iterable{base.__name__}", (IterableCalibrator, base), {})
        return cls(data, cache_file=cache_file, **options)
    raise TypeError(f"make_calibrator: calibration data of type {type(data).__name__} is not understood; "
                    "pass {input name: array}, a CalibrationDataReader, an iterable of batches "
                    "(a DataLoader), or an (iterable, transform) pair")


def load_calibration_data(path: str | os.PathLike[str], input_names: Sequence[str],
                          input_shapes: Optional[Mapping[str, Sequence[int]]] = None, *,
                          images: Optional[ImageOptions] = None,
                          report: Optional[Callable[[str], None]] = None,
                          batch_size: Optional[int] = None) -> Union[dict[str, np.ndarray], ImageBatches]:
    """Reads calibration data (see the module docstring) as ``{input name: array}``.

    A folder of images is preprocessed as ``images`` says (default
    :class:`~int8rt.calib.images.ImageOptions()`: mean 0, std 1, the model's
    size), checked against the input's shape in ``input_shapes``;
    ``report`` gets one line saying what was done to them. With
    ``batch_size``, the images come back as :class:`ImageBatches` instead,
    decoded one batch at a time while calibration runs (for
    :func:`make_calibrator`), so a large folder need not fit in memory."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"calibration data {str(p)!r} does not exist")
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    arrays = [f for f in files if f.suffix in (".npz", ".npy")]
    image_files = [f for f in files if f.suffix.lower() in _IMAGE_SUFFIXES]
    if image_files and not arrays:
        if len(input_names) != 1:
            raise ValueError("a folder of images can only feed a single-input model")
        shape = (input_shapes or {}).get(input_names[0])
        if shape is None:
            raise ValueError("reading images needs the model's input shape")
        options = (images or ImageOptions()).resolve(input_names[0], shape)
        if report is not None:
            report(f"calibration images: {len(image_files)} files from {p}, {options.describe()}")
        if batch_size is not None:
            return ImageBatches(image_files, input_names[0], options, batch_size)
        return {input_names[0]: load_images(image_files, input_names[0], options)}
    if not arrays:
        raise ValueError(f"no .npz, .npy or image files in {str(p)!r}")
    parts: dict[str, list[np.ndarray]] = {}
    for f in arrays:
        if f.suffix == ".npy":
            if len(input_names) != 1:
                raise ValueError(f"{f.name}: .npy files can only feed a single-input model; use .npz keyed by input name")
            parts.setdefault(input_names[0], []).append(np.load(f))
        else:
            with np.load(f) as z:
                for name in input_names:
                    if name not in z.files:
                        raise KeyError(f"{f.name} has no array named {name!r} (it has: {', '.join(z.files)})")
                    parts.setdefault(name, []).append(z[name])
    # A 0-d input (Silero VAD's sample rate) has no samples to join: one value, the same in every file.
    for name, chunks in parts.items():
        if chunks[0].ndim == 0 and any(c.shape != () or c != chunks[0] for c in chunks):
            raise ValueError(f"input {name!r} is 0-d in one file and differs in another; one value feeds every batch")
    return {name: chunks[0] if chunks[0].ndim == 0 else np.concatenate(chunks) for name, chunks in parts.items()}
