"""The engine's FP32 GEMM (kernels/sgemm_f32.h, the chosen microkernel, or
each one named with --kernels) against numpy's matmul (its BLAS, one thread):
thread CPU time per call, implementations alternating, medians, and the
ratio. Shapes: 256^3 and ResNet-50's convolutions as GEMMs (M = output
channels, N = pixels, K = C * R * S), A and B row-major as the test hook
takes them. With several kernels (e.g. two blockings of one tile registered
for an experiment) the first is the ratios' reference and each row also gives
the error |C - C64| / (|A| |B|) (rms and max over the outputs) against the
float64 product. Used for RESULTS.md section 59 (issue 14 §3).

Usage: PYTHONPATH=python python3 benchmarks/sgemm_vs_numpy.py [--rounds 15] [--kernels NAME ...]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402

import int8rt  # noqa: E402
from int8rt._testing import kernels as K  # noqa: E402

SHAPES: List[Tuple[str, int, int, int]] = [
    ("square 256^3", 256, 256, 256),
    ("rn50 3x3 64->64 @56", 64, 3136, 576),
    ("rn50 1x1 64->256 @56", 256, 3136, 64),
    ("rn50 3x3 128->128 @28", 128, 784, 1152),
    ("rn50 1x1 1024->256 @14", 256, 196, 1024),
    ("rn50 3x3 512->512 @7", 512, 49, 4608),
    ("convmixer 1x1 768->768 @32", 768, 1024, 768),
]


def error(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> Tuple[float, float]:
    """rms and max of |c - a b| / (|a| |b|), the product in float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    e = np.abs(c - a64 @ b64) / (np.abs(a64) @ np.abs(b64))
    return float(np.sqrt(np.mean(e ** 2))), float(e.max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--kernels", nargs="*", default=[], help="sgemm microkernels by name (default: the chosen one)")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    names: List[Optional[str]] = list(args.kernels) or [None]
    rng = np.random.default_rng(0)
    for label, M, N, Kd in SHAPES:
        a = rng.standard_normal((M, Kd), dtype=np.float32)
        b = rng.standard_normal((Kd, N), dtype=np.float32)
        impls: Dict[str, Callable[[], object]] = {
            (n or "int8rt"): (lambda n=n: K.sgemm(a, b, kernel=n)) for n in names}
        impls["numpy"] = lambda: a @ b
        for f in impls.values():
            f()
        times: Dict[str, List[float]] = {k: [] for k in impls}
        keys = list(impls)
        for r in range(args.rounds):
            for k in (keys if r % 2 == 0 else keys[::-1]):
                t0 = time.thread_time()
                impls[k]()
                times[k].append((time.thread_time() - t0) * 1e3)
        med = {k: float(np.median(v)) for k, v in times.items()}
        ref = keys[0]
        parts = [f"{k} {med[k]:.3f} ms ({2 * M * N * Kd / med[k] / 1e6:.1f} GF, {med[k] / med[ref]:.3f})" for k in keys]
        errs = [f"{n or 'int8rt'} err rms {e[0]:.2e} max {e[1]:.2e}"
                for n in names for e in [error(a, b, K.sgemm(a, b, kernel=n))]] if len(names) > 1 else []
        print(f"{label} ({M}x{N}x{Kd}): " + "; ".join(parts + errs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
