"""Internal headers compile alone without a warning at the library's own
flags (-Wall -Wextra, CMakeLists.txt's INT8RT_COMMON_FLAGS) made errors: the
int8 lowerer's headers, included by every lower_int8_*.cc (a warning there
is printed once per including file: -Wmissing-field-initializers at
Lowerer::record_int8_tensor, RESULTS.md section 188), and csrc/core's.
Follows test_cpp_embedding.py's check of the public headers.
The layernorm rule (kernels/ref/layernorm_f32.h) is compiled to code at the
baseline flags (no AVX), where GCC printed -Wpsabi for a function returning
a vector of 4 doubles (an AVX register) in every dev build: that warning
comes from code generation, so its check compiles and instantiates instead
of -fsyntax-only (RESULTS.md section 190).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
HEADERS = sorted(str(p.relative_to(CSRC)) for p in [*CSRC.glob("engine/lower_int8*.h"), *CSRC.glob("core/*.h")])


def test_the_checked_headers_are_found() -> None:
    assert "engine/lower_int8_lowerer.h" in HEADERS and "core/checked_math.h" in HEADERS, HEADERS


def _cxx() -> str:
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.fail("a C++ compiler is required")
    return cxx


@pytest.mark.parametrize("header", HEADERS)
def test_internal_header_compiles_alone_without_warnings(header: str) -> None:
    r = subprocess.run([_cxx(), "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c++",
                        "-I" + str(CSRC), "-I" + str(CSRC / "include"), "-"],
                       input=f'#include "{header}"\n', capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{header} does not compile alone without warnings:\n{r.stderr[-3000:]}"


LAYERNORM_USE = """#include "kernels/ref/layernorm_f32.h"
using namespace int8rt::kernels::ref;
Moments one(const float* x, long n) { return moments(x, n, 1e-5); }
void four(const float* const* x, long n, Moments* out) { moments_rows<4>(x, n, 1e-5, out); }
"""


# The tiers' flags as csrc/kernels/x86/CMakeLists.txt gives them (the avx512 tier's
# -Wno-maybe-uninitialized: GCC 12's own AVX-512 headers, GCC bug 105593).
@pytest.mark.parametrize("isa", [[], ["-mavx2", "-mfma"],
                                 ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-Wno-maybe-uninitialized"]],
                         ids=["baseline", "avx2", "avx512"])
def test_layernorm_rule_compiles_without_warnings_at_every_width(isa: list[str]) -> None:
    r = subprocess.run([_cxx(), "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", *isa,
                        "-c", "-x", "c++", "-I" + str(CSRC), "-I" + str(CSRC / "include"), "-o", "/dev/null", "-"],
                       input=LAYERNORM_USE, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"kernels/ref/layernorm_f32.h warns at {isa or 'baseline'} flags:\n{r.stderr[-3000:]}"
