"""ResNet-50's strided 1x1 projections at batch 8 through the int8 conv the
registry picks (the `_testing` PackedConv2d: packing, AMX driver and
microkernel as the engine runs them), 1 thread, thread-CPU medians, beside
the stride-1 1x1 of the same M x N x K on the already-strided input (what the
projection would cost with no strided reads), for RESULTS.md section 192.
Run it under each tree in turn (separate processes, back to back) and compare
the medians of runs taken together; the load average is printed.

Usage: PYTHONPATH=<tree>/python python benchmarks/gemm13_proj_ab.py [ROUNDS]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

import int8rt
from int8rt._testing import kernels as K

sys.path.insert(0, str(Path(__file__).resolve().parent))
from x86_kernels_bench import aligned_copy  # noqa: E402  (64-byte aligned, as the engine's tensors)


def conv(rng: np.random.Generator, c: int, h: int, k: int, stride: int, batch: int = 8):
    x = aligned_copy(rng.integers(-128, 128, (batch, h, h, c), dtype=np.int8))
    w = rng.integers(-128, 128, (k, c, 1, 1), dtype=np.int8)
    p = K.PackedConv2d(w, h, h, np.full(k, 1e-4, np.float32), np.zeros(k, np.float32), lo=0.0, hi=127.0,
                       stride=(stride, stride), pads=(0, 0, 0, 0), groups=1)
    return (lambda: p.run(x)), p.kernel


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    cases = {}
    for c, h, k in [(256, 56, 512), (512, 28, 1024), (1024, 14, 2048)]:
        cases[f"1x1/2 {c}->{k} @{h} b8"] = conv(rng, c, h, k, 2)
        cases[f"1x1 {c}->{k} @{h // 2} b8 (same MxNxK)"] = conv(rng, c, h // 2, k, 1)
    times = {name: [] for name in cases}
    for f, _ in cases.values():
        f()
    for _ in range(rounds):
        for name, (f, _) in cases.items():
            t0 = time.thread_time()
            f()
            times[name].append(time.thread_time() - t0)
    for name, ts in times.items():
        ts.sort()
        print(f"{name:34s} {cases[name][1]:32s} median {ts[len(ts) // 2] * 1e3:.3f} ms best {ts[0] * 1e3:.3f} ms")
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
