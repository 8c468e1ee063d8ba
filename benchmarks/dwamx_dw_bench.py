"""The AVX512-VNNI depthwise kernels forced by name on every distinct
depthwise conv of MobileNetV2, MobileNetV3-Large, EfficientNet-B0 and
EfficientNet-Lite0 at 224 x 224 (3x3 and 5x5, stride 1 and 2), batch 1 and
8: the quad-row kernel (dwconv_quads_16c.cc, four taps per vpdpbusd) against
the pair-row kernel (5x5 only: it declines narrower filters) and the one-tap
kernel (dwconv_64c.cc). One process, 1 thread, kernels alternated call by
call, process CPU time, medians; outputs compared byte for byte. Also prints
which kernel the registry picks. RESULTS.md §173.

    PYTHONPATH=python python benchmarks/dwamx_dw_bench.py --rounds 15 > run1.txt
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402

# (channels, input H = W, filter, stride, networks)
SHAPES = [(16, 112, 3, 1, "V3"), (32, 112, 3, 1, "V2 B0 Lite0"), (64, 112, 3, 2, "V3"),
          (96, 112, 3, 2, "V2 B0 Lite0"), (72, 56, 3, 1, "V3"), (144, 56, 3, 1, "V2 B0 Lite0"),
          (144, 56, 3, 2, "V2"), (192, 28, 3, 1, "V2"), (240, 28, 3, 2, "B0 Lite0 V3"),
          (384, 14, 3, 1, "V2"), (480, 14, 3, 1, "B0 Lite0 V3"), (576, 14, 3, 2, "V2"),
          (960, 7, 3, 1, "V2"), (1152, 7, 3, 1, "B0 Lite0"),
          (72, 56, 5, 2, "V3"), (144, 56, 5, 2, "B0 Lite0"), (120, 28, 5, 1, "V3"), (240, 28, 5, 1, "B0 Lite0"),
          (480, 14, 5, 1, "B0 Lite0"), (672, 14, 5, 1, "B0 Lite0"), (672, 14, 5, 2, "B0 Lite0 V3"),
          (960, 7, 5, 1, "V3"), (1152, 7, 5, 1, "B0 Lite0")]
QUADS, PAIRS, ONE_TAP = ("conv_s8_dw_quads_16c_avx512vnni", "conv_s8_dw_pairs_16c_avx512vnni",
                         "conv_s8_dw_64c_avx512vnni")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--filters", type=int, nargs="+", default=[3, 5])
    args = ap.parse_args()
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(bench_util.machine_line())
    print("| C | H=W in | k | stride | nets | batch | quads ms | pairs ms | one-tap ms | pairs / quads | "
          "one-tap / quads | registry picks | same bytes |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|")
    for c, hw, k, stride, nets in SHAPES:
        if k not in args.filters:
            continue
        w = rng.integers(-127, 128, (c, 1, k, k), dtype=np.int8)
        scale = np.full(c, 1.0 / (40 * k * k), np.float32)

        def packed(name: "str | None") -> "K.PackedConv2d":
            return K.PackedConv2d(w, hw, hw, scale, stride=(stride, stride), pads=(k // 2,) * 4, groups=c,
                                  kernel=name)

        names = [QUADS, ONE_TAP] + ([PAIRS] if k >= 4 else [])
        convs = {n: packed(n) for n in names}
        picked = packed(None).kernel
        for b in args.batches:
            x = rng.integers(-128, 128, (b, hw, hw, c), dtype=np.int8)
            outs = [p.run(x) for p in convs.values()]
            t = bench_util.alternating_samples({n: (lambda p=p: p.run(x)) for n, p in convs.items()}, args.rounds,
                                               min_time=0.02 * args.rounds, clock=time.process_time)
            ms = {n: float(np.median(t[n])) * 1e3 for n in names}
            pairs = f"{ms[PAIRS]:.3f}" if PAIRS in ms else "-"
            pr = f"{ms[PAIRS] / ms[QUADS]:.2f}" if PAIRS in ms else "-"
            same = all(np.array_equal(o, outs[0]) for o in outs)
            print(f"| {c} | {hw} | {k} | {stride} | {nets} | {b} | {ms[QUADS]:.3f} | {pairs} | {ms[ONE_TAP]:.3f} | "
                  f"{pr} | {ms[ONE_TAP] / ms[QUADS]:.2f} | {picked} | {same} |", flush=True)
    print(bench_util.load_line())


if __name__ == "__main__":
    main()
