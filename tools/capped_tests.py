#!/usr/bin/env python3
"""Run the Python tests that dispatch kernels once under each ISA cap.

``INT8RT_MAX_ISA`` caps kernel selection process-wide (docs/reliability.md,
STYLE.md "Dispatch is data"), so one machine can run every tier below its
best. This runs, for each cap asked for, one ``pytest -x -q -p no:cacheprovider``
in one process (`-n 0`) over chunks of test files (after a failure the chunk's later files run again,
so one failure hides no other file's), with a wall limit per run, and prints
one line per run: passed / failed / timed out, the seconds, the counts pytest
printed and the files, then the failures' last lines. The files are those whose source names the dispatcher
(``set_max_isa``, ``isa_info``, ``INT8RT_MAX_ISA``, ``dispatch``, kernel
names) or whose name says kernel / tier / ISA; ``--files`` replaces the list.

    PYTHONPATH=python python tools/capped_tests.py --caps avx512vnni avx2 ref
    python tools/capped_tests.py --caps avx2 --files tests/test_dwconv_f32.py

Exit status 1 if any run failed or timed out.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Source text that means the file selects or pins kernels.
_DISPATCH = re.compile(r"set_max_isa|isa_info|INT8RT_MAX_ISA|INT8RT_LOG|dispatch|kernel_names|_avx512|_amx")
_NAMES = re.compile(r"kernel|tier|isa|amx|bf16|conv|gemm|matmul|dwconv|attention|int8")
# Run elsewhere or not a kernel suite: the C++ tests, the libFuzzer build, the CUDA builds.
_LEFT_OUT = {"test_cpp_unit.py", "test_fuzz.py", "test_cuda_emulated_package.py", "test_cuda_build.py",
             "test_cuda_gpu.py", "test_sanitizers.py"}


def dispatching_files() -> list[Path]:
    out = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name in _LEFT_OUT:
            continue
        if _NAMES.search(path.stem) or _DISPATCH.search(path.read_text(encoding="utf-8")):
            out.append(path)
    return out


def run_chunk(cap: str, paths: list[Path], timeout: float) -> tuple[str, str, float]:
    env = dict(os.environ, INT8RT_MAX_ISA=cap)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), str(ROOT / "tests")] +
                                        ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0"] + \
        [str(p.relative_to(ROOT)) for p in paths]
    t0 = time.monotonic()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        tail = e.stdout or b""
        return "timeout", tail.decode(errors="replace") if isinstance(tail, bytes) else tail, time.monotonic() - t0
    text = done.stdout + done.stderr
    # rc 5: every test deselected or skipped at collection (e.g. a tier the cap removes).
    status = "passed" if done.returncode in (0, 5) else "failed"
    return status, text, time.monotonic() - t0


def first_failed_file(text: str, paths: list[Path]) -> int:
    """Index in paths of the file whose test stopped the -x run (the last one when not named)."""
    m = re.search(r"^(?:FAILED|ERROR) (tests/[\w./]+\.py)", text, re.M)
    names = [str(p.relative_to(ROOT)) for p in paths]
    return names.index(m.group(1)) if m and m.group(1) in names else len(paths) - 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--caps", nargs="+", default=["avx512vnni", "avx2", "ref"])
    ap.add_argument("--files", nargs="*", help="test files (default: those that dispatch kernels)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per pytest run")
    ap.add_argument("--chunk", type=int, default=10, help="test files per pytest run")
    args = ap.parse_args()
    files = [Path(f).resolve() for f in args.files] if args.files else dispatching_files()
    failures = []
    for cap in args.caps:
        for at in range(0, len(files), args.chunk):
            chunk = files[at:at + args.chunk]
            while chunk:  # -x stops at the first failure: record it and run the chunk's files after it
                status, text, secs = run_chunk(cap, chunk, args.timeout)
                counts = next((ln.strip("= ") for ln in reversed(text.splitlines())
                               if re.search(r"\d+ (passed|failed|skipped|error)", ln)), "")
                done = chunk if status == "passed" else chunk[:first_failed_file(text, chunk) + 1]
                print(f"{cap:11s} {status:7s} {secs:7.1f} s  {counts:40s} {' '.join(p.name for p in done)}",
                      flush=True)
                if status != "passed":
                    failures.append((cap, done[-1].name, text[-3000:]))
                chunk = chunk[len(done):]
    for cap, name, tail in failures:
        print(f"\n===== {cap} {name}\n{tail}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
