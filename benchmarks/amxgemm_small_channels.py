"""Where AMX stops paying for 1x1 convs with few channels (MobileNet-class):
the AMX int8 conv (conv_s8_igemm_32x32c4_amx) against the AVX512-VNNI one
(conv_s8_igemm_6x64c4_avx512vnni) on 1x1 stride-1 convs over a grid of
input channels C and output channels K, one process, the two called in
turn, medians; prints VNNI time / AMX time (> 1: AMX faster) per (C, K) and
the utilisation estimate conv_amx.cc's supports() reads ("declined": the
AMX kernel refuses the shape, VNNI runs it). Where the CPU has
no AMX it says so and exits.

Usage: PYTHONPATH=python python3 benchmarks/amxgemm_small_channels.py
       [--hw 56] [--batch 1] [--threads 1] [--min-time 0.1]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import int8rt
from bench_util import machine_line  # benchmarks/ is on sys.path when run as a script
from int8rt._testing import kernels as K

AMX = "conv_s8_igemm_32x32c4_amx"
VNNI = "conv_s8_igemm_6x64c4_avx512vnni"
CHANNELS = [8, 16, 24, 32, 40, 48, 64, 96, 144]


def utilisation(c: int, k: int) -> float:
    """conv_amx.cc's tile_utilisation for a 1x1 conv: useful fraction of the
    16-channel blocks times that of the 64-byte reduction chunks."""
    return k / (16 * -(-k // 16)) * c / (64 * -(-c // 64))


def median_pair(fs, min_time: float) -> list:
    for f in fs:
        f()
    samples = [[] for _ in fs]
    spent, rounds = 0.0, 0
    while (spent < min_time * len(fs) or rounds < 15) and rounds < 3000:
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            f()
            dt = time.perf_counter() - t0
            samples[i].append(dt)
            spent += dt
        rounds += 1
    return [statistics.median(s) for s in samples]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hw", type=int, default=56)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=0.1)
    args = ap.parse_args()
    print(machine_line())
    if not int8rt.kernels.isa_info()["amx"]["cpu"]:
        print("no AMX on this machine: nothing to compare")
        return
    int8rt.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"1x1 stride 1 @{args.hw}x{args.hw}, batch {args.batch}, {args.threads} thread(s): "
          "VNNI ms / AMX ms (> 1: AMX faster), [tile utilisation %]")
    print("C \\ K " + "".join(f"{k:>24d}" for k in CHANNELS))
    for c in CHANNELS:
        row = f"{c:5d} "
        for k in CHANNELS:
            x = rng.integers(-128, 128, (args.batch, args.hw, args.hw, c), dtype=np.int8)
            w = rng.integers(-128, 128, (k, c, 1, 1), dtype=np.int8)
            fs = []
            try:
                for name in (AMX, VNNI):
                    p = K.PackedConv2d(w, args.hw, args.hw, np.full(k, 1e-4, np.float32),
                                       np.zeros(k, np.float32), lo=0.0, hi=127.0, kernel=name)
                    fs.append(lambda p=p: p.run(x))
            except int8rt.NotSupportedError:  # AMX's supports() declines: VNNI runs it
                row += f" {'declined':>11s} [{100 * utilisation(c, k):3.0f}]"
                continue
            t_amx, t_vnni = median_pair(fs, args.min_time)
            row += f" {t_vnni / t_amx:5.2f} ({t_amx * 1e3:5.3f}) [{100 * utilisation(c, k):3.0f}]"
        print(row)


if __name__ == "__main__":
    main()
