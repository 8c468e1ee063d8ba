"""The committed engine-file fuzz corpus (tests/fuzz/corpus/engine_file),
replayed in the default run without the sanitizer build: each input is
framed as tests/fuzz/fuzz_engine_file.cc frames it and loaded (the layer
factories run; running the engine is left to the sanitized target); it must
load or be refused with an int8rt error, never crash. The regress-*
inputs are crashes found and fixed once; the conv group overflow came back
unnoticed (the sanitized target runs only under -m slow), so its refusal is
asserted by name."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

import int8rt

CORPUS = Path(__file__).parent / "fuzz" / "corpus" / "engine_file"


def _frame(payload: bytes) -> bytes:
    """engine_file.cc's frame_engine_payload: magic, version 3, flags, size, FNV-1a 64 of the payload."""
    if payload[:8] == b"INT8RTEN":
        return payload
    h = 1469598103934665603
    for b in payload:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return b"INT8RTEN" + struct.pack("<IIQQ", 3, 0, len(payload), h) + payload


def _load(data: bytes) -> None:
    int8rt.Engine.deserialize(_frame(data)).serialize()


@pytest.mark.parametrize("path", sorted(CORPUS.glob("regress-*")), ids=lambda p: p.name)
def test_regress_inputs_load_or_are_refused(path: Path) -> None:
    try:
        _load(path.read_bytes())
    except (int8rt.Error, MemoryError):
        pass


def test_conv_group_overflow_is_refused_clearly() -> None:
    data = next(CORPUS.glob("regress-conv-f32-group-4e18-mul-overflow-*")).read_bytes()
    with pytest.raises(int8rt.Error, match="group x weight input channels.*overflows"):
        int8rt.Engine.deserialize(_frame(data))
