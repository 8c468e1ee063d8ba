"""The checking build (docs/reliability.md): int8rt compiled with ASan and
UBSan by tools/sanitize_tests.sh, its C++ unit tests and the Python tests of
the parsers and engine files run under it. Slow: a whole second build of the
library (tens of CPU-minutes cold with GCC) and of the C++ tests (about 10 CPU-minutes, RESULTS.md 225),
all at -O1 under the sanitizers. BUILD, when set, names the build to reuse (tools/sanitize_tests.sh's
variable; default build/asan)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from compile_flags import compile_entries, last_optimization_level

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TESTS = ["tests/test_cache.py", "tests/test_engine.py", "tests/test_engine_file_errors.py",
                "tests/test_save.py", "tests/test_error_text.py", "tests/test_int8_coverage.py",
                "tests/test_onnx_import_errors.py", "tests/test_fp32_ops.py"]


@pytest.mark.slow
def test_cpp_and_python_tests_under_asan_and_ubsan(tmp_path: Path) -> None:
    if shutil.which("gcc") is None or shutil.which("cmake") is None:
        pytest.skip("needs gcc and cmake")
    env = dict(os.environ)
    env.setdefault("BUILD", str(ROOT / "build" / "asan"))  # the script's own variable: an existing build reused
    r = subprocess.run(["bash", str(ROOT / "tools" / "sanitize_tests.sh"), *PYTHON_TESTS], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=7200)
    tail = r.stdout[-6000:] + r.stderr[-6000:]
    assert r.returncode == 0, tail
    for finding in ("ERROR: AddressSanitizer", "runtime error:"):
        assert finding not in r.stdout + r.stderr, tail
    if env.get("CPP_TESTS", "1") != "0":  # the script's switch: no C++ test build at all
        assert_cpp_tests_compiled_at_o1(Path(env["BUILD"]) / "cpptests" / "compile_commands.json")


def assert_cpp_tests_compiled_at_o1(compile_commands: Path) -> None:
    """Every object of the sanitized C++ tests (the tests and their x86 twins) was compiled under
    both sanitizers at -O1, as the library is: a Release -O3 after the script's flags made the
    emulated AVX-512 / AMX twins take tens of minutes each (RESULTS.md 225)."""
    entries = compile_entries(compile_commands)
    assert entries, compile_commands
    for entry in entries:
        command = entry["command"]
        assert "-fsanitize=address,undefined" in command, (entry["file"], command)
        assert last_optimization_level(command) == "-O1", (entry["file"], command)


def test_last_optimization_level() -> None:
    assert last_optimization_level("g++ -g -O1 -fsanitize=address -O3 -DNDEBUG -c a.cc") == "-O3"
    assert last_optimization_level("g++ -O3 -g -O1 -DNDEBUG -c a.cc") == "-O1"
    assert last_optimization_level("g++ -c a.cc") == "-O0"
