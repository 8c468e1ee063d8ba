"""Calibrators over data on disk or in memory, for the CLI and quick scripts.

``ArrayCalibrator`` serves batches from ``{input name: array}`` whose first
axis is the sample axis; ``load_calibration_data`` reads such a mapping from
an ``.npz`` file, a ``.npy`` file (single-input models), or a folder of either
(concatenated in sorted file order) — and from a folder of images when
Pillow is installed (each image resized to the model's input height/width,
scaled to [0, 1], channels-first).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from .calibrator import (IInt8AutoCalibrator, IInt8Calibrator, IInt8EntropyCalibrator, IInt8EntropyCalibrator2,
                         IInt8LegacyCalibrator, IInt8MinMaxCalibrator, IInt8MSECalibrator)

__all__ = ["ArrayCalibrator", "CALIBRATOR_CLASSES", "load_calibration_data", "make_calibrator"]

CALIBRATOR_CLASSES: dict[str, type] = {
    "auto": IInt8AutoCalibrator,
    "entropy2": IInt8EntropyCalibrator2,
    "entropy": IInt8EntropyCalibrator,
    "minmax": IInt8MinMaxCalibrator,
    "percentile": IInt8LegacyCalibrator,
    "mse": IInt8MSECalibrator,
}

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".webp"}


class ArrayCalibrator:
    """Serves ``data`` in batches; mixed in before a TensorRT calibrator class
    by :func:`make_calibrator`, which fixes the algorithm."""

    def __init__(self, data: Mapping[str, np.ndarray], *, batch_size: int = 32,
                 cache_file: Optional[str] = None, **options: object) -> None:
        super().__init__(**options)  # the calibrator base (num_bins, policy, ...)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        sizes = {name: len(a) for name, a in data.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"calibration arrays have different sample counts: {sizes}")
        self._data = {name: np.asarray(a, dtype=np.float32) for name, a in data.items()}
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
        batch = [self._data[n][self._offset:end] for n in names]
        self._offset = end
        return batch

    @property
    def num_batches(self) -> int:
        return (self._count + self._batch_size - 1) // self._batch_size

    def read_calibration_cache(self) -> Optional[bytes]:
        if self._cache_file and os.path.exists(self._cache_file):
            return Path(self._cache_file).read_bytes()
        return None

    def write_calibration_cache(self, cache: bytes) -> None:
        if self._cache_file:
            tmp = f"{self._cache_file}.tmp.{os.getpid()}"
            Path(tmp).write_bytes(cache)
            os.replace(tmp, self._cache_file)


def make_calibrator(data: Mapping[str, np.ndarray], *, algorithm: str = "auto", batch_size: int = 32,
                    cache_file: Optional[str] = None, **options: object) -> IInt8Calibrator:
    """A calibrator of the TensorRT class for ``algorithm`` serving ``data``.

    ``algorithm`` is one of ``auto`` (the default: int8rt's per-tensor choice,
    :class:`int8rt.IInt8AutoCalibrator`), ``entropy2`` (TensorRT's default),
    ``entropy``, ``minmax``, ``percentile``, ``mse``;
    ``options`` go to the calibrator (``num_bins``, ``policy``, ...). A cache file that
    exists is read (and, as in TensorRT, used when its algorithm matches); the
    computed cache is written to it atomically.
    """
    try:
        base = CALIBRATOR_CLASSES[algorithm]
    except KeyError:
        raise ValueError(f"unknown calibrator {algorithm!r}; choose from {', '.join(CALIBRATOR_CLASSES)}") from None
    cls = type(f"Array{base.__name__}", (ArrayCalibrator, base), {})
    return cls(data, batch_size=batch_size, cache_file=cache_file, **options)


def _load_images(files: Sequence[Path], input_name: str, shape: Sequence[int]) -> dict[str, np.ndarray]:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading a folder of images needs Pillow (pip install pillow); "
                          "or pass an .npz file of arrays") from None
    if len(shape) != 4:
        raise ValueError(f"images need a 4-D NCHW input, {input_name!r} has shape {tuple(shape)}")
    channels, height, width = shape[1], shape[2], shape[3]
    mode = "L" if channels == 1 else "RGB"
    images = []
    for f in files:
        with Image.open(f) as im:
            im = im.convert(mode).resize((width, height))
            a = np.asarray(im, dtype=np.float32) / 255.0
        images.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    return {input_name: np.stack(images)}


def load_calibration_data(path: str | os.PathLike[str], input_names: Sequence[str],
                          input_shapes: Optional[Mapping[str, Sequence[int]]] = None) -> dict[str, np.ndarray]:
    """Reads calibration data (see the module docstring) as ``{input name: array}``."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"calibration data {str(p)!r} does not exist")
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    arrays = [f for f in files if f.suffix in (".npz", ".npy")]
    images = [f for f in files if f.suffix.lower() in _IMAGE_SUFFIXES]
    if images and not arrays:
        if len(input_names) != 1:
            raise ValueError("a folder of images can only feed a single-input model")
        shape = (input_shapes or {}).get(input_names[0])
        if shape is None:
            raise ValueError("reading images needs the model's input shape")
        return _load_images(images, input_names[0], shape)
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
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}
