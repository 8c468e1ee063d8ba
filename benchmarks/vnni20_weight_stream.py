"""Weights from cache or from L3 / memory on the VNNI igemm conv, batch 1
(RESULTS.md section 249): ResNet-50's 3x3 512 @ 7 x 7, 3x3 64 @ 56, 3x3 256
@ 14 and 1x1 2048 -> 512 @ 7, each through the test hook's PackedConv2d
(nonneg input: the u8 tile), 1 thread, thread CPU time per call: "warm" runs
one packed copy ten times (its weights stay in L2 / L3), "rotating" runs
12 packed copies in turn after a 64 MiB write (each copy's weights come
from L3 or memory, as in a network at batch 1); minima of --rounds rounds.
Run it with two trees' python/ folders alternately to compare them.

Usage: PYTHONPATH=python python benchmarks/vnni20_weight_stream.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

SHAPES = [(512, 512, 7, 3), (64, 64, 56, 3), (256, 256, 14, 3), (2048, 512, 7, 1)]  # (C, K, H = W, R = S)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    junk = np.zeros(64 << 20, np.uint8)
    for c, k, h, r in SHAPES:
        w = rng.integers(-127, 128, (k, c, r, r), dtype=np.int8)
        p = r // 2
        convs = [K.PackedConv2d(w.copy(), h, h, np.full(k, 1e-3, np.float32), pads=[p] * 4, nonneg_input=True)
                 for _ in range(12)]
        x = rng.integers(0, 128, (1, h, h, c), dtype=np.int8)
        warm, cold = [], []
        for _ in range(args.rounds):
            t = time.thread_time()
            for _ in range(10):
                convs[0].run(x)
            warm.append((time.thread_time() - t) / 10 * 1e3)
            junk += 1
            t = time.thread_time()
            for cv in convs:
                cv.run(x)
            cold.append((time.thread_time() - t) / len(convs) * 1e3)
        print(f"{c}->{k} {r}x{r} @{h}: warm {min(warm):.3f} ms, rotating 12 copies {min(cold):.3f} ms")


if __name__ == "__main__":
    main()
