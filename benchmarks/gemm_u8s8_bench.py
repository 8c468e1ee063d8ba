"""The gemm_u8s8 family's kernels on one product each way of holding the operands (RESULTS.md section 61):
B packed once (a MatMulInteger weight: the quantize_dynamic BERT's FFN, M = 256 tokens, K = 256, N = 1024)
and A packed once (a ConvInteger weight: M = 96 channels, K = 216 = 24 x 3 x 3, N = 2560 pixels; B packed
on every run, as the engine does). 1 thread, process CPU time, the kernels alternated, medians of the
per-product time over --rounds rounds of `runs` products on one packing.

    PYTHONPATH=python python benchmarks/gemm_u8s8_bench.py --rounds 7
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import int8rt
import int8rt._testing as testing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    k = testing.kernels
    kernels = [name for name, _isa, reason in k.gemm_u8s8_candidates(256, 1024) if reason == ""]
    rng = np.random.default_rng(0)
    cases = {
        "B packed, M=256 K=256 N=1024": (rng.integers(0, 256, (256, 256)).astype(np.uint8),
                                         rng.integers(-127, 128, (256, 1024)).astype(np.int8), False),
        "A packed, M=96 K=216 N=2560": (rng.integers(0, 256, (96, 216)).astype(np.uint8),
                                        rng.integers(0, 256, (216, 2560)).astype(np.uint8), True),
    }
    for title, (a, b, a_packed) in cases.items():
        macs = a.shape[0] * a.shape[1] * b.shape[1]
        runs = {name: 3 if name.endswith("_ref") else 20 for name in kernels}
        times: dict[str, list[float]] = {name: [] for name in kernels}
        for _ in range(args.rounds):
            for name in kernels:
                t0 = time.process_time()
                if a_packed:
                    k.gemm_u8s8_packed_a(a, b, kernel=name, runs=runs[name])
                else:
                    k.gemm_u8s8(a, b, kernel=name, runs=runs[name])
                times[name].append((time.process_time() - t0) / runs[name])
        med = {name: float(np.median(v)) for name, v in times.items()}
        ref = med.get("gemm_u8s8_ref")
        print(title + ": " + "; ".join(
            f"{name} {1e3 * t:.2f} ms ({macs / t / 1e9:.1f} GMAC/s" + (f", {ref / t:.1f}x ref)" if ref else ")")
            for name, t in med.items()))


if __name__ == "__main__":
    main()
