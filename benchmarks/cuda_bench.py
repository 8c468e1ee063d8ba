"""CUDA DP4A kernels: bit-exact check against the reference kernels, then
timing (CUDA events, median) and int8 TOPS per layer; builds
benchmarks/cuda/cuda_bench_main.cu with nvcc for this machine's GPU.

Refuses cleanly (exit status 2, "no CUDA GPU available ...") on a machine
without a GPU or driver, and without nvcc.

Usage: PYTHONPATH=python python3 benchmarks/cuda_bench.py [--runs 21] [--check-only]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import cuda_env  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--check-only", action="store_true", help="check results, skip the timing")
    args = ap.parse_args()
    ok, why = cuda_env.gpu_status()
    if not ok:
        print(f"cuda_bench: {why}", file=sys.stderr)
        return 2
    if cuda_env.find_nvcc() is None:
        print("cuda_bench: nvcc not found (install the CUDA toolkit)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        exe = cuda_env.build_driver(Path(tmp))
        cmd = [str(exe), "--runs", str(args.runs)] + (["--check-only"] if args.check_only else [])
        return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
