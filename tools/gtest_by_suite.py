#!/usr/bin/env python3
"""Runs a GoogleTest binary one test suite per process, so that a fatal
finding (a sanitizer's abort: tools/sanitize_tests.sh makes every finding
fatal) ends its own suite only and the suites after it still run: one pass
names every finding instead of the first. Each suite's output goes to
LOG_DIR/<suite>.log; a failed suite is listed with the first sanitizer line
of its log (or its last failed test). Exit status 1 when any suite failed.

    tools/gtest_by_suite.py build/asan/cpptests/int8rt_cpp_tests --log-dir /tmp/x
    tools/gtest_by_suite.py BINARY --filter 'AmxGemm*:Ref*' --timeout 900

Follows GoogleTest's own command line (--gtest_list_tests, --gtest_filter,
the "[  PASSED  ] N tests." summary line).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

FINDING = re.compile(r"ERROR: AddressSanitizer.*|runtime error:.*|ERROR: LeakSanitizer.*|SUMMARY: \w+Sanitizer.*")


def list_tests(binary: str, pattern: str) -> dict[str, list[str]]:
    """suite -> its tests' full names, in the binary's order."""
    out = subprocess.run([binary, "--gtest_list_tests", f"--gtest_filter={pattern}"], capture_output=True,
                         text=True, check=True).stdout
    suites: dict[str, list[str]] = {}
    suite = ""
    for line in out.splitlines():
        if not line.strip() or (not line[0].isspace() and not line.split()[0].endswith(".")):
            continue  # gtest_main's "Running main() from ..."
        if not line[0].isspace():  # "Suite." (a typed or parameterized suite adds "  # TypeParam = ...")
            suite = line.split()[0][:-1]
            suites[suite] = []
        else:  # "  Test" (a parameterized test adds "  # GetParam() = ...")
            suites[suite].append(f"{suite}.{line.split()[0]}")
    return suites


def run_suite(binary: str, tests: list[str], log: Path, timeout: float) -> tuple[int, int, int, str]:
    """(return code, tests passed, tests skipped, the first finding or failed test; "" when it passed)."""
    try:
        r = subprocess.run([binary, "--gtest_filter=" + ":".join(tests), "--gtest_brief=1"], capture_output=True,
                           text=True, timeout=timeout)
        rc, text = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        rc = 124
        text = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
        text += f"\n(timed out after {timeout:g} s)\n"
    log.write_text(text)
    passed = sum(int(m) for m in re.findall(r"\[  PASSED  \] (\d+) tests?\.", text))
    # "[  SKIPPED ] 1 test." under --gtest_brief=1, "[  SKIPPED ] 1 test, listed below:" without it.
    skipped = sum(int(m) for m in re.findall(r"\[  SKIPPED \] (\d+) tests?[,.]", text))
    if rc == 0:
        return rc, passed, skipped, ""
    found = FINDING.search(text)
    failed = re.findall(r"\[  FAILED  \] (\S+\.\S+)", text)
    lines = text.strip().splitlines()
    why = found.group(0) if found else f"failed: {failed[0]}" if failed else lines[-1] if lines else "no output"
    return rc, passed, skipped, why


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--filter", default="*", help="a --gtest_filter pattern choosing the tests (default: all)")
    ap.add_argument("--log-dir", default="gtest_suite_logs")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per suite")
    a = ap.parse_args()
    logs = Path(a.log_dir)
    logs.mkdir(parents=True, exist_ok=True)
    suites = list_tests(a.binary, a.filter)
    total_passed = total_skipped = 0
    bad: list[tuple[str, int, str]] = []
    t0 = time.monotonic()
    for i, suite in enumerate(suites, 1):
        log = logs / (suite.replace("/", "_") + ".log")
        s0 = time.monotonic()
        rc, passed, skipped, why = run_suite(a.binary, suites[suite], log, a.timeout)
        total_passed += passed
        total_skipped += skipped
        state = "ok" if rc == 0 else f"FAILED (exit {rc}): {why}"
        print(f"[{i}/{len(suites)}] {suite}: {passed} passed, {skipped} skipped, {time.monotonic() - s0:.0f} s, "
              f"{state}", flush=True)
        if rc != 0:
            bad.append((suite, rc, why))
    print(f"== {len(suites) - len(bad)} of {len(suites)} suites passed; {total_passed} tests passed, "
          f"{total_skipped} skipped; {time.monotonic() - t0:.0f} s; logs in {logs}")
    for suite, rc, why in bad:
        print(f"FAILED {suite} (exit {rc}): {why}  [{logs / (suite.replace('/', '_') + '.log')}]")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
