"""The Python face of the CUDA engine, without a GPU: builds int8rt with
INT8RT_WITH_CUDA=emulated (the CUDA kernel sources, cuda_backend.cu and the
engine's CUDA runner compiled as C++ over the emulated runtime, see
csrc/kernels/cuda/CMakeLists.txt) into a temporary package, then, in that
package, runs tests/test_cuda_gpu.py's engine test (digits CNN,
BuilderConfig(device="cuda") == device="cpu" byte for byte at batch 1, 7, 64),
tests/test_cuda_device_io.py (device arrays in and out) and benchmarks/cuda_engine_bench.py on small ResNet-18-like and
MobileNetV2-like networks, which must report identical bytes.

Marked ``slow`` (a second full build of the package, several minutes on two
cores): ``python -m pytest -m slow tests/test_cuda_emulated_package.py``.
INT8RT_EMULATED_SITE names an emulated package already built (a folder holding
int8rt/): tools/sanitize_tests.sh builds one under the sanitizers and runs
this file against it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def emulated_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("INT8RT_EMULATED_SITE"):
        return Path(os.environ["INT8RT_EMULATED_SITE"])
    site = tmp_path_factory.mktemp("emu_site")
    shutil.copytree(ROOT / "python" / "int8rt", site / "int8rt",
                    ignore=shutil.ignore_patterns("lib", "include", "_core*.so", "_testing*.so", "__pycache__"))
    build = tmp_path_factory.mktemp("emu_build")
    env = dict(os.environ, PREFIX=str(site))
    r = subprocess.run(["bash", str(ROOT / "tools" / "dev_build.sh"), str(build), "-DINT8RT_WITH_CUDA=emulated"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return site


def run_in(site: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def test_emulated_package_has_the_cuda_device(emulated_site: Path) -> None:
    r = run_in(emulated_site, ["-c", "import int8rt; print(int8rt.__file__); print(int8rt.devices()['cuda'])"])
    assert r.returncode == 0, r.stderr
    path, status = r.stdout.split("\n")[:2]
    assert path.startswith(str(emulated_site)) and status == "available"


def test_digits_engine_on_emulated_cuda_equals_cpu(emulated_site: Path) -> None:
    r = run_in(emulated_site, ["-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_cuda_gpu.py::test_engine_on_cuda_equals_engine_on_cpu"])
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]


def test_device_arrays_on_emulated_cuda(emulated_site: Path) -> None:
    r = run_in(emulated_site, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cuda_device_io.py"])
    assert r.returncode == 0 and "3 passed" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]


def test_engine_bench_networks_identical_on_emulated_cuda(emulated_site: Path) -> None:
    pytest.importorskip("torch")
    r = run_in(emulated_site, ["benchmarks/cuda_engine_bench.py", "--models", "resnet18", "mobilenet_v2",
                               "--size", "32", "--batches", "2", "--rounds", "1", "--min-time", "0"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "SIMT emulation" in r.stdout
    assert r.stdout.count("cuda == cpu bytes: yes") == 2, r.stdout
