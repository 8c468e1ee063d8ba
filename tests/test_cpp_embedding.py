"""The C++ SDK the package ships, used the way a C++ program uses it.

Builds examples/cpp against the *installed* package (``find_package(int8rt)``
with ``int8rt.cmake_dir.cmake_dir()``, the dev layout after
tools/dev_build.sh or a pip-installed wheel alike), then:

- every installed public header compiles on its own with only the installed
  include folder on the path, and the umbrella ``int8rt/int8rt.h`` includes
  them all;
- ``python -m int8rt.cmake_dir`` and ``int8rt --cmake-dir`` print that folder;
- ``build_engine`` (network-definition API, C++ calibrator, cache, save, load)
  passes all its printed checks, and reports a broken calibrator clearly;
- ``run_engine`` on the engine built in C++ and on an engine built in Python
  from the bundled digits CNN prints exactly the outputs Python's
  ExecutionContext computes (same file, same kernels: compared with ``==``).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

import int8rt
import int8rt.cmake_dir

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cpp"
DATA = Path(int8rt.__file__).resolve().parent / "data"
INCLUDE = Path(int8rt.cmake_dir.include_dir())

# Lines the examples print (examples/cpp/example_util.h and the two programs).
VALUES_RE = re.compile(r"^values (\S+) (\d+):(.*)$", re.MULTILINE)
SHAPE_RE = re.compile(r"^output (\S+): shape \[([0-9, ]+)\]$", re.MULTILINE)
TOP_RE = re.compile(r"^  sample (\d+): top-\d+ (\d+):", re.MULTILINE)


def _run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _compiler() -> Optional[str]:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/cpp configured and built against the installed package."""
    if shutil.which("cmake") is None:
        pytest.fail("cmake is required to build the C++ examples")
    build = tmp_path_factory.mktemp("example_build")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    r = _run(["cmake", "-S", str(EXAMPLES), "-B", str(build), *gen,
              f"-Dint8rt_DIR={int8rt.cmake_dir.cmake_dir()}"])
    assert r.returncode == 0, "examples/cpp failed to configure:\n" + r.stdout[-4000:] + r.stderr[-4000:]
    r = _run(["cmake", "--build", str(build), "-j", "2"], timeout=300)
    assert r.returncode == 0, "examples/cpp failed to build:\n" + r.stdout[-6000:] + r.stderr[-6000:]
    return build


