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

The sidecar is the one home of what the cache cannot hold, so it also keeps
the first calibration batch's input shapes (``Builder.calibration_shapes``):
a build from the cache runs no batch, and for a network with symbolic
dimensions and no profile the builder learns its shapes from nothing else
(without them Silero VAD lowered 9 of 82 layers to int8 against 38 of 86;
benchmarks/RESULTS.md §88), and the fewest last-axis elements calibration
saw per tensor (``Builder.calibration_keys``): attention probabilities on a
dynamic key axis keep a grid that follows the key count
(csrc/engine/ops/int8/probs_keys.h) only where the build knows the count
they were calibrated at (without it a build from the cache warns and rows
shorter than calibrated clip; RESULTS_accuracy.md acc32).

Format: JSON, ``{"format": "int8rt-channel-ranges", "version": 1,
"ranges": {tensor name: [m_0, m_1, ...]}, "shapes": {input name: [d_0,
...]}, "keys": {tensor name: n}}``, every m_k a float32 value written as the
decimal that reads back to it (Python's repr of the float32 widened to
float64), >= 0 and finite; every d_k an integer >= 0; every n an integer
>= 1. ``shapes`` and ``keys`` are optional (sidecars written before them
have none and read as no shapes / no key counts).
"""
from __future__ import annotations

import json
import math
from typing import Mapping, NamedTuple, Optional, Sequence

import numpy as np

from .. import _core

__all__ = ["FORMAT", "SIDECAR_SUFFIX", "Sidecar", "VERSION", "decode_channel_ranges", "decode_sidecar",
           "encode_channel_ranges"]

FORMAT = "int8rt-channel-ranges"
VERSION = 1
# CacheFile's sidecar: this suffix after the cache file's path
SIDECAR_SUFFIX = ".channels.json"


class Sidecar(NamedTuple):
    """What a sidecar holds: per-channel maxima (tensor -> max |x| per
    channel), the first calibration batch's input shapes (input -> dims) and
    the fewest last-axis elements calibration saw (tensor -> count)."""

    ranges: dict[str, list[float]]
    shapes: dict[str, list[int]]
    keys: dict[str, int]


def _values(name: str, values: Sequence[float]) -> list[float]:
    out = [float(v) for v in np.asarray(values, np.float64).astype(np.float32)]
    if not out or not all(math.isfinite(v) and v >= 0.0 for v in out):
        raise _core.InvalidArgumentError(f"channel ranges of '{name}': need one finite value >= 0 per channel, "
                                         f"got {list(values)[:8]}")
    return out


def _dims(name: str, dims: Sequence[int]) -> list[int]:
    out = list(dims)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in out):
        raise _core.InvalidArgumentError(f"calibration shape of '{name}': need integers >= 0, got {out[:8]}")
    return [int(d) for d in out]


def _count(name: str, n: object) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise _core.InvalidArgumentError(f"calibrated key count of '{name}': need an integer >= 1, got {n!r}")
    return int(n)


def encode_channel_ranges(ranges: Mapping[str, Sequence[float]],
                          shapes: Optional[Mapping[str, Sequence[int]]] = None,
                          keys: Optional[Mapping[str, int]] = None) -> bytes:
    """``ranges`` (tensor name -> max |x| per channel) as the sidecar's bytes
    (each value rounded to float32; tensors in the mapping's order), with
    ``shapes`` (input name -> the first calibration batch's shape) and
    ``keys`` (tensor name -> the fewest last-axis elements calibration saw)
    where given and not empty. Raises InvalidArgumentError for an empty
    name, a value that is negative, NaN or infinite, a dimension that is not
    an integer >= 0 or a key count that is not an integer >= 1 (naming the
    tensor)."""
    body = {}
    for name, values in ranges.items():
        if not name:
            raise _core.InvalidArgumentError("channel ranges: empty tensor name")
        body[name] = _values(name, values)
    doc: dict = {"format": FORMAT, "version": VERSION, "ranges": body}
    if shapes:
        doc["shapes"] = {name: _dims(name, dims) for name, dims in shapes.items()}
    if keys:
        doc["keys"] = {name: _count(name, n) for name, n in keys.items()}
    return json.dumps(doc, indent=1).encode("utf-8")


def decode_channel_ranges(data: bytes) -> dict[str, list[float]]:
    """The ranges in ``data`` (:func:`encode_channel_ranges`'s bytes); see
    :func:`decode_sidecar` for the errors."""
    return decode_sidecar(data).ranges


def decode_sidecar(data: bytes) -> Sidecar:
    """The ranges, calibration input shapes and key counts in ``data``
    (:func:`encode_channel_ranges`'s bytes; no ``shapes`` / ``keys`` key:
    none). Raises FormatError for anything else: not JSON, another format or
    version, a tensor whose values are not a non-empty list of finite
    numbers >= 0, a shape that is not a list of integers >= 0, a key count
    that is not an integer >= 1."""
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
    shapes = doc.get("shapes", {})
    if not isinstance(shapes, dict) or not all(isinstance(d, list) for d in shapes.values()):
        raise _core.FormatError("channel ranges: 'shapes' must map input names to lists")
    keys = doc.get("keys", {})
    if not isinstance(keys, dict):
        raise _core.FormatError("channel ranges: 'keys' must map tensor names to integers")
    try:
        dims = {name: _dims(name, d) for name, d in shapes.items()}
        counts = {name: _count(name, n) for name, n in keys.items()}
    except _core.InvalidArgumentError as e:
        raise _core.FormatError(str(e)) from None
    return Sidecar(out, dims, counts)


def to_calibrator(calibrator: object, ranges: Mapping[str, Sequence[float]],
                  shapes: Optional[Mapping[str, Sequence[int]]] = None,
                  keys: Optional[Mapping[str, int]] = None) -> None:
    """Hands ``ranges``, ``shapes`` and ``keys`` to
    ``calibrator.write_channel_ranges`` where the calibrator has the method
    and there are any."""
    write = getattr(calibrator, "write_channel_ranges", None)
    if (ranges or shapes or keys) and write is not None:
        write(encode_channel_ranges(ranges, shapes, keys))


def from_calibrator(calibrator: object) -> Sidecar:
    """What ``calibrator.read_channel_ranges()`` returns, decoded (empty
    where it has no such method or returns nothing)."""
    read = getattr(calibrator, "read_channel_ranges", None)
    data = read() if read is not None else None
    return decode_sidecar(data) if data else Sidecar({}, {}, {})
