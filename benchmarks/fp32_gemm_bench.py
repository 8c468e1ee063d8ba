"""Throughput of the engine's FP32 GEMM (kernels/sgemm_f32.h) per
microkernel, against the machine's measured FMA peak.

Shapes: 256^3 and the GEMMs of convolutions lowered to im2col (M = output
channels, N = output pixels, K = C * R * S) from ResNet-50 and the digits
model. Each microkernel (AVX-512, AVX2+FMA, portable) runs by name,
alternating with the others; each call is timed on its own and the table
reports the median and the best call, GFLOPS of each (2 * M * N * K / s)
and the best call's fraction of the measured peak (single thread: one
core's peak; more threads: peak x threads). On a machine shared with other
work the best call is the better estimate of what the kernel can do; the
peak is measured the same way (best of many short runs).

The peak: benchmarks/fma_peak.cc (24 independent vfmadd231ps zmm chains) is
built with g++ into a temporary folder and run; it prints GFLOPS per core.

Usage: PYTHONPATH=python python3 benchmarks/fp32_gemm_bench.py [--threads 1]
       [--min-time 0.5]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

import int8rt
from int8rt._testing import kernels as K

HERE = Path(__file__).resolve().parent

SHAPES: List[Tuple[str, int, int, int]] = [
    ("square 256^3", 256, 256, 256),
    ("square 512^3", 512, 512, 512),
    ("rn50 3x3 64->64 @56", 64, 3136, 576),
    ("rn50 1x1 64->256 @56", 256, 3136, 64),
    ("rn50 3x3 128->128 @28", 128, 784, 1152),
    ("rn50 1x1 1024->256 @14", 256, 196, 1024),
    ("rn50 3x3 512->512 @7", 512, 49, 4608),
]


def measure_peak() -> Optional[float]:
    """GFLOPS of one core running vfmadd231ps zmm back to back, or None."""
    gxx = shutil.which("g++")
    if gxx is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "fma_peak"
        build = subprocess.run([gxx, "-O2", "-mavx512f", "-o", str(exe), str(HERE / "fma_peak.cc")],
                               capture_output=True, text=True)
        if build.returncode != 0:
            return None
        out = subprocess.run([str(exe)], capture_output=True, text=True)
        return float(out.stdout.split()[0]) if out.returncode == 0 else None


def time_kernels(a: np.ndarray, b: np.ndarray, kernels: List[str], min_time: float,
                 parallel: bool) -> Dict[str, Tuple[float, float]]:
    """(median, best) seconds per call of each kernel, calls interleaved."""
    for k in kernels:  # warm-up (scratch buffers, caches)
        K.sgemm(a, b, kernel=k, parallel=parallel)
    times: Dict[str, List[float]] = {k: [] for k in kernels}
    start = time.perf_counter()
    while time.perf_counter() - start < min_time * len(kernels) or min(len(v) for v in times.values()) < 5:
        for k in kernels:
            t0 = time.perf_counter()
            K.sgemm(a, b, kernel=k, parallel=parallel)
            times[k].append(time.perf_counter() - t0)
    return {k: (statistics.median(v), min(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per kernel and shape")
    args = ap.parse_args()
    peak = measure_peak()
    print(f"FMA peak per core: {peak:.1f} GFLOPS (benchmarks/fma_peak.cc)" if peak
          else "FMA peak: not measured (no g++ or no AVX-512)")
    kernels = [name for name, _, reason in K.sgemm_candidates() if not reason]
    print(f"int8rt ISA cap: {int8rt.get_max_isa()}; default microkernel: {K.choose_sgemm()}")
    rng = np.random.default_rng(0)
    for threads in args.threads:
        int8rt.set_num_threads(threads)
        print(f"\n== {threads} thread(s) ==")
        print(f"{'shape (M x N x K)':40s} {'microkernel':22s} {'median ms':>10s} {'GFLOPS':>7s} "
              f"{'best ms':>8s} {'GFLOPS':>7s} {'%peak':>6s}")
        for name, M, N, K_ in SHAPES:
            a = rng.uniform(-1, 1, (M, K_)).astype(np.float32)
            b = rng.uniform(-1, 1, (K_, N)).astype(np.float32)
            med = time_kernels(a, b, kernels, args.min_time, parallel=threads > 1)
            flops = 2.0 * M * N * K_
            for k in kernels:
                median, best = med[k]
                frac = f"{100 * flops / best / 1e9 / (peak * threads):5.1f}%" if peak else "   n/a"
                print(f"{name + f' ({M}x{N}x{K_})':40s} {k:22s} {1e3 * median:10.3f} "
                      f"{flops / median / 1e9:7.1f} {1e3 * best:8.3f} {flops / best / 1e9:7.1f} {frac:>6s}")
    int8rt.set_num_threads(0)


if __name__ == "__main__":
    main()
