"""The fields of an engine payload, where they lie, and their mutations (tools/engine_field_campaign.py).

Layout follows csrc/engine/engine_file.cc (encode_engine: target, tuned ISA, metadata) and
csrc/engine/network_codec.cc (encode_network: tensors with dtype, flags, producer, shape and constant
bytes; nodes with name, op, input / output ids and attributes; network inputs, outputs, shape ranges;
a subgraph attribute is a nested network). Strings are a u64 length and the bytes; counts u64; ids i32.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

# New ops and flags of the BF16 paths (engine/bf16_blocked.h, bf16_layers.h, ops/bf16_convert.cc,
# ops/bf16_attention.cc), swapped in and added where no kernel can honour them.
NEW_OPS = ["int8rt.ToBf16", "Gemm", "int8rt.ConvBf16x16c", "int8rt.ToBf16x16c", "int8rt.FromBf16x16c",
           "int8rt.MaxPoolBf16x16c", "int8rt.GlobalAveragePoolBf16x16c", "int8rt.Bf16Attention", "MatMul", "Conv",
           "int8rt.QConv", "int8rt.QGemm"]
FLAGS = [("int8rt_f32_input", 0, 1), ("int8rt_precision", 2, b"bf16"), ("int8rt_precision", 2, b"int8"),
         ("int8rt_residual", 0, 1), ("int8rt_residual", 0, 3), ("dtype", 2, b"bfloat16"), ("dtype", 2, b"float16"),
         ("channels", 0, 0), ("channels", 0, 17), ("int8rt_nan_to_zero", 0, 1), ("group", 0, 2)]
DTYPES = [0, 1, 2, 3, 4, 6, 7, 9, 12, 13, 22, 23, 255]  # network.h's DataType: f32 ... bf16 ... past the end
COUNT_EDGES = [2**31, 2**32 + 1, 2**63 - 1, 2**64 - 1]
DIM_EDGES = [0, 1, -1, 2**31 - 1, 2**31, 2**62, -(2**63)]


@dataclass
class Layout:
    """Offsets of one payload's fields, found by parsing it."""
    data: bytes
    counts: list[tuple[int, int]] = field(default_factory=list)      # (offset of u64, value)
    ids: list[tuple[int, int]] = field(default_factory=list)         # (offset of i32, value)
    dtypes: list[int] = field(default_factory=list)                  # offset of a tensor's dtype byte
    flags: list[int] = field(default_factory=list)                   # offset of a tensor's flags byte
    dims: list[tuple[int, int]] = field(default_factory=list)        # (offset of i64, value)
    kinds: list[int] = field(default_factory=list)                   # offset of an attribute's kind byte
    ops: list[tuple[int, int]] = field(default_factory=list)         # (offset of the op string, its end)
    attr_counts: list[int] = field(default_factory=list)             # offset of a node's attribute count
    bounds: list[int] = field(default_factory=list)                  # record boundaries
    n_tensors: int = 0

    def __post_init__(self) -> None:
        self.pos = 0
        self._str()
        self._str()
        for _ in range(self._count()):
            self._str()
            self._str()
        self._network()
        assert self.pos == len(self.data), f"parsed {self.pos} of {len(self.data)} bytes"

    def _take(self, fmt: str) -> int:
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def _count(self) -> int:
        self.counts.append((self.pos, struct.unpack_from("<Q", self.data, self.pos)[0]))
        return self._take("<Q")

    def _id(self) -> None:
        self.ids.append((self.pos, struct.unpack_from("<i", self.data, self.pos)[0]))
        self.pos += 4

    def _skip(self, n: int) -> None:
        self.pos += n

    def _str(self) -> None:
        self._skip(self._count())

    def _network(self) -> None:
        n_tensors = self._count()
        self.n_tensors = max(self.n_tensors, n_tensors)
        for _ in range(n_tensors):
            self.bounds.append(self.pos)
            self._str()
            self.dtypes.append(self.pos)
            self.pos += 1
            self.flags.append(self.pos)
            const = self._take("<B") & 1
            self._id()
            for _ in range(self._count()):
                self.dims.append((self.pos, struct.unpack_from("<q", self.data, self.pos)[0]))
                self.pos += 8
            if const:
                self._skip(self._count())
        for _ in range(self._count()):
            self.bounds.append(self.pos)
            self._str()
            start = self.pos
            self._str()
            self.ops.append((start, self.pos))
            for _ in range(2):
                for _ in range(self._count()):
                    self._id()
            self.attr_counts.append(self.pos)
            for _ in range(self._count()):
                self._str()
                self._attr()
        self.bounds.append(self.pos)
        for _ in range(2):
            for _ in range(self._count()):
                self._id()
        for _ in range(self._count()):
            self._str()
            for _ in range(3):
                self._skip(8 * self._count())

    def _attr(self) -> None:
        self.kinds.append(self.pos)
        kind = self._take("<B")
        if kind in (0, 1):
            self.pos += 8
        elif kind == 2:
            self._str()
        elif kind in (3, 4):
            self._skip(8 * self._count())
        elif kind == 5:
            self._network()
        else:
            raise ValueError(f"attribute kind {kind} at {self.pos - 1}")


