"""tools/gtest_by_suite.py (one GoogleTest suite per process, so that a
sanitizer's abort ends its own suite only) over a stand-in binary that
answers GoogleTest's --gtest_list_tests and --gtest_filter as the real one
does: gtest_main's banner, a parameterized suite, a passing suite, a suite
that aborts with an ASan report, a suite with a failed test and a suite
whose test skips (GTEST_SKIP, as the native AVX-512 / AMX suites do on a CPU
without the ISA; --gtest_brief=1 prints "[  SKIPPED ] 1 test.")."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKE = r'''#!/usr/bin/env python3
import sys
args = sys.argv[1:]
if args[0] == "--gtest_list_tests":
    print("Running main() from gtest_main.cc")
    print("Good.\n  one\n  two\nSizes/Param.  # TypeParam = int\n  t/0  # GetParam() = 1\n  t/1  # GetParam() = 2")
    print("Bad.\n  reads_past\nWrong.\n  answer\nNoIsa.\n  native")
    sys.exit(0)
tests = args[0].split("=", 1)[1].split(":")
with open(sys.argv[0] + ".calls", "a") as f:
    f.write(" ".join(tests) + "\n")
if tests[0].startswith("Bad."):
    sys.stderr.write("==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1\n")
    sys.exit(134)
if tests[0].startswith("Wrong."):
    print("[  FAILED  ] Wrong.answer (0 ms)\n[  FAILED  ] 1 test, listed below:")
    sys.exit(1)
if tests[0].startswith("NoIsa."):
    print("t.cc:9: Skipped\nCPU lacks avx512vnni\n[  PASSED  ] 0 tests.\n[  SKIPPED ] 1 test.")
    sys.exit(0)
print(f"[  PASSED  ] {len(tests)} tests.")
'''


def test_every_suite_runs_alone_and_findings_do_not_stop_the_rest(tmp_path: Path) -> None:
    fake = tmp_path / "fake_gtest"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gtest_by_suite.py"), str(fake), "--log-dir",
                        str(tmp_path / "logs")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    calls = (tmp_path / "fake_gtest.calls").read_text().splitlines()
    assert calls == ["Good.one Good.two", "Sizes/Param.t/0 Sizes/Param.t/1", "Bad.reads_past", "Wrong.answer",
                     "NoIsa.native"]
    assert "== 3 of 5 suites passed; 4 tests passed, 1 skipped" in r.stdout
    assert "FAILED Bad (exit 134): ERROR: AddressSanitizer: heap-buffer-overflow" in r.stdout
    assert "FAILED Wrong (exit 1): failed: Wrong.answer" in r.stdout
    assert "heap-buffer-overflow" in (tmp_path / "logs" / "Bad.log").read_text()
    assert (tmp_path / "logs" / "Sizes_Param.log").exists()
    assert "NoIsa: 0 passed, 1 skipped" in r.stdout
