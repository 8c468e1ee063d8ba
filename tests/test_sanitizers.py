"""The checking build (docs/reliability.md): int8rt compiled with ASan and
UBSan by tools/sanitize_tests.sh, its C++ unit tests and the Python tests of
the parsers and engine files run under it. Slow: a whole second build of the
library (tens of CPU-minutes cold with GCC) and of the C++ tests (about 10 CPU-minutes, RESULTS.md 225),
all at the script's level (-Og) under the sanitizers. BUILD, when set, names the build to reuse
(tools/sanitize_tests.sh's variable; default build/asan). The planted bugs
(tests/sanitizers/planted_bugs.cc) show that the script's flags report every class of bug the build
relies on."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from compile_flags import compile_entries, last_optimization_level

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "sanitize_tests.sh"
# Each planted bug: its case in planted_bugs.cc, the run-time value that makes it a bug, one that makes it a
# correct run, and the report the bug must end with.
PLANTED = [
    ("heap-read", 4, 0, "AddressSanitizer: heap-buffer-overflow"),
    ("heap-write", 4, 0, "AddressSanitizer: heap-buffer-overflow"),
    ("use-after-free", 1, 0, "AddressSanitizer: heap-use-after-free"),
    ("double-free", 1, 0, "AddressSanitizer: attempting double-free"),
    ("stack-read", 4, 0, "AddressSanitizer: stack-buffer-overflow"),
    ("global-read", 8, 0, "AddressSanitizer: global-buffer-overflow"),
    ("use-after-scope", 1, 0, "AddressSanitizer: stack-use-after-scope"),
    ("avx2-load", 4, 0, "READ of size 32"),  # ASan calls a 32-byte access that straddles the end unknown-crash
    ("signed-overflow", 62, 0, "runtime error: signed integer overflow"),
    ("shift", 70, 0, "runtime error: shift exponent 70"),
    ("divide-by-zero", 4, 0, "runtime error: division by zero"),
    ("null-memcpy", 4, 1, "runtime error: null pointer passed as argument"),
    ("null-member", 4, 0, "runtime error: member access within null pointer"),
    ("bounds", 4, 0, "runtime error: index 4 out of bounds"),
    ("misaligned", 1, 0, "runtime error: load of misaligned address"),
    ("bool", 5, 1, "runtime error: load of value 5, which is not a valid value for type 'bool'"),
    ("enum", 1, 0, "runtime error: load of value 100, which is not a valid value for type"),
    ("vla-bound", 5, 0, "runtime error: variable length array bound evaluates to non-positive value"),
    ("pointer-overflow", 1, 0, "runtime error: pointer index expression"),
    ("builtin", 4, 5, "runtime error: passing zero to ctz()"),
    ("missing-return", 7, 0, "runtime error: execution reached the end of a value-returning function"),
]


def script_flags() -> tuple[str, list[str]]:
    """tools/sanitize_tests.sh's default optimization level and its sanitizer flags (one home: the script)."""
    text = SCRIPT.read_text()
    opt = re.search(r"^opt=\$\{SANITIZE_OPT:-(-O\w)\}", text, re.M)
    flags = re.search(r'^flags="([^"]*)"', text, re.M)
    assert opt and flags, "tools/sanitize_tests.sh: no opt= or flags= line"
    return opt.group(1), flags.group(1).replace("$opt", opt.group(1)).split()
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
        assert_cpp_tests_compiled_at_script_level(Path(env["BUILD"]) / "cpptests" / "compile_commands.json")
    if env.get("FUZZ_REPLAY", env.get("CPP_TESTS", "1")) != "0":  # the three fuzz targets' corpora replayed
        assert r.stdout.count("inputs replayed, no finding") == 3, tail


def assert_cpp_tests_compiled_at_script_level(compile_commands: Path) -> None:
    """Every object of the sanitized C++ tests (the tests and their x86 twins) was compiled under
    both sanitizers at -O1: a Release -O3 after the script's flags made the emulated AVX-512 / AMX
    twins take tens of minutes each (RESULTS.md 225). -O1, not the library's -Og: tests/cpp's own
    level (INT8RT_TEST_OPT, test_cpp_unit.py's check) comes after the script's flags, so it wins
    (RESULTS.md 240)."""
    entries = compile_entries(compile_commands)
    assert entries, compile_commands
    level = "-O1"
    for entry in entries:
        command = entry["command"]
        assert "-fsanitize=address,undefined" in command, (entry["file"], command)
        assert last_optimization_level(command) == level, (entry["file"], command)


def cpp_tests_asan_options(cpp_leaks: str) -> str:
    """The ASAN_OPTIONS tools/sanitize_tests.sh runs the C++ tests with under CPP_LEAKS=cpp_leaks (one home:
    the script's two lines, evaluated by bash as the script evaluates them)."""
    lines = [line for line in SCRIPT.read_text().splitlines()
             if line.startswith(("export ASAN_OPTIONS=", "cpp_asan_options="))]
    assert len(lines) == 2, "tools/sanitize_tests.sh: no ASAN_OPTIONS= or cpp_asan_options= line"
    return subprocess.run(["bash", "-c", "\n".join([*lines, 'echo "$cpp_asan_options"'])], capture_output=True,
                          text=True, check=True, env=dict(os.environ, CPP_LEAKS=cpp_leaks)).stdout.strip()


