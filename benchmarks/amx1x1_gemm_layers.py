"""int8rt's int8 GEMM layers (the `_testing` PackedGemm: packing, driver and
microkernel as the engine runs them), 1 thread, thread-CPU medians of 40
calls, for the before / after of RESULTS.md section 176: run it under each
tree in turn (base, branch, base, branch: separate processes, so compare runs
taken back to back) with the label first and M x N x K shapes after it.

Usage: PYTHONPATH=<tree>/python python benchmarks/amx1x1_gemm_layers.py LABEL [1024x768x3072 ...]
"""
import os
import sys
import time

import numpy as np

import int8rt
from int8rt._testing import kernels as K

PEAK_GOPS = 7764.0  # tdpbusd per core on the AMX Xeon (benchmarks/amx_peak.cc, RESULTS.md section 167)
DEFAULT = ["1024x768x3072", "1024x3072x768", "1024x768x768", "1568x256x1024"]


def main() -> None:
    label, shapes = sys.argv[1], sys.argv[2:] or DEFAULT
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    for shape in shapes:
        m, n, k = map(int, shape.split("x"))
        a = np.ascontiguousarray(rng.integers(-128, 128, (m, k), dtype=np.int8))
        b = rng.integers(-128, 128, (n, k), dtype=np.int8)
        packed = K.PackedGemm(b, np.full(n, 1e-4, np.float32), lo=0.0, hi=127.0)
        for _ in range(3):
            packed.run(a)
        ts = []
        for _ in range(40):
            t0 = time.thread_time()
            packed.run(a)
            ts.append(time.thread_time() - t0)
        ts.sort()
        med = ts[len(ts) // 2]
        print(f"{label} {m}x{n}x{k} {packed.kernel} thread-CPU median {med * 1e3:.3f} ms best {ts[0] * 1e3:.3f} ms "
              f"({200 * m * n * k / med / 1e9 / PEAK_GOPS:.1f}% of {PEAK_GOPS:.0f} at the median) "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
