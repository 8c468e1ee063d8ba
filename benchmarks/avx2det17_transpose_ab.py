"""PP-OCR det's two int8 ConvTranspose shapes (2 x 2, stride 2: 24 -> 24 at
80 x 80 and 24 -> 1 at 160 x 160 for a 320 input) through the one-shot test
hook (int8rt._testing.kernels.conv_transpose2d_s8: packs, allocates the
output and runs, the same for both), conv_transpose_s8_phases against
conv_transpose_s8_ks_avx2 in one process, alternated 7 times, 1 thread,
thread CPU time; inputs uniform in [0, 127] (det's are ReLU outputs). Also
the phases' merged 1x1 conv alone (PackedConv2d, 24 -> 4 x K), the conv part
of the phases' time (RESULTS.md section 242).

Usage: PYTHONPATH=python python benchmarks/avx2det17_transpose_ab.py
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

KERNELS = ("conv_transpose_s8_phases", "conv_transpose_s8_ks_avx2")
# (H = W, C, K, batch): det's 24 -> 24 at 80 x 80 and 24 -> 1 at 160 x 160.
SHAPES = [(80, 24, 24, 1), (160, 24, 1, 1), (80, 24, 24, 8), (160, 24, 1, 8)]


def per_call_ms(f: Callable[[], object], n: int) -> float:
    """Thread CPU milliseconds per call of f, the mean of n calls."""
    c0 = time.thread_time()
    for _ in range(n):
        f()
    return (time.thread_time() - c0) / n * 1e3


def main() -> None:
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    for h, c, k, b in SHAPES:
        x = rng.integers(0, 128, (b, h, h, c), dtype=np.int8)
        w = rng.integers(-127, 128, (c, k, 2, 2), dtype=np.int8)
        scale = np.full(k, 1e-2, np.float32)
        n = max(2, 20 // b)
        times: dict[str, list[float]] = {name: [] for name in KERNELS}
        for _ in range(7):
            for name in KERNELS:
                times[name].append(per_call_ms(
                    lambda: K.conv_transpose2d_s8(x, w, scale, stride=(2, 2), kernel=name), n))
        merged_w = rng.integers(-127, 128, (4 * k, c, 1, 1), dtype=np.int8)
        conv = K.PackedConv2d(merged_w, h, h, np.full(4 * k, 1e-2, np.float32))
        merged = min(per_call_ms(lambda: conv.run(x), n) for _ in range(7))
        a, z = (min(times[name]) for name in KERNELS)
        am, zm = (statistics.median(times[name]) for name in KERNELS)
        print(f"b{b} {c}->{k} at {h}: phases {a:.3f} / ks {z:.3f} ms min (x{z / a:.2f}); medians {am:.3f} / "
              f"{zm:.3f} (x{zm / am:.2f}); the phases' merged conv alone {merged:.3f}")
    print("load", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
