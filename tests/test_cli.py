"""The int8rt command line: build, run, bench, inspect, quickstart."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt.cli import main
from int8rt.quickstart import DATA_PATH, MODEL_PATH


@pytest.fixture(scope="module")
def calib_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "calib.npz"
    np.savez(path, input=np.load(DATA_PATH)["calib"])
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, calib_npz: Path) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("engine")
    engine, cache = out / "digits.i8rt", out / "digits.cache"
    assert main(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "--calibrator", "entropy",
                 "--batch-size", "64", "--cache", str(cache), "-o", str(engine), "--no-progress"]) == 0
    return engine, cache


def test_build_writes_engine_and_tensorrt_cache(built: tuple[Path, Path]) -> None:
    engine, cache = built
    algorithm, version, scales = int8rt.calib.read_cache(cache.read_bytes())
    assert algorithm == "EntropyCalibration2" and version == 8601
    loaded = int8rt.Engine.load(engine)
    assert loaded.precision == "int8"
    assert loaded.scales() == pytest.approx(scales)


def test_build_reuses_cache_without_data(tmp_path: Path, built: tuple[Path, Path]) -> None:
    engine, cache = built
    again = tmp_path / "again.i8rt"
    assert main(["build", str(MODEL_PATH), "--cache", str(cache), "-o", str(again), "--no-progress"]) == 0
    x = np.load(DATA_PATH)["test_x"][:16]
    a = int8rt.Engine.load(engine).run({"input": x})["logits"]
    b = int8rt.Engine.load(again).run({"input": x})["logits"]
    assert np.array_equal(a, b)


def test_run_writes_outputs(tmp_path: Path, built: tuple[Path, Path]) -> None:
    engine, _ = built
    x = np.load(DATA_PATH)["test_x"][:5]
    inputs, outputs = tmp_path / "in.npz", tmp_path / "out.npz"
    np.savez(inputs, input=x)
    assert main(["run", str(engine), "--input", str(inputs), "--output", str(outputs)]) == 0
    with np.load(outputs) as z:
        assert np.array_equal(z["logits"], int8rt.Engine.load(engine).run({"input": x})["logits"])


def test_inspect_and_bench(built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    engine, _ = built
    assert main(["inspect", str(engine)]) == 0
    text = capsys.readouterr().out
    assert "int8rt.QConv" in text and "int8" in text and "activation scales" in text
    assert "device: cpu" in text
    assert main(["bench", str(engine), "--batch-size", "2", "--iterations", "5", "--duration", "0", "--warmup", "1"]) == 0
    text = capsys.readouterr().out
    assert "latency ms" in text and "throughput" in text
    assert main(["bench", str(engine), "--iterations", "3", "--duration", "0", "--warmup", "1", "--profile", "3"]) == 0
    text = capsys.readouterr().out
    assert "per-layer profile" in text and "by op:" in text and "int8rt.QConv" in text


def test_errors_are_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.i8rt"
    bad.write_bytes(b"garbage")
    assert main(["inspect", str(bad)]) == 1
    assert "not an int8rt engine file" in capsys.readouterr().err
    assert main(["build", str(MODEL_PATH), "-o", str(tmp_path / "x.i8rt")]) != 0


@pytest.mark.skipif(int8rt.devices()["cuda"] == "available", reason="a usable CUDA device is present")
def test_build_for_an_unusable_device_says_why(tmp_path: Path, calib_npz: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.i8rt"
    assert main(["build", str(MODEL_PATH), "--calib-data", str(calib_npz), "--device", "cuda",
                 "-o", str(out), "--no-progress"]) == 1
    assert int8rt.devices()["cuda"] in capsys.readouterr().err
    assert not out.exists()


def test_quickstart_console_script() -> None:
    r = subprocess.run([sys.executable, "-m", "int8rt.cli", "quickstart"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "INT8" in r.stdout and "top-1" in r.stdout


def test_cmake_dir_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cmake-dir"]) == 0
    assert Path(capsys.readouterr().out.strip(), "int8rtConfig.cmake").exists()
