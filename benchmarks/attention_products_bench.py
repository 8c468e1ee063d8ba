"""The int8 products inside QAttention at BERT's shapes, alone: the scores
(q [M, 64] x k^T, float out) and the context (probs [M, 128] x v, int8 out)
through the chosen gemm_s8 kernel packed once (int8rt._testing's PackedGemm),
at M = 6, 128 and 1024 rows: per-call cost and GMAC/s, thread CPU time,
median of 5 repeats (RESULTS.md section 103: what a 128-row product pays
beyond its rows). The per-call figure includes the binding's Python call
and output allocation.

    PYTHONPATH=python python benchmarks/attention_products_bench.py
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from int8rt._testing import kernels as K


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", default=None, help="a gemm_s8 kernel by name (default: the registry's choice)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for n, k, out in ((128, 64, "float32"), (64, 128, "int8")):
        b = rng.integers(-128, 128, (n, k), dtype=np.int8)
        g = K.PackedGemm(b, np.full(n, 0.01, np.float32), out_dtype=out, kernel=args.kernel)
        for m in (6, 128, 1024):
            a = rng.integers(-128, 128, (m, k), dtype=np.int8)
            reps = max(20, 200000 // m)
            ts = []
            for _ in range(5):
                t0 = time.thread_time()
                for _ in range(reps):
                    g.run(a)
                ts.append((time.thread_time() - t0) / reps * 1e6)
            t = statistics.median(ts)
            print(f"{g.kernel} N={n} K={k} {out} M={m}: {t:.2f} us per call, {m * n * k / t / 1e3:.1f} GMAC/s")


if __name__ == "__main__":
    main()