@pytest.fixture(scope="module")
def planted_bugs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/sanitizers/planted_bugs.cc compiled with the script's flags at its level."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    _, flags = script_flags()
    exe = tmp_path_factory.mktemp("planted") / "planted_bugs"
    subprocess.run(["g++", "-std=c++17", *flags, "-Wno-vla", str(ROOT / "tests" / "sanitizers" / "planted_bugs.cc"),
                    "-o", str(exe)], check=True, capture_output=True, text=True, timeout=300)
    return exe


@pytest.mark.slow
def test_planted_bugs_are_reported_under_the_scripts_flags(planted_bugs: Path) -> None:
    """Every class of bug the checking build relies on (ASan: heap / stack / global overflows, use after
    free / scope, double free, a 32-byte AVX2 load; UBSan: signed overflow, shifts, division by zero,
    null memcpy / member, bounds, alignment, bool / enum loads, VLA bounds, pointer overflow, ctz(0),
    a missing return) ends its run with its report when planted_bugs.cc is compiled with the script's
    flags at its level (-Og since RESULTS.md 237; -O1 before)."""
    opt, _ = script_flags()
    exe = planted_bugs
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    avx2 = " avx2 " in " " + Path("/proc/cpuinfo").read_text().replace("\n", " ") + " "
    for name, bug, good, report in PLANTED:
        if name == "avx2-load" and not avx2:
            continue
        r = subprocess.run([str(exe), name, str(bug)], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and report in r.stderr, (opt, name, r.stdout, r.stderr[-2000:])
        # The same case without its bug runs to the end: the report is the planted bug's.
        ok = subprocess.run([str(exe), name, str(good)], env=env, capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0 and "ran to the end" in ok.stdout, (opt, name, ok.stderr[-2000:])


def test_last_optimization_level() -> None:
    assert last_optimization_level("g++ -g -O1 -fsanitize=address -O3 -DNDEBUG -c a.cc") == "-O3"
    assert last_optimization_level("g++ -O3 -g -O1 -DNDEBUG -c a.cc") == "-O1"
    assert last_optimization_level("g++ -c a.cc") == "-O0"


@pytest.mark.slow
def test_planted_leak_is_reported_under_the_cpp_tests_options(planted_bugs: Path) -> None:
    """CPP_LEAKS=1 runs the C++ tests with leak checking on (RESULTS.md 240): a buffer its owner forgets
    ends the run with LeakSanitizer's report under the script's options for them, and the same buffer
    kept reachable does not."""
    assert "detect_leaks=0" in cpp_tests_asan_options("0")
    env = dict(os.environ, ASAN_OPTIONS=cpp_tests_asan_options("1"), UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    r = subprocess.run([str(planted_bugs), "leak", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "LeakSanitizer: detected memory leaks" in r.stderr, (env["ASAN_OPTIONS"], r.stderr)
    assert "keep_or_drop" in r.stderr, r.stderr[-2000:]  # the report names where the buffer was allocated
    ok = subprocess.run([str(planted_bugs), "leak", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "ran to the end" in ok.stdout, ok.stderr[-2000:]


def test_fuzz_replay_main_reports_a_read_past_the_input(tmp_path: Path) -> None:
    """tests/sanitizers/fuzz_replay_main.cc (the script's FUZZ_REPLAY) hands each input to the target in a
    heap buffer of exactly its size, as libFuzzer does: a target that reads one byte past the end of a
    3-byte input ends with ASan's heap-buffer-overflow, while inputs it reads within bounds (a directory of
    them, the empty one included) replay to the end and are counted."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    _, flags = script_flags()
    target = tmp_path / "target.cc"
    target.write_text('#include <cstddef>\n#include <cstdint>\nvolatile uint8_t sink;\n'
                      'extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {\n'
                      '  if (size == 3) sink = data[3];  // the planted read: one past a 3-byte input\n'
                      '  else if (size > 0) sink = data[size - 1];\n  return 0;\n}\n')
    exe = tmp_path / "replay"
    subprocess.run(["g++", "-std=c++17", *flags, str(ROOT / "tests" / "sanitizers" / "fuzz_replay_main.cc"),
                    str(target), "-o", str(exe)], check=True, capture_output=True, text=True, timeout=300)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in [("a", b""), ("b", b"x"), ("c", b"abcd")]:
        (corpus / name).write_bytes(data)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="halt_on_error=1")
    ok = subprocess.run([str(exe), str(corpus)], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "3 inputs replayed" in ok.stdout, ok.stderr[-2000:]
    bad = tmp_path / "bad"
    bad.write_bytes(b"abc")
    r = subprocess.run([str(exe), str(corpus), str(bad)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "AddressSanitizer: heap-buffer-overflow" in r.stderr, r.stderr[-2000:]
    assert "READ of size 1" in r.stderr and str(bad) in r.stderr, r.stderr[-2000:]
