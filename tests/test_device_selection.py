"""Choosing where an engine runs (BuilderConfig.device, int8rt.devices(),
engine files that target a device) in builds and on machines without a
usable GPU: every refusal is a NotSupportedError that says why, raised before
any calibration work, never a crash. (The CUDA runner itself is exercised
through the emulated runtime in tests/cpp/test_cuda_engine_emulated.cc and on
a real GPU by tests/test_cuda_gpu.py.)"""
from __future__ import annotations

import struct

import numpy as np
import pytest

import int8rt
from int8rt import _core
from int8rt.quickstart import MODEL_PATH

# engine_file.cc's checksum: FNV-1a 64 with the offset basis that file uses
# (1469598103934665603, not FNV's published 14695981039346656037).
FNV_OFFSET, FNV_PRIME = 1469598103934665603, 0x100000001B3


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def retarget(engine_bytes: bytes, target: str) -> bytes:
    """The engine file with its target field replaced (layout: engine_file.h),
    size and checksum recomputed, so only the target differs."""
    magic, version, flags, size, _ = struct.unpack_from("<8sIIQQ", engine_bytes, 0)
    payload = engine_bytes[32:32 + size]
    (old_len,) = struct.unpack_from("<Q", payload, 0)
    assert payload[8:8 + old_len] == b"cpu"
    payload = struct.pack("<Q", len(target)) + target.encode() + payload[8 + old_len:]
    return struct.pack("<8sIIQQ", magic, version, flags, len(payload), fnv1a64(payload)) + payload


def cuda_usable() -> bool:
    return int8rt.devices().get("cuda") == "available"


class CountingCalibrator(int8rt.IInt8MinMaxCalibrator):
    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def get_batch_size(self) -> int:
        return 4

    def get_batch(self, names: list[str]):
        self.batches += 1
        return [np.zeros((4, 1, 8, 8), np.float32)] if self.batches < 3 else None


def test_devices_lists_cpu_available_and_explains_cuda() -> None:
    devices = int8rt.devices()
    assert devices["cpu"] == "available"
    assert "cuda" in devices
    if devices["cuda"] != "available":
        assert devices["cuda"].strip(), "an unavailable device must say why"


@pytest.mark.skipif(cuda_usable(), reason="a usable CUDA device is present")
def test_cuda_build_is_refused_before_calibration() -> None:
    cal = CountingCalibrator()
    with pytest.raises(int8rt.NotSupportedError) as err:
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=cal, device="cuda"))
    assert cal.batches == 0, "calibration ran before the device was checked"
    assert str(err.value) == int8rt.devices()["cuda"]


def test_unknown_device_names_the_devices_this_build_has() -> None:
    with pytest.raises(int8rt.NotSupportedError, match=r"device 'tpu' is not available.*devices: cpu"):
        int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32", device="tpu"))


def test_cpu_engine_reports_its_device() -> None:
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))
    assert engine.device == "cpu" and engine.device_name == "cpu"
    assert int8rt.Engine.deserialize(engine.serialize()).device == "cpu"


@pytest.mark.skipif(cuda_usable(), reason="a usable CUDA device is present")
def test_engine_file_for_cuda_is_refused_where_cuda_is_unusable(tmp_path) -> None:
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))
    data = retarget(engine.serialize(), "cuda")
    with pytest.raises(int8rt.NotSupportedError, match=r"engine bytes: engine was built for target 'cuda'"):
        int8rt.Engine.deserialize(data)
    path = tmp_path / "model.cuda.engine"
    path.write_bytes(data)
    with pytest.raises(int8rt.NotSupportedError, match=r"model\.cuda\.engine.*target 'cuda'"):
        int8rt.Engine.load(str(path))


def test_retargeted_file_is_otherwise_valid() -> None:
    """Guards the helper above: re-targeting to 'cpu' gives a loadable file."""
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))
    assert int8rt.Engine.deserialize(retarget(engine.serialize(), "cpu")).device == "cpu"
    assert _core.known_devices()[0] == "cpu"


class FakeDeviceArray:
    __cuda_array_interface__ = {"shape": (1, 1, 8, 8), "typestr": "<f4", "data": (4096, False), "version": 3}


def test_cpu_engine_refuses_device_arrays() -> None:
    engine = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))
    with pytest.raises(int8rt.NotSupportedError, match="runs on the CPU"):
        engine.run({"input": FakeDeviceArray()})
    with pytest.raises(int8rt.NotSupportedError, match="runs on the CPU"):
        engine.device_array((2, 3))
    ctx = engine.create_execution_context()
    assert ctx.output_shapes({"input": (5, 1, 8, 8)}) == {"logits": (5, 10)}
    with pytest.raises(int8rt.InvalidArgumentError, match="input"):
        ctx.output_shapes({"input": (5, 2, 8, 8)})
