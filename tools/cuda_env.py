"""Finding the CUDA toolchain and a GPU, and building the CUDA benchmark /
check driver (benchmarks/cuda/cuda_bench_main.cu) with nvcc against the
installed libint8rt. Shared by benchmarks/cuda_bench.py and the CUDA tests;
no GPU is needed to build, one is needed to run.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def find_nvcc() -> str | None:
    """Path of nvcc (PATH first, then /usr/local/cuda/bin), or None."""
    found = shutil.which("nvcc")
    if found:
        return found
    default = Path("/usr/local/cuda/bin/nvcc")
    return str(default) if default.exists() else None


def gpu_status() -> tuple[bool, str]:
    """(True, description) when the CUDA driver reports at least one GPU,
    else (False, why not). Asks the driver library itself (libcuda), so a
    machine with the toolkit but no GPU, or a GPU but no driver, says no."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False, "no CUDA GPU available (NVIDIA driver library libcuda.so.1 not found)"
    if cuda.cuInit(0) != 0:
        return False, "no CUDA GPU available (cuInit failed: no device or driver not loaded)"
    count = ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return False, "no CUDA GPU available (the driver reports 0 devices)"
    return True, f"{count.value} CUDA device(s)"


def int8rt_lib_dir() -> Path:
    """Folder of the installed libint8rt (the package's C++ SDK)."""
    import int8rt.cmake_dir

    return Path(int8rt.cmake_dir.cmake_dir()).parents[1]


def build_driver(out: Path, arch: str = "native", nvcc: str | None = None) -> Path:
    """Compiles the driver and the kernels (csrc/kernels/cuda/*.cu) into
    ``out``/cuda_bench and returns its path; raises RuntimeError with nvcc's
    output on failure."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise RuntimeError("nvcc not found (install the CUDA toolkit)")
    lib = int8rt_lib_dir()
    exe = out / "cuda_bench"
    sources = [ROOT / "benchmarks" / "cuda" / "cuda_bench_main.cu",
               *sorted((ROOT / "csrc" / "kernels" / "cuda").glob("*.cu"))]
    cmd = [nvcc, "-std=c++17", "-O3", f"-arch={arch}", "-I", str(ROOT / "csrc"),
           "-I", str(ROOT / "csrc" / "include"), *map(str, sources),
           "-L", str(lib), "-lint8rt", f"-Xlinker=-rpath,{lib}", "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("building the CUDA driver failed:\n" + r.stdout[-3000:] + r.stderr[-6000:])
    return exe
