"""``int8rt compare`` on Silero VAD as a user meets it (the silero-vad wheel's
silero_vad.onnx: If branches on the sample rate, an LSTM whose state
``[2, N, 128]`` has its samples on axis 1): its INT8 engine saved and loaded
back (the engine file refused it: "input ... of any rank has dimensions",
csrc/engine/network_codec.cc), then compared from the command line with more
samples than ``--batch-size`` (the state was left whole beside a chunk of the
audio: "initial_h is [1, 6, 128], expected [1, 2, 128]")."""
from __future__ import annotations

import importlib.resources
import importlib.util

import numpy as np
import pytest

import int8rt
from int8rt.cli import main


def test_silero_int8_engine_file_loads_and_compares(tmp_path, capsys) -> None:
    if importlib.util.find_spec("silero_vad") is None:
        pytest.skip("silero-vad is not installed (pip install --no-deps silero-vad)")
    model = str(importlib.resources.files("silero_vad") / "data" / "silero_vad.onnx")
    rng = np.random.default_rng(0)
    t = np.arange(512 * 14) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
             + 0.02 * rng.standard_normal(t.size)).astype(np.float32).reshape(14, 512)
    rate = np.array(16000, np.int64)
    batches = [{"input": audio[i:i + 1], "state": np.zeros((2, 1, 128), np.float32), "sr": rate} for i in range(8)]
    built = int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="minmax"), accuracy_check=False))
    built.save(tmp_path / "vad.i8rt")
    loaded = int8rt.Engine.load(tmp_path / "vad.i8rt")
    feed = {"input": audio[8:], "state": np.zeros((2, 6, 128), np.float32), "sr": rate}
    for name, value in built.run(feed).items():
        assert np.array_equal(loaded.run(feed)[name], value), name  # the file holds the same engine
    np.savez(tmp_path / "eval.npz", **feed)
    assert main(["compare", model, "--engine", str(tmp_path / "vad.i8rt"), "--data", str(tmp_path / "eval.npz"),
                 "--batch-size", "2", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "on 6 samples of" in out[0]
    assert any(line.split()[0] == "output" for line in out[2:-1]) and out[-1].startswith("first jump")
