"""QAttention's scores-to-probabilities step alone, per softmax_f32 kernel (RESULTS.md section 79):
the float attention rows (``_testing.kernels.attention_rows``), the same rows followed by one
quantize_s8 pass (a lower bound of the layer's unfused path, which runs three passes on the
unsigned grid), and the fused int8 rows (``attention_rows_s8``). One layer's 12 heads at batch 1
(12 x n rows of n keys), a mask added, divided by 8, NaN guard on, the unsigned grid
(1 / 255, zero point -128). Process CPU time, alternated, medians; ns per score.

    PYTHONPATH=python python benchmarks/attention_rows_bench.py --kernel softmax_f32_avx512
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from int8rt._testing import kernels as K  # noqa: E402
from bench_util import machine_line, time_alternating  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", default="softmax_f32_avx512")
    ap.add_argument("--quantize", default="quantize_s8_avx512")
    ap.add_argument("--keys", default="32,128")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    print(machine_line())
    rng = np.random.default_rng(0)
    for n in map(int, args.keys.split(",")):
        s = (rng.standard_normal((12 * n, n)) * 3).astype(np.float32)
        m = np.zeros((12 * n, n), np.float32)
        rows = lambda: K.attention_rows(s, 8.0, True, m, True, impl=args.kernel)  # noqa: E731
        impls = {
            "float rows": rows,
            "float rows + quantize pass": lambda: K.quantize(rows(), 1 / 255, impl=args.quantize),
            "fused int8 rows": lambda: K.attention_rows_s8(s, 255.0, -128.0, 8.0, True, m, True, impl=args.kernel),
        }
        t = time_alternating(impls, args.rounds, clock=time.process_time, min_time=0.05)
        print(f"12 x {n} x {n}: " + ", ".join(f"{k} {v / (12 * n * n) * 1e9:.2f} ns" for k, v in t.items()))


if __name__ == "__main__":
    main()
