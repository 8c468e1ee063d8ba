"""nvcc checks of the CUDA kernels in csrc/kernels/cuda, no GPU needed.

The sources are compiled with nvcc directly (not through the wheel build,
which leaves CUDA off for time; see csrc/kernels/cuda/CMakeLists.txt):

- every .cu file compiles to PTX for compute_75;
- the conv and GEMM kernels' PTX contains ``dp4a`` inside their entry;
- no kernel's PTX contains ``fma.rn.f32`` under nvcc's default flags (the
  epilogue's __fmul_rn/__fadd_rn forbid contraction; ref/requantize.h has
  none);
- ptxas reports no spills and no stack frame for the conv, depthwise and
  GEMM kernels on sm_75 and sm_86.

Without nvcc the module is skipped. Under CI (``CI=true``) nothing here may
be skipped when nvcc is present, and that is the only condition for skipping.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CUDA_DIR = ROOT / "csrc" / "kernels" / "cuda"


sys.path.insert(0, str(ROOT / "tools"))
import cuda_env  # noqa: E402

NVCC = cuda_env.find_nvcc()
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc not found (CUDA toolkit not installed)")

DP4A_KERNELS = {
    "conv_s8_dp4a_64x64.cu": "conv_s8_dp4a_kernel",
    "gemm_s8_dp4a_64x64.cu": "gemm_s8_dp4a_kernel",
}
SPILL_CHECKED = ["conv_s8_dp4a_64x64.cu", "gemm_s8_dp4a_64x64.cu", "conv_s8_depthwise.cu"]
PTXAS_ARCHS = ["sm_75", "sm_86"]


def _run(cmd: list[str], preload: bool = False) -> subprocess.CompletedProcess[str]:
    """`cmd`; the toolchain (nvcc, ptxas) without LD_PRELOAD unless `preload`: under
    tools/sanitize_tests.sh, Python has libasan / libubsan preloaded, which nvcc's uninstrumented
    binaries need not carry, while a program linked against the sanitized libint8rt runs with them."""
    env = None if preload else {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def ptx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PTX (compute_75, nvcc's default flags) of every .cu file, by file name."""
    out = tmp_path_factory.mktemp("ptx")
    sources = sorted(CUDA_DIR.glob("*.cu"))
    assert sources, f"no .cu files under {CUDA_DIR}"

    def compile_one(src: Path) -> tuple[str, str]:
        dst = out / (src.stem + ".ptx")
        r = _run([NVCC, "-std=c++17", "-ptx", "-arch=compute_75", "-I", str(ROOT / "csrc"),
                  "-I", str(ROOT / "csrc" / "include"), str(src), "-o", str(dst)])
        assert r.returncode == 0, f"nvcc -ptx {src.name} failed:\n{r.stderr[-4000:]}"
        return src.name, dst.read_text()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(compile_one, sources))


def _entries(ptx_text: str) -> dict[str, str]:
    """Body of every .entry (kernel) in a PTX file, keyed by mangled name."""
    bodies: dict[str, str] = {}
    for m in re.finditer(r"\.entry\s+(\S+?)\s*\(", ptx_text):
        start = ptx_text.index("{", m.end())
        depth, i = 0, start
        while True:
            depth += {"{": 1, "}": -1}.get(ptx_text[i], 0)
            if depth == 0:
                break
            i += 1
        bodies[m.group(1)] = ptx_text[start:i]
    return bodies


def _entry(ptx_text: str, kernel: str) -> str:
    matches = [body for name, body in _entries(ptx_text).items() if kernel in name]
    assert len(matches) == 1, f"expected one entry named like {kernel}, found {len(matches)}"
    return matches[0]


@pytest.mark.parametrize("source", sorted(DP4A_KERNELS))
def test_dp4a_in_kernel_ptx(ptx: dict[str, str], source: str) -> None:
    body = _entry(ptx[source], DP4A_KERNELS[source])
    n = len(re.findall(r"\bdp4a\.s32\.s32\b", body))
    # The 64x64 tile: 8 reduction words x 4 rows x 4 columns per thread per step.
    assert n >= 8 * 4 * 4, f"{source}: {n} dp4a.s32.s32 in the kernel body"


