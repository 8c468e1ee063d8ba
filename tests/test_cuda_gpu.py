"""The CUDA kernels on a real GPU: builds benchmarks/cuda/cuda_bench_main.cu
for this GPU (nvcc -arch=native) and runs it in --check-only mode, which
compares every layer (conv stem 7x7/2, 3x3, 1x1, odd channels with stride 2,
grouped, depthwise, two GEMMs, a 16M-value histogram) bit for bit against
the reference kernels and int8rt's CPU histogram.

Also the engine end to end: the bundled digits CNN built with
``device="cuda"`` gives exactly the CPU engine's outputs (the CUDA kernels
equal the reference kernels bit for bit). That test needs an int8rt built
with the CUDA backend (``pip install . -C cmake.define.INT8RT_WITH_CUDA=on``).

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


def test_engine_on_cuda_equals_engine_on_cpu() -> None:
    import numpy as np

    import int8rt
    from int8rt.quickstart import DATA_PATH, MODEL_PATH

    status = int8rt.devices()["cuda"]
    if status != "available":
        pytest.skip(f"no usable CUDA device for the engine: {status} "
                    "(a CUDA build: pip install . -C cmake.define.INT8RT_WITH_CUDA=on)")
    data = np.load(DATA_PATH)

    class Calibrator(int8rt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self.done = False

        def get_batch_size(self) -> int:
            return len(data["calib"])

        def get_batch(self, names):
            if self.done:
                return None
            self.done = True
            return [data["calib"]]

    engines = {d: int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=Calibrator(), device=d))
               for d in ("cpu", "cuda")}
    assert engines["cuda"].device == "cuda"
    assert any(layer["detail"].startswith("cuda ") for layer in engines["cuda"].layers())
    for batch in (1, 7, 64):
        x = data["test_x"][:batch]
        want = engines["cpu"].run({"input": x})["logits"]
        got = engines["cuda"].run({"input": x})["logits"]
        assert got.tobytes() == want.tobytes(), f"batch {batch}"
