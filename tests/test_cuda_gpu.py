"""The CUDA kernels on a real GPU: builds benchmarks/cuda/cuda_bench_main.cu
for this GPU (nvcc -arch=native) and runs it in --check-only mode, which
compares every layer (conv stem 7x7/2, 3x3, 1x1, odd channels with stride 2,
grouped, depthwise, two GEMMs, a 16M-value histogram) bit for bit against
the reference kernels and int8rt's CPU histogram.

Marked ``gpu``: skipped cleanly without a GPU/driver or without nvcc.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import cuda_env  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ok, why = cuda_env.gpu_status()
    if not ok:
        pytest.skip(why)
    if cuda_env.find_nvcc() is None:
        pytest.skip("nvcc not found")
    return cuda_env.build_driver(tmp_path_factory.mktemp("cuda_gpu"))


def test_kernels_bit_exact_on_gpu(driver: Path) -> None:
    r = subprocess.run([str(driver), "--check-only"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "MISMATCH" not in r.stdout
    assert r.stdout.count("bit-exact") == 10, r.stdout