def test_no_fma_contraction_in_any_kernel(ptx: dict[str, str]) -> None:
    for source, text in ptx.items():
        for name, body in _entries(text).items():
            assert "fma.rn.f32" not in body, f"{source}: {name} contains fma.rn.f32"


def test_epilogue_rounds_half_to_even(ptx: dict[str, str]) -> None:
    # __float2int_rn is cvt.rni (round to nearest even); a cvt.rzi / cvt.rmi there would differ.
    for source in ("conv_s8_dp4a_64x64.cu", "gemm_s8_dp4a_64x64.cu", "conv_s8_depthwise.cu",
                   "quantize_nc4hw4.cu"):
        assert re.search(r"cvt\.rni\.s32\.f32", ptx[source]), source


@pytest.fixture(scope="module")
def ptxas_reports(ptx: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """`ptxas -v` output for each spill-checked file and architecture."""
    ptxas = str(Path(NVCC).with_name("ptxas"))
    if not Path(ptxas).exists():
        ptxas = shutil.which("ptxas") or "ptxas"
    out = tmp_path_factory.mktemp("cubin")
    jobs = [(src, arch) for src in SPILL_CHECKED for arch in PTXAS_ARCHS]
    for src in SPILL_CHECKED:  # written once, before the parallel ptxas runs read them
        (out / f"{Path(src).stem}.ptx").write_text(ptx[src])

    def assemble(job: tuple[str, str]) -> tuple[tuple[str, str], str]:
        src, arch = job
        ptx_file = out / f"{Path(src).stem}.ptx"
        r = _run([ptxas, "-v", f"-arch={arch}", str(ptx_file), "-o", str(out / f"{Path(src).stem}.{arch}.cubin")])
        assert r.returncode == 0, f"ptxas {arch} {src} failed:\n{r.stderr[-4000:]}"
        return job, r.stdout + r.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(assemble, jobs))


@pytest.mark.parametrize("arch", PTXAS_ARCHS)
@pytest.mark.parametrize("source", SPILL_CHECKED)
def test_no_register_spills(ptxas_reports: dict[tuple[str, str], str], source: str, arch: str) -> None:
    report = ptxas_reports[(source, arch)]
    lines = re.findall(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", report)
    assert lines, f"no ptxas -v report for {source} {arch}:\n{report}"
    for frame, stores, loads in lines:
        assert (int(stores), int(loads)) == (0, 0), f"{source} {arch} spills:\n{report}"
        assert int(frame) == 0, f"{source} {arch} uses a stack frame:\n{report}"
    regs = [int(r) for r in re.findall(r"Used (\d+) registers", report)]
    # 256-thread blocks: at most 255 registers per thread is a hard limit; 128 keeps 2 blocks per SM.
    assert regs and max(regs) <= 128, f"{source} {arch}: registers {regs}"


def test_driver_links_and_refuses_without_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host API (cuda_backend.cu) and every kernel build and link against
    the installed libint8rt (benchmarks/cuda/cuda_bench_main.cu, sm_75 only);
    without a GPU the program refuses with NotSupported's message, exit 2.
    Against tools/sanitize_tests.sh's package it links the sanitized library
    and runs with the sanitizer runtimes preloaded (nvcc without them)."""
    with monkeypatch.context() as m:
        m.delenv("LD_PRELOAD", raising=False)
        try:
            exe = cuda_env.build_driver(tmp_path, arch="sm_75", nvcc=NVCC)
        except RuntimeError as e:
            pytest.fail(str(e))
    has_gpu, _ = cuda_env.gpu_status()
    if has_gpu:
        pytest.skip("a GPU is present: tests/test_cuda_gpu.py runs the driver for real")
    r = _run([str(exe), "--check-only"], preload=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert re.search(r"no CUDA GPU available|no usable NVIDIA driver", r.stderr), r.stderr
