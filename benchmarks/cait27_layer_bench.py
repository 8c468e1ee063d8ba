"""cait27: one int8 talking-heads QAttention layer at CaiT-XXS24's shape (batch 8, 4 heads, 197 x 197, d 48, random
mixes; RESULTS.md §281), run alone, thread CPU ms per run, one thread. Under ``perf record`` it gives the layer's
split between its steps (softmax rows, head mixes, int8 products, quantization).

Usage (repo root): PYTHONPATH=python python benchmarks/cait27_layer_bench.py [runs]
       PYTHONPATH=python perf record -o /tmp/cait27/perf.data python benchmarks/cait27_layer_bench.py 150 && \
           perf report -i /tmp/cait27/perf.data --stdio --dsos libint8rt.so
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import int8rt  # noqa: E402
from test_cait27_talking_heads import H, attention_engine, mix_attrs  # noqa: E402


def main() -> int:
    rng = np.random.default_rng(1)
    b, m, n, d = 8, 197, 197, 48
    f = {"q": rng.integers(-128, 128, (b, H, m, d), dtype=np.int8),
         "k": rng.integers(-128, 128, (b, H, n, d), dtype=np.int8),
         "v": rng.integers(-128, 128, (b, H, n, d), dtype=np.int8)}
    attrs = {"q_scale": 0.002, "k_scale": 0.002, "v_scale": 0.05, "k_transposed": 1, "probs_scale": 1 / 127,
             "out_scale": 0.05,
             "scores_head_mix": mix_attrs(np.eye(H) + 0.3 * rng.standard_normal((H, H)), 0.1 * rng.standard_normal(H)),
             "probs_head_mix": mix_attrs(np.eye(H) + 0.3 * rng.standard_normal((H, H)), 0.01 * rng.standard_normal(H))}
    int8rt.set_num_threads(1)
    ctx = attention_engine([f[c].shape for c in "qkv"], attrs).create_execution_context()
    for _ in range(3):
        ctx.run(f)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    t = time.thread_time()
    for _ in range(runs):
        ctx.run(f)
    print(f"talking-heads QAttention b{b} H{H} {m}x{n} d{d}: {(time.thread_time() - t) / runs * 1e3:.3f} ms per run "
          f"(thread CPU, {runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
