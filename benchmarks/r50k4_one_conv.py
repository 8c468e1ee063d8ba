"""One int8 conv layer run again and again through the kernel the engine would
choose, input in [0, 127] with the engine's non-negative promise (as every
ResNet-50 conv but the stem), ReLU epilogue, 1 thread: the target of a
`perf record` of the driver and microkernel (RESULTS.md section 128), and a
quick A/B of two trees run in turn. Prints the minimum process-CPU ms per call
over 0.1 s blocks for SECONDS of CPU.

Usage: OPENBLAS_NUM_THREADS=1 PYTHONPATH=<tree>/python [perf record -o F] \\
           python benchmarks/r50k4_one_conv.py C H K R STRIDE BATCH SECONDS
       (e.g. 64 56 64 3 1 8 6: ResNet-50's 3x3 64->64 at 56 x 56, batch 8)
"""
from __future__ import annotations

import sys
import time

import numpy as np

import int8rt
from int8rt._testing import kernels as K


def main() -> None:
    c, h, k, r, stride, batch, secs = (int(v) for v in sys.argv[1:8])
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    pad = r // 2
    oh = (h + 2 * pad - r) // stride + 1
    x = rng.integers(0, 128, (batch, h, h, c), dtype=np.int8)
    w = rng.integers(-127, 128, (k, c, r, r), dtype=np.int8)
    conv = K.PackedConv2d(w, h, h, np.full(k, 1e-4, np.float32), np.zeros(k, np.float32), lo=0.0, hi=127.0,
                          stride=(stride, stride), pads=(pad,) * 4, nonneg_input=True)
    conv.run(x)
    best, t_end = float("inf"), time.process_time() + secs
    while time.process_time() < t_end:
        n, c0 = 0, time.process_time()
        while time.process_time() - c0 < 0.1:
            conv.run(x)
            n += 1
        best = min(best, (time.process_time() - c0) / n)
    print(f"{conv.kernel} {best * 1e3:.3f} ms {2 * batch * oh * oh * k * c * r * r / best / 1e9:.0f} GOPS")


if __name__ == "__main__":
    main()
