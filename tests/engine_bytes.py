"""Byte surgery on engine files for the refusal tests: split off and rebuild
the 32-byte header (csrc/engine/engine_file.h) so that an edited payload
carries a valid checksum and reaches the decoder."""
from __future__ import annotations

import struct
from typing import Iterator, Optional, Tuple

HEADER = 32
MAGIC = b"INT8RTEN"


def fnv1a64(data: bytes) -> int:
    h = 1469598103934665603
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def payload(engine_bytes: bytes) -> bytes:
    assert engine_bytes[:8] == MAGIC
    return engine_bytes[HEADER:]


def frame(payload_bytes: bytes, checksum: Optional[int] = None, version: int = 2) -> bytes:
    """A valid header (format `version`, flags 0, size, checksum) followed by the payload."""
    if checksum is None:
        checksum = fnv1a64(payload_bytes)
    return MAGIC + struct.pack("<IIQQ", version, 0, len(payload_bytes), checksum) + payload_bytes


def prefix_checksums(data: bytes, step: int) -> Iterator[Tuple[int, int]]:
    """(n, checksum of data[:n]) for n = 0, step, 2 * step, ... below len(data), in one pass."""
    h = 1469598103934665603
    for n, b in enumerate(data):
        if n % step == 0:
            yield n, h
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF


def string(s: bytes) -> bytes:
    """A string as the codec writes it: u64 length, then the bytes."""
    return struct.pack("<Q", len(s)) + s


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, f"{old!r} occurs {data.count(old)} times"
    return data.replace(old, new)
