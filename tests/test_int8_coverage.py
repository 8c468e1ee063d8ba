"""A calibration cache that leaves no layer in int8, or names only the
network's input, is a warning on the "int8rt" logger at build and a
"warning:" line in the engine's report (what `int8rt inspect` prints),
not an INFO line (csrc/engine/int8_coverage.h)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt.calib import write_cache
from int8rt.cli import main
from int8rt.data_calibrator import make_calibrator
from onnx_models import conv_net

DATA = {"input": np.random.default_rng(3).standard_normal((16, 3, 8, 8)).astype(np.float32)}


def build_with_cache(tmp_path: Path, cache: bytes) -> int8rt.Engine:
    path = tmp_path / "model.cache"
    path.write_bytes(cache)
    calibrator = make_calibrator(DATA, algorithm="entropy", batch_size=8, cache_file=str(path))
    return int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="int8", calibrator=calibrator))


def int8_layers(engine: int8rt.Engine) -> int:
    return sum(layer["precision"] == "int8" for layer in engine.layers())


def warnings_of(engine: int8rt.Engine) -> list[str]:
    return [line for line in engine.report() if line.startswith("warning: ")]


def test_cache_naming_only_the_input(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        engine = build_with_cache(tmp_path, write_cache({"input": 0.02}))
    assert engine.precision == "int8" and int8_layers(engine) == 0
    lines = warnings_of(engine)
    assert any("name only network inputs ('input')" in line for line in lines), lines
    assert any("no layer runs in int8 (0 of " in line for line in lines), lines
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "int8rt"]
    assert any(m.startswith("no layer runs in int8") for m in logged), logged
    # `int8rt inspect` shows it beside the precision.
    path = tmp_path / "e.i8rt"
    engine.save(path)
    assert main(["inspect", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "  precision: int8\n" in shown and "  WARNING: no layer runs in int8 (0 of " in shown, shown


@pytest.mark.parametrize("scale", [0.0, float("inf")])
def test_unusable_scales(tmp_path: Path, caplog: pytest.LogCaptureFixture, scale: float) -> None:
    # Zero and +inf are read (TensorRT writes them) but no layer can use them.
    names = ["input", "conv_out", "relu_out", "pool_out", "flat", "logits"]
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        engine = build_with_cache(tmp_path, write_cache({n: scale for n in names}))
    assert int8_layers(engine) == 0
    assert any("are 0, infinite or NaN, which no layer can use" in line for line in warnings_of(engine))
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_cache_of_another_model(tmp_path: Path) -> None:
    engine = build_with_cache(tmp_path, write_cache({"other_net/conv1": 0.1, "other_net/fc": 0.2}))
    assert any("none of the 2 calibration scales names a tensor of this network" in line
               for line in warnings_of(engine))


def test_good_calibration_gives_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    calibrator = make_calibrator(DATA, algorithm="entropy", batch_size=8)
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        engine = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="int8", calibrator=calibrator))
    assert int8_layers(engine) > 0 and warnings_of(engine) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_nan_cache_is_refused_at_build(tmp_path: Path) -> None:
    cache = b"TRT-8601-EntropyCalibration2\ninput: 3c010204\nconv_out: 7fc00000\n"
    with pytest.raises(int8rt.FormatError, match="line 3: tensor 'conv_out' has scale NaN"):
        build_with_cache(tmp_path, cache)


def test_cli_build_shows_each_warning_once(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                          caplog: pytest.LogCaptureFixture) -> None:
    # The build command prints the engine's warnings and its build report; the
    # same warnings are not logged to stderr a second time.
    import onnx

    model, cache = tmp_path / "m.onnx", tmp_path / "m.cache"
    onnx.save(conv_net(), str(model))
    cache.write_bytes(write_cache({"input": 0.02}))
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        assert main(["build", str(model), "--cache", str(cache), "--calibrator", "entropy", "-q",
                     "-o", str(tmp_path / "m.i8rt")]) == 0
    captured = capfd.readouterr()
    assert (captured.out + captured.err).count("no layer runs in int8") == 1, captured
    assert not [r for r in caplog.records if "no layer runs in int8" in r.getMessage()], caplog.text
