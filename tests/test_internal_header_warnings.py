"""Internal headers compile alone without a warning at the library's own
flags (-Wall -Wextra, CMakeLists.txt's INT8RT_COMMON_FLAGS) made errors: the
int8 lowerer's headers, included by every lower_int8_*.cc (a warning there
is printed once per including file: -Wmissing-field-initializers at
Lowerer::record_int8_tensor, RESULTS.md section 188), and csrc/core's.
Follows test_cpp_embedding.py's check of the public headers.
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


@pytest.mark.parametrize("header", HEADERS)
def test_internal_header_compiles_alone_without_warnings(header: str) -> None:
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.fail("a C++ compiler is required")
    r = subprocess.run([cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c++",
                        "-I" + str(CSRC), "-I" + str(CSRC / "include"), "-"],
                       input=f'#include "{header}"\n', capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{header} does not compile alone without warnings:\n{r.stderr[-3000:]}"
