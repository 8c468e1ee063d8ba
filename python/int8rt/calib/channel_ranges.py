"""Per-channel activation ranges beside TensorRT's calibration cache.

TensorRT's cache holds one scale per tensor (cache.py); a reader of that
format (TensorRT, int8rt's own strict parser, csrc/calib/cache_format.cc)
refuses any other line, so the per-channel maxima that per-channel grids
are built from (docs/numerics.md, "Per-channel grids of calibrated
activations": ``Builder.channel_ranges``, max |x| per channel over the
calibration batches) do not go into it. They go into a second blob that
int8rt's calibrators hand over and read back through two optional methods
of the calibrator, ``write_channel_ranges(data)`` and
``read_channel_ranges()`` (calibrator.py), the cache's own pattern;
:class:`~int8rt.calib.CacheFile` stores it in a sidecar file,
``<cache file>.channels.json``. A build whose cache hit reads it back and
gets the same per-channel grids as the calibrated build; without it the
build is per tensor, as before.

Format: JSON, ``{"format": "int8rt-channel-ranges", "version": 1,
"ranges": {tensor name: [m_0, m_1, ...]}}``, every m_k a float32 value
written as the decimal that reads back to it (Python's repr of the float32
widened to float64), >= 0 and finite.
"""
from __future__ import annotations

import json
import math
from typing import Mapping, Sequence

import numpy as np

from .. import _core

__all__ = ["FORMAT", "SIDECAR_SUFFIX", "VERSION", "decode_channel_ranges", "encode_channel_ranges"]

FORMAT = "int8rt-channel-ranges"
VERSION = 1
# CacheFile's sidecar: this suffix after the cache file's path
SIDECAR_SUFFIX = ".channels.json"


def _values(name: str, values: Sequence[float]) -> list[float]:
    out = [float(v) for v in np.asarray(values, np.float64).astype(np.float32)]
    if not out or not all(math.isfinite(v) and v >= 0.0 for v in out):
        raise _core.InvalidArgumentError(f"channel ranges of '{name}': need one finite value >= 0 per channel, "
                                         f"got {list(values)[:8]}")
    return out


def encode_channel_ranges(ranges: Mapping[str, Sequence[float]]) -> bytes:
    """``ranges`` (tensor name -> max |x| per channel) as the sidecar's bytes
    (each value rounded to float32; tensors in the mapping's order).
    Raises InvalidArgumentError for an empty name or a value that is
    negative, NaN or infinite (naming the tensor)."""
    body = {}
    for name, values in ranges.items():
        if not name:
            raise _core.InvalidArgumentError("channel ranges: empty tensor name")
        body[name] = _values(name, values)
    return json.dumps({"format": FORMAT, "version": VERSION, "ranges": body}, indent=1).encode("utf-8")


def decode_channel_ranges(data: bytes) -> dict[str, list[float]]:
    """The ranges in ``data`` (:func:`encode_channel_ranges`'s bytes).
    Raises FormatError for anything else: not JSON, another format or
    version, a tensor whose values are not a non-empty list of finite
    numbers >= 0."""
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _core.FormatError(f"channel ranges: not {FORMAT} JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise _core.FormatError(f"channel ranges: expected format '{FORMAT}' version {VERSION}")
    ranges = doc.get("ranges")
    if not isinstance(ranges, dict):
        raise _core.FormatError("channel ranges: 'ranges' must map tensor names to lists")
    out: dict[str, list[float]] = {}
    for name, values in ranges.items():
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
            raise _core.FormatError(f"channel ranges of '{name}': expected a list of numbers")
        try:
            out[name] = _values(name, values)
        except _core.InvalidArgumentError as e:
            raise _core.FormatError(str(e)) from None
    return out


def to_calibrator(calibrator: object, ranges: Mapping[str, Sequence[float]]) -> None:
    """Hands ``ranges`` to ``calibrator.write_channel_ranges`` where the
    calibrator has the method and there are any."""
    write = getattr(calibrator, "write_channel_ranges", None)
    if ranges and write is not None:
        write(encode_channel_ranges(ranges))


def from_calibrator(calibrator: object) -> dict[str, list[float]]:
    """The ranges ``calibrator.read_channel_ranges()`` returns (empty where
    it has no such method or returns nothing)."""
    read = getattr(calibrator, "read_channel_ranges", None)
    data = read() if read is not None else None
    return decode_channel_ranges(data) if data else {}
