"""TensorRT's calibration cache: write it, read it.

The format (csrc/calib/cache_format.cc has the grammar) is a header line
``TRT-<version>-<algorithm>`` followed by one ``<tensor name>: <hex>`` line per
tensor, ``<hex>`` being the bits of the float32 scale (``amax / 127``) in
lowercase hexadecimal without leading zeros. ``version`` is TensorRT's encoded
version number (``8601`` is 8.6.1, ``101303`` is 10.13.3). int8rt writes
``MSECalibration`` as the header name of its ``mse`` method, a name TensorRT
does not know: such a cache is for int8rt only.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Union

from .. import _core
from .channel_ranges import SIDECAR_SUFFIX

__all__ = ["CacheFile", "cache_algorithm_name", "read_cache", "write_cache"]

DEFAULT_VERSION = 8601  # TensorRT 8.6.1, the most widely deployed cache version


def _encode(name: str) -> bytes:
    # surrogateescape: a name read from a cache that was not valid UTF-8 is written back unchanged
    return name.encode("utf-8", "surrogateescape")


def cache_algorithm_name(algorithm: str) -> str:
    """The cache header name (``"EntropyCalibration2"``, ...) for ``algorithm``.

    ``algorithm`` is an int8rt method name (``"entropy"``, ``"entropy_legacy"``,
    ``"minmax"``, ``"percentile"``, ``"mse"``, ``"auto"``) or already a header name.
    Raises ``InvalidArgumentError`` for anything else.
    """
    from ..calibrator import AUTO_CACHE_NAME

    if algorithm in ("auto", AUTO_CACHE_NAME):  # IInt8AutoCalibrator: a Python-side algorithm
        return AUTO_CACHE_NAME
    return _core.cache_algorithm_name(algorithm)


def write_cache(scales: Mapping[str, float], algorithm: str = "entropy",
                version: int = DEFAULT_VERSION) -> bytes:
    """Serialise per-tensor scales as a TensorRT calibration cache.

    Args:
        scales: tensor name -> scale (``amax / 127``); each value is rounded to
            float32, entries are written in the mapping's order.
        algorithm: a method name or TensorRT header name (see
            :func:`cache_algorithm_name`).
        version: TensorRT's encoded version for the header, e.g. 8601 or 101303.

    Returns:
        The cache bytes, ready for ``write_calibration_cache`` or a file.

    Raises:
        InvalidArgumentError: unknown algorithm, negative version, an empty or
            multi-line tensor name, or a negative or NaN scale (naming the tensor).
    """
    header = cache_algorithm_name(algorithm)
    entries = [(_encode(name), float(scale)) for name, scale in scales.items()]
    return _core.write_cache(header, int(version), entries)


def read_cache(data: Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]
               ) -> tuple[str, int, dict[str, float]]:
    """Parse a TensorRT calibration cache.

    Args:
        data: the cache contents as bytes or text, or a path (``pathlib.Path``
            or other ``os.PathLike``; a plain ``str`` is contents, not a path).

    Returns:
        ``(algorithm, version, scales)``: the header's algorithm name (such as
        ``"EntropyCalibration2"``), TensorRT's encoded version, and tensor name
        -> scale (float32 values) in file order.

    Raises:
        FormatError: a malformed header or line, a tensor listed twice, or a
            NaN or negative scale (which :func:`write_cache` refuses too; zero
            and +inf are read, as TensorRT writes them); the message names the
            line number (and the file, for a path).
    """
    if isinstance(data, os.PathLike):
        path = os.fspath(data)
        with open(path, "rb") as f:
            raw = f.read()
        try:
            return read_cache(raw)
        except _core.FormatError as e:
            raise _core.FormatError(f"{path}: {e}") from None
    if isinstance(data, str):
        raw = _encode(data)
    else:
        raw = bytes(data)
    algorithm, version, entries = _core.read_cache(raw)
    return algorithm, version, dict(entries)


class CacheFile:
    """Mixin: ``read_calibration_cache`` / ``write_calibration_cache`` over the
    file ``self._cache_file`` (None: no cache), and the per-channel
    activation ranges and calibration input shapes (channel_ranges.py) over the sidecar
    ``<cache file>.channels.json``. Reads a file when it exists; writes it
    atomically (a temporary file, then a rename)."""

    _cache_file: Optional[str] = None

    def read_calibration_cache(self) -> Optional[bytes]:
        return _read(self._cache_file)

    def write_calibration_cache(self, cache: bytes) -> None:
        _write(self._cache_file, cache)

    def read_channel_ranges(self) -> Optional[bytes]:
        return _read(self._cache_file and self._cache_file + SIDECAR_SUFFIX)

    def write_channel_ranges(self, data: bytes) -> None:
        _write(self._cache_file and self._cache_file + SIDECAR_SUFFIX, data)


def _read(path: Optional[str]) -> Optional[bytes]:
    return Path(path).read_bytes() if path and os.path.exists(path) else None


def _write(path: Optional[str], data: bytes) -> None:
    if path:
        tmp = f"{path}.tmp.{os.getpid()}"
        Path(tmp).write_bytes(data)
        os.replace(tmp, path)