def _put(data: bytes, at: int, fmt: str, v: int) -> bytes:
    return data[:at] + struct.pack(fmt, v) + data[at + struct.calcsize(fmt):]


def _string(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def _attr_bytes(name: str, kind: int, value) -> bytes:
    body = struct.pack("<q", value) if kind == 0 else _string(value)
    return _string(name.encode()) + bytes([kind]) + body


def field_mutations(lay: Layout) -> list[tuple[str, bytes]]:
    """(label, payload) for every field mutation of the module docstring, in a fixed order."""
    d, out = lay.data, []
    step = max(1, len(d) // 16)
    for at in sorted(set(lay.bounds + list(range(0, len(d), step)) + [len(d) - 1])):
        out.append((f"truncate={at}", d[:at]))
    for at, n in lay.counts:
        for v in sorted({n + 1, max(n - 1, 0), *COUNT_EDGES} - {n}):
            out.append((f"count={at}:{v}", _put(d, at, "<Q", v)))
    for at, v0 in lay.ids:
        for v in sorted({-1, -2, lay.n_tensors, lay.n_tensors + 1, 2**31 - 1, v0 + 1, max(v0 - 1, 0)} - {v0}):
            out.append((f"id={at}:{v}", _put(d, at, "<i", v)))
    for at in lay.dtypes:
        for v in DTYPES:
            if v != d[at]:
                out.append((f"dtype={at}:{v}", _put(d, at, "<B", v)))
    for at in lay.flags:
        for v in (0, 1, 2, 3, 4, 255):
            if v != d[at]:
                out.append((f"tflags={at}:{v}", _put(d, at, "<B", v)))
    for at, v0 in lay.dims:
        for v in sorted({*DIM_EDGES, v0 + 1, v0 - 1, 2 * v0} - {v0}):
            out.append((f"dim={at}:{v}", _put(d, at, "<q", v)))
    for at in lay.kinds:
        for v in range(7):
            if v != d[at]:
                out.append((f"kind={at}:{v}", _put(d, at, "<B", v)))
    for at in lay.attr_counts:
        (n,) = struct.unpack_from("<Q", d, at)
        for name, kind, value in FLAGS:
            new = _put(d, at, "<Q", n + 1)
            new = new[:at + 8] + _attr_bytes(name, kind, value) + new[at + 8:]
            out.append((f"flag={at}:{name}={value!r}", new))
    for start, end in lay.ops:
        for op in NEW_OPS:
            new = _string(op.encode())
            if new != d[start:end]:
                out.append((f"op={start}:{op}", d[:start] + new + d[end:]))
    return out