@pytest.fixture(scope="module")
def cpp_built(examples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Runs build_engine once; returns its output folder and stdout."""
    out = tmp_path_factory.mktemp("build_engine_out")
    r = _run([str(examples / "build_engine"), "--out-dir", str(out)])
    assert r.returncode == 0, f"build_engine failed (rc {r.returncode}):\n{r.stdout}\n{r.stderr}"
    return out, r.stdout


def _printed_values(stdout: str) -> dict[str, np.ndarray]:
    values = {}
    for name, count, text in VALUES_RE.findall(stdout):
        arr = np.array(text.split(), dtype=np.float32)
        assert arr.size == int(count), f"values line for {name}: {arr.size} numbers, header says {count}"
        values[name] = arr
    return values


def _check_run_engine_matches_python(examples: Path, engine_path: Path, x: np.ndarray, tmp: Path) -> str:
    """run_engine on engine_path with x from a raw file; its printed outputs
    must equal Python's ExecutionContext outputs bit for bit."""
    raw = tmp / "input.raw"
    np.ascontiguousarray(x, dtype="<f4").tofile(raw)
    r = _run([str(examples / "run_engine"), str(engine_path), "--input", str(raw), "--print-values",
              "--iters", "3", "--top", "3"])
    assert r.returncode == 0, f"run_engine failed (rc {r.returncode}):\n{r.stdout}\n{r.stderr}"
    engine = int8rt.Engine.load(engine_path)
    (name,) = engine.input_names
    expected = engine.create_execution_context().run({name: x})
    printed = _printed_values(r.stdout)
    assert set(printed) == set(expected)
    shapes = {n: tuple(int(d) for d in s.split(", ")) for n, s in SHAPE_RE.findall(r.stdout)}
    for out_name, want in expected.items():
        assert shapes[out_name] == want.shape
        np.testing.assert_array_equal(printed[out_name], want.reshape(-1), err_msg=out_name)
        if want.ndim == 2:  # the printed top-1 index per sample is the argmax
            rows = want.shape[0]
            top1 = {int(s): int(i) for s, i in TOP_RE.findall(r.stdout)}
            assert top1 == {s: int(np.argmax(want[s])) for s in range(min(rows, 8))}
    assert re.search(r"^latency: median [0-9.]+ ms, min [0-9.]+ ms over 3 runs$", r.stdout, re.MULTILINE)
    return r.stdout


def test_public_headers_compile_standalone() -> None:
    """Only public headers and the standard library: each installed header
    compiles alone with nothing but the installed include folder."""
    cxx = _compiler()
    if cxx is None:
        pytest.fail("a C++ compiler is required")
    headers = sorted(p.name for p in (INCLUDE / "int8rt").glob("*.h"))
    assert "int8rt.h" in headers
    source = ROOT / "csrc" / "include" / "int8rt"
    if source.is_dir():  # a checkout: the install carries every public header
        assert headers == sorted(p.name for p in source.glob("*.h"))
    umbrella = (INCLUDE / "int8rt" / "int8rt.h").read_text()
    included = set(re.findall(r'^#include "int8rt/([a-z0-9_]+\.h)"', umbrella, re.MULTILINE))
    assert included == set(headers) - {"int8rt.h"}
    for header in headers:
        r = subprocess.run([cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c++",
                            "-I" + str(INCLUDE), "-"],
                           input=f"#include <int8rt/{header}>\n", capture_output=True, text=True)
        assert r.returncode == 0, f"int8rt/{header} does not compile on its own:\n{r.stderr[-3000:]}"


def test_cmake_dir_commands() -> None:
    expected = int8rt.cmake_dir.cmake_dir()
    assert (Path(expected) / "int8rtConfig.cmake").is_file()
    assert (Path(expected) / "int8rtTargets.cmake").is_file()
    r = _run([sys.executable, "-m", "int8rt.cmake_dir"])
    assert r.returncode == 0 and r.stdout.strip() == expected, r.stderr
    r = _run([sys.executable, "-m", "int8rt.cli", "--cmake-dir"])
    assert r.returncode == 0 and r.stdout.strip() == expected, r.stderr
    script = shutil.which("int8rt")
    if script and Path(script).resolve().parent == Path(sys.executable).resolve().parent:
        r = _run([script, "--cmake-dir"])  # the console script of this environment's wheel
        assert r.returncode == 0 and r.stdout.strip() == expected, r.stderr


def test_build_engine_example_passes_its_checks(cpp_built: tuple[Path, str]) -> None:
    out, stdout = cpp_built
    checks = re.findall(r"^check (ok|FAILED): (.*)$", stdout, re.MULTILINE)
    assert len(checks) == 7 and all(status == "ok" for status, _ in checks), stdout
    assert "check ok: second build used the cache: get_batch not called" in stdout
    m = re.search(r"max \|diff\| ([0-9.]+), max \|fp32\| ([0-9.]+), top-1 agreement (\d+)/(\d+)", stdout)
    assert m, stdout
    assert float(m.group(1)) <= 0.04 * float(m.group(2))  # the bound build_engine.cpp states
    cache = (out / "example_calibration.cache").read_text()
    assert cache.startswith("TRT-") and "EntropyCalibration2" in cache.splitlines()[0]
    # The C++-built engine loads in Python and carries the cached scales.
    engine = int8rt.Engine.load(out / "example.i8rt")
    assert engine.precision == "int8"
    assert engine.input_names == ["image"]


def test_build_engine_example_reports_calibrator_errors(examples: Path, tmp_path: Path) -> None:
    r = _run([str(examples / "build_engine"), "--out-dir", str(tmp_path), "--demo-error"])
    assert r.returncode == 2, r.stdout + r.stderr
    assert ("build_engine: int8rt error: IInt8Calibrator::get_batch() batch 1: returned 2 tensors for 1 inputs"
            in r.stderr), r.stderr
    assert not (tmp_path / "example.i8rt").exists()


def test_run_engine_on_cpp_built_engine(examples: Path, cpp_built: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = cpp_built
    x = np.fromfile(out / "example_input.raw", dtype="<f4").reshape(-1, 3, 16, 16)
    _check_run_engine_matches_python(examples, out / "example.i8rt", x, tmp_path)


class _DigitsCalibrator(int8rt.IInt8EntropyCalibrator2):
    """Serves digits.npz 'calib' in batches of 32."""

    def __init__(self, images: np.ndarray) -> None:
        super().__init__()
        self.images, self.pos = images, 0

    def get_batch_size(self) -> int:
        return 32

    def get_batch(self, names: list[str]) -> Optional[list[np.ndarray]]:
        if self.pos >= len(self.images):
            return None
        batch = self.images[self.pos:self.pos + 32]
        self.pos += 32
        return [batch]


def test_run_engine_on_python_built_digits_engine(examples: Path, tmp_path: Path) -> None:
    with np.load(DATA / "digits.npz") as npz:
        calib, test_x = npz["calib"], npz["test_x"]
    engine = int8rt.build_engine(str(DATA / "digits_cnn.onnx"),
                                 int8rt.BuilderConfig(calibrator=_DigitsCalibrator(calib)))
    path = tmp_path / "digits.i8rt"
    engine.save(path)
    _check_run_engine_matches_python(examples, path, test_x[:24], tmp_path)


def test_run_engine_generated_input_and_errors(examples: Path, cpp_built: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = cpp_built
    run_engine = str(examples / "run_engine")
    r = _run([run_engine, str(out / "example.i8rt"), "--batch", "3", "--seed", "5", "--iters", "2"])
    assert r.returncode == 0, r.stderr
    assert "input image: shape [3, 3, 16, 16], generated (seed 5)" in r.stdout
    assert re.search(r"^output \S+: shape \[3, 10\]$", r.stdout, re.MULTILINE), r.stdout
    bad = tmp_path / "bad.i8rt"
    data = bytearray((out / "example.i8rt").read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    r = _run([run_engine, str(bad)])
    assert r.returncode == 2
    assert f"run_engine: int8rt error: engine file '{bad}': checksum mismatch" in r.stderr, r.stderr
    odd = tmp_path / "odd.raw"
    odd.write_bytes(b"\0" * (4 * 100))  # 100 floats: not a whole number of 3x16x16 images
    r = _run([run_engine, str(out / "example.i8rt"), "--input", str(odd)])
    assert r.returncode == 2 and "not a whole number of samples" in r.stderr, r.stderr
