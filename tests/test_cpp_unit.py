"""Builds the GoogleTest suite in tests/cpp against the installed int8rt C++
package and runs it; each failing C++ test is reported by name.

GoogleTest comes from the system (Debian: ``apt-get install libgtest-dev``).
Without it the suite is skipped on a developer machine but fails under CI
(``CI=true``), so CI can never pass without running it.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from compile_flags import compile_entries, last_optimization_level

import int8rt.cmake_dir

HERE = Path(__file__).resolve().parent


def _gtest_available() -> bool:
    return any(Path(p).exists() for p in (
        "/usr/lib/x86_64-linux-gnu/cmake/GTest",
        "/usr/lib/cmake/GTest",
        "/usr/local/lib/cmake/GTest",
        "/usr/lib/aarch64-linux-gnu/cmake/GTest",
        "/usr/include/gtest/gtest.h",
    ))


@pytest.fixture(scope="session")
def cpp_test_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("cmake") is None:
        pytest.fail("cmake is required to build the C++ tests")
    if not _gtest_available():
        if os.environ.get("CI"):
            pytest.fail("GoogleTest missing under CI: apt-get install libgtest-dev")
        pytest.skip("GoogleTest not installed (apt-get install libgtest-dev)")
    build = tmp_path_factory.mktemp("cpptests")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    r = subprocess.run(["cmake", "-S", str(HERE / "cpp"), "-B", str(build), *gen,
                        f"-Dint8rt_DIR={int8rt.cmake_dir.cmake_dir()}", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("C++ tests failed to configure:\n" + r.stdout[-4000:] + r.stderr[-4000:])
    r = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("C++ tests failed to build:\n" + r.stdout[-6000:] + r.stderr[-6000:])
    return build / "int8rt_cpp_tests"


def test_cpp_unit_suite(cpp_test_binary: Path) -> None:
    r = subprocess.run([str(cpp_test_binary), "--gtest_brief=1"], capture_output=True, text=True)
    sys.stdout.write(r.stdout[-4000:])
    assert r.returncode == 0, "C++ unit tests failed:\n" + r.stdout[-8000:] + r.stderr[-4000:]


# The x86 twins' object libraries (tests/cpp/CMakeLists.txt).
TWIN_TARGETS = ("int8rt_x86_emulated", "int8rt_avxvnni_emulated", "int8rt_avxvnni_evex")


def test_cpp_tests_compile_at_o1(cpp_test_binary: Path) -> None:
    """Every object of the C++ test build (test files, the CUDA-emulated backend, the x86 twins) compiles
    at -O1 (the last -O on its line): CI builds them cold, and at the build type's -O3 the emulated
    AVX512-BF16 twins alone took over 300 CPU-seconds, a test file 1.7x its -O1 time (RESULTS.md 228, 231)."""
    entries = compile_entries(cpp_test_binary.parent / "compile_commands.json")
    assert any("/int8rt_cpp_tests.dir/" in e["command"] for e in entries), "no test file in the build"
    if platform.machine().lower() in ("x86_64", "amd64"):  # the x86 twins exist on x86-64 only
        assert {t for t in TWIN_TARGETS if any(f"/{t}.dir/" in e["command"] for e in entries)} == set(TWIN_TARGETS)
    for entry in entries:
        assert last_optimization_level(entry["command"]) == "-O1", (entry["file"], entry["command"])
