"""The conv candidates this CPU runs, forced by name, at the EfficientNet-Lite0
layers where int8rt INT8 trails OpenVINO INT8 per layer (RESULTS.md §158):
its 5x5 depthwise convs (the pair-row kernel the registry picks against the
one-tap AVX512-VNNI kernel and the AVX-VNNI one) and the 1x1 convs with few
output channels (the 6x64c4 AVX512-VNNI igemm against the 6x16c4 AVX-VNNI
one). One process, 1 thread, candidates alternated call by call, process CPU
time, medians; outputs compared byte for byte.

    PYTHONPATH=python python benchmarks/e2e10_candidates.py
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402

# (C, K, H = W, filter, stride, groups): Lite0's 5x5 depthwise convs and its narrow 1x1 convs.
CASES = [(240, 240, 28, 5, 1, 240), (480, 480, 14, 5, 1, 480), (672, 672, 14, 5, 1, 672),
         (1152, 1152, 7, 5, 1, 1152), (144, 144, 56, 5, 2, 144),
         (32, 16, 112, 1, 1, 1), (96, 24, 56, 1, 1, 1), (144, 24, 56, 1, 1, 1)]
DW = ["conv_s8_dw_pairs_16c_avx512vnni", "conv_s8_dw_64c_avx512vnni", "conv_s8_dw_4x16_avxvnni"]
DENSE = ["conv_s8_igemm_6x64c4_avx512vnni", "conv_s8_igemm_6x16c4_avxvnni"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(bench_util.machine_line())
    print("| C -> K | H=W | filter/stride | batch | median ms per candidate | same bytes |")
    print("|---|---:|---|---:|---|---|")
    for c, k, hw, f, stride, groups in CASES:
        w = rng.integers(-127, 128, (k, c // groups, f, f), dtype=np.int8)
        scale = np.full(k, 1.0 / (40 * f * f * (c // groups)), np.float32)
        pad = f // 2
        convs = {}
        for name in DW if groups > 1 else DENSE:
            try:
                convs[name] = K.PackedConv2d(w, hw, hw, scale, stride=(stride, stride), pads=(pad,) * 4,
                                             groups=groups, kernel=name)
            except Exception as e:  # noqa: BLE001 - a tier this CPU lacks
                print(f"{name}: {type(e).__name__}: {str(e)[:120]}")
        for b in args.batches:
            x = rng.integers(-128, 128, (b, hw, hw, c), dtype=np.int8)
            outs = [p.run(x) for p in convs.values()]
            t = bench_util.alternating_samples({n: (lambda p=p: p.run(x)) for n, p in convs.items()}, args.rounds,
                                               min_time=0.02 * args.rounds, clock=time.process_time)
            cells = ", ".join(f"{n} {np.median(v) * 1e3:.3f}" for n, v in t.items())
            same = all(np.array_equal(o, outs[0]) for o in outs)
            print(f"| {c} -> {k} | {hw} | {f}x{f}/{stride} | {b} | {cells} | {same} |", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
