"""A build from a calibration cache lowers as the calibrating build did
(python/int8rt/calib/channel_ranges.py, builder.py ``_calibrate``): the
calibrating build writes the first batch's input shapes into the cache's
sidecar ``<cache>.channels.json`` beside the per-channel ranges, and a build
whose cache hits (it runs no batch) hands them to the builder
(``Builder.set_calibration_shapes``) and the builders made after it, so that
for a network with symbolic dimensions and no profile it plans the same
int8 layers (Silero VAD: 9 of 82 int8 from the cache against 38 of 86,
benchmarks/RESULTS.md §88). A sidecar written before the shapes were kept
still loads. The model is test_calib_input_shapes.py's Silero-shaped one."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt.calib import decode_sidecar  # noqa: E402

from test_calib_input_shapes import _chunks, _int8_layers, conv1d_state_model  # noqa: E402
from test_channel_ranges_cache import _FromCache  # noqa: E402  (serves no batch: only the cache builds)

RNG = np.random.default_rng(47)


def _calibrated(tmp_path: Path) -> tuple[object, str, int8rt.Engine]:
    m = conv1d_state_model()
    cache = str(tmp_path / "calib.cache")
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(_chunks(6), algorithm="minmax", cache_file=cache), accuracy_check=False))
    return m, cache, engine


def _feed() -> dict:
    return {"x": RNG.standard_normal((3, 40)).astype(np.float32), "s": RNG.standard_normal((2, 3, 8)).astype(np.float32)}


def test_a_build_from_the_cache_lowers_the_calibrated_build_s_int8_layers(tmp_path: Path) -> None:
    m, cache, first = _calibrated(tmp_path)
    sidecar = json.loads(Path(cache + ".channels.json").read_text())
    assert sidecar["shapes"] == {"x": [8, 32], "s": [2, 8, 8]}
    assert {"conv1", "conv2", "conv3"} <= set(_int8_layers(first)), _int8_layers(first)

    again = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=_FromCache(cache, True), accuracy_check=False))
    assert _int8_layers(again) == _int8_layers(first)
    feed = _feed()
    assert (again.run(feed)["y"] == first.run(feed)["y"]).all()


def test_a_sidecar_written_without_shapes_still_loads(tmp_path: Path) -> None:
    m, cache, first = _calibrated(tmp_path)
    path = Path(cache + ".channels.json")
    doc = json.loads(path.read_text())
    del doc["shapes"]  # as written before the shapes (and the key counts) were kept
    doc.pop("keys", None)
    path.write_text(json.dumps(doc, indent=1))
    ranges, shapes, keys = decode_sidecar(path.read_bytes())
    assert shapes == {} and keys == {} and ranges == doc["ranges"]

    engine = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=_FromCache(cache, True), accuracy_check=False))
    out = engine.run(_feed())["y"]
    assert out.shape == (3, 4, 20) and np.isfinite(out).all()


@pytest.mark.parametrize("data, message", [
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {}, "shapes": {"x": [8, -1]}}', "'x'"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {}, "shapes": {"x": "8"}}', "'shapes'"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {}, "keys": {"p": 0}}', "'p'"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {}, "keys": {"p": 2.5}}', "'p'"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {}, "keys": {"p": true}}', "'p'"),
    (b'{"format": "int8rt-channel-ranges", "version": 1, "ranges": {}, "keys": [3]}', "'keys'"),
])
def test_malformed_shapes_are_format_errors(data: bytes, message: str) -> None:
    with pytest.raises(int8rt.FormatError, match=message):
        decode_sidecar(data)
