"""Per-channel activation ranges beside TensorRT's calibration cache
(python/int8rt/calib/channel_ranges.py): the calibrated build hands them to
the calibrator's ``write_channel_ranges`` (CacheFile: a sidecar
``<cache>.channels.json``), a build whose cache hit reads them back gets the
same per-channel grids and the same engine bit for bit, and the cache itself
stays TensorRT's format, one scale per tensor. The model is
test_channel_grids.py's chain, whose four tensors take per-channel grids."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt.calib import decode_channel_ranges, encode_channel_ranges, read_cache

import test_channel_grids as chain

F32 = np.float32


@pytest.fixture(scope="module")
def model() -> bytes:
    return chain.chain_model(chain.SPREAD)


class _FromCache(int8rt.IInt8MinMaxCalibrator):
    """A TensorRT-style calibrator that serves no batch: only the cache
    (and, with ``ranges``, its sidecar through read_channel_ranges; without,
    the base class's default, nothing) can build."""

    def __init__(self, cache: str, ranges: bool) -> None:
        super().__init__()
        self.cache, self.ranges = cache, ranges

    def get_batch_size(self) -> int:
        return 8

    def get_batch(self, names):
        raise AssertionError("calibration ran although the cache matches")

    def read_calibration_cache(self):
        return Path(self.cache).read_bytes()

    def read_channel_ranges(self):
        return Path(self.cache + ".channels.json").read_bytes() if self.ranges else super().read_channel_ranges()


def _plan(engine: int8rt.Engine) -> dict:
    return {t.tensor: (t.scale, t.zero_point, tuple(t.channel_scales)) for t in engine.int8_plan().tensors}


def test_build_from_cache_and_sidecar_is_the_calibrated_engine(model: bytes, tmp_path: Path) -> None:
    cache = str(tmp_path / "calib.cache")
    first = chain.build(model, cache=cache)
    assert sum(bool(t.channel_scales) for t in first.int8_plan().tensors) == 4
    algorithm, _, scales = read_cache(Path(cache).read_bytes())  # TensorRT's format, one scale per tensor
    assert algorithm == "MinMaxCalibration" and all(isinstance(v, float) for v in scales.values())
    sidecar = json.loads(Path(cache + ".channels.json").read_text())
    want = chain.float_tensors(model, chain.X_CAL)
    for name in ("c1", "h1", "d1", "h2"):  # max |x| per channel over the calibration data
        np.testing.assert_array_equal(np.asarray(sidecar["ranges"][name], F32),
                                      np.abs(want[name]).max(axis=(0, 2, 3)).astype(F32), err_msg=name)

    again = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_FromCache(cache, True), accuracy_check=False))
    assert _plan(again) == _plan(first)
    np.testing.assert_array_equal(again.run({"x": chain.X_EVAL})["y"], first.run({"x": chain.X_EVAL})["y"])


def test_a_calibrator_without_the_methods_builds_per_tensor_from_the_cache(model: bytes, tmp_path: Path) -> None:
    cache = str(tmp_path / "calib.cache")
    chain.build(model, cache=cache)

    engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=_FromCache(cache, False), accuracy_check=False))
    assert not any(t.channel_scales for t in engine.int8_plan().tensors)


def test_encoding_round_trips_float32_values() -> None:
    ranges = {"a": [0.0, 1e-30, 3.4e38, 0.1], "b::x": [2.5]}
    back = decode_channel_ranges(encode_channel_ranges(ranges))
    assert list(back) == ["a", "b::x"]
    for name, values in ranges.items():
        np.testing.assert_array_equal(np.asarray(back[name], F32), np.asarray(values, F32))


@pytest.mark.parametrize("data, message", [
    (b"TRT-8601-MinMaxCalibration\nx: 3c000000\n", "not int8rt-channel-ranges JSON"),
    (b'{"format": "int8rt-channel-ranges", "version": 2, "ranges": {}}', "version 1"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {"x": [1.0, -2.0]}}', "'x'"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {"x": "1.0"}}', "list of numbers"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {"x": []}}', "'x'"),
])
def test_malformed_sidecars_are_format_errors(data: bytes, message: str) -> None:
    with pytest.raises(int8rt.FormatError, match=message):
        decode_channel_ranges(data)


def test_encoding_refuses_values_no_range_has() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="'t'"):
        encode_channel_ranges({"t": [1.0, float("nan")]})


def test_a_tensor_whose_channel_count_varies_has_no_ranges() -> None:
    """Axis 1 of a rank-4 tensor that changes size between calibration
    batches (heads split as [B, S, heads, dim]: the sequence) is not
    channels: the builder keeps no ranges for it, whatever the batches'
    order (it kept the last count's before), and names it; a tensor whose
    axis 1 holds still keeps its ranges."""
    from test_attention_short_rows import batches, dynamic_attention

    def measured(order: list) -> tuple[dict, set]:
        builder = int8rt._core.Builder(int8rt.onnx.import_model(dynamic_attention().SerializeToString()),
                                       channel_activations=True)
        collector = int8rt.calib.Collector(algorithm="minmax")
        for b in order:
            builder.calibrate_batch(b, collector._native)
        return builder.channel_ranges(), builder.varied_channel_counts()

    long, short = batches(64, 2, 1), batches(32, 1, 2)
    for order in (long + short, short + long, long[:1] + short + long[1:]):
        ranges, varied = measured(order)
        assert {"q_heads", "k_heads", "v_heads", "ctx_t"} <= varied
        assert not varied & set(ranges)
    ranges, varied = measured(long)
    assert varied == set() and len(ranges["q_heads"]) == 64
