"""No function of libint8rt.so that baseline code (or a lower tier) can reach
needs an ISA extension that code's tier lacks (tests/isa_fence.py).

The failure this guards against was real: an AVX-512 copy of
std::vector<float>::assign, instantiated by an AVX-512 kernel file and kept by
the linker for every caller, killed any build on an AVX2-only CPU with SIGILL
(csrc/kernels/x86/CMakeLists.txt now links the ISA libraries after baseline
code). It only shows on CPUs without AVX-512, so this reads the disassembly
and holds on every x86-64 machine. A second test builds a small library the
wrong way round and checks that the fence check names its leaked function.
"""
from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

import int8rt
from isa_fence import violations

pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or shutil.which("objdump") is None
    or shutil.which("nm") is None, reason="needs x86-64 and binutils (objdump, nm)")

LIB = Path(int8rt.__file__).resolve().parent / "lib" / "libint8rt.so"

# Two files of one library: an AVX-512 kernel and baseline code, both calling
# one inline template outside the ISA namespaces (a kernels::ref helper, the
# std::vector<float>::assign of the real bug) -- the shape of the leak.
SHARED_HEADER = """
namespace int8rt { namespace shared {
template <typename T> __attribute__((noinline)) inline void fill(T* p, int n, T v) {
  for (int i = 0; i < n; ++i) p[i] = v;
}
}}
"""
KERNEL_CC = SHARED_HEADER + """
namespace int8rt { namespace kernels { namespace x86 { namespace avx512 {
float kernel_sum(float* p, int n) { shared::fill(p, n, 1.5f); return p[0]; }
}}}}
"""
BASELINE_CC = SHARED_HEADER + """
namespace int8rt { float baseline_fill(float* p, int n) { shared::fill(p, n, 2.5f); return p[0]; } }
"""

def test_installed_library_keeps_the_isa_fence() -> None:
    if not LIB.exists():
        pytest.skip(f"{LIB} not found")
    found = violations(str(LIB))
    assert not found, "functions reachable from a lower tier need more:\n" + "\n".join(found[:20])


@pytest.mark.parametrize("isa_objects_first", [True, False])
def test_fence_check_finds_a_leaked_instantiation(tmp_path, isa_objects_first: bool) -> None:
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler to build the sample library")
    (tmp_path / "kernel.cc").write_text(KERNEL_CC)
    (tmp_path / "baseline.cc").write_text(BASELINE_CC)
    flags = ["-O3", "-fPIC", "-c"]
    subprocess.run([compiler, *flags, "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq",
                    "kernel.cc", "-o", "kernel.o"], cwd=tmp_path, check=True)
    subprocess.run([compiler, *flags, "baseline.cc", "-o", "baseline.o"], cwd=tmp_path, check=True)
    objects = ["kernel.o", "baseline.o"] if isa_objects_first else ["baseline.o", "kernel.o"]
    subprocess.run([compiler, "-shared", *objects, "-o", "libsample.so"], cwd=tmp_path, check=True)
    leaked = [v for v in violations(str(tmp_path / "libsample.so")) if "shared::fill" in v]
    if isa_objects_first:  # the linker keeps the kernel's AVX-512 copy for baseline_fill too
        assert leaked and "avx512" in leaked[0], violations(str(tmp_path / "libsample.so"))
    else:
        assert not leaked
