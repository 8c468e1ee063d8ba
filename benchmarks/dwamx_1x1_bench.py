"""The 1x1 convs of MobileNetV2, MobileNetV3-Large, EfficientNet-B0 and
EfficientNet-Lite0 (224 x 224) on the two int8 kernels this machine runs
them with, forced by name: AMX's conv_s8_igemm_32x32c4_amx and AVX512-VNNI's
conv_s8_igemm_6x64c4_avx512vnni, at batch 1 and 8: where AMX should take or
decline a MobileNet-class 1x1 shape (the registry's choice is printed). One
process, 1 thread, kernels alternated call by call, process CPU time,
medians; outputs compared byte for byte. RESULTS.md §173.

    PYTHONPATH=python python benchmarks/dwamx_1x1_bench.py --rounds 11
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402

# (input channels, output channels, H = W, networks): expansions and projections.
SHAPES = [(32, 16, 112, "V2 B0 Lite0"), (16, 16, 112, "V3"), (16, 96, 112, "V2 B0 Lite0"), (16, 64, 112, "V3"),
          (96, 24, 56, "B0 Lite0 V2"), (64, 24, 56, "V3"), (24, 72, 56, "V3"), (72, 24, 56, "V3"),
          (24, 144, 56, "V2 B0 Lite0"), (144, 24, 56, "V2 B0 Lite0"), (144, 32, 28, "V2"), (144, 40, 28, "B0 Lite0"),
          (40, 240, 28, "B0 Lite0"), (240, 40, 28, "B0 Lite0"), (32, 192, 28, "V2"), (192, 32, 28, "V2"),
          (40, 120, 28, "V3"), (120, 40, 28, "V3"), (192, 64, 14, "V2"), (240, 80, 14, "B0 Lite0"),
          (80, 480, 14, "B0 Lite0"), (480, 80, 14, "B0 Lite0"), (64, 384, 14, "V2"), (384, 64, 14, "V2"),
          (480, 112, 14, "B0 Lite0"), (112, 672, 14, "B0 Lite0 V3"), (672, 112, 14, "B0 Lite0 V3"),
          (96, 576, 14, "V2"), (576, 96, 14, "V2"), (672, 192, 7, "B0 Lite0"), (192, 1152, 7, "B0 Lite0"),
          (1152, 192, 7, "B0 Lite0"), (1152, 320, 7, "B0 Lite0"), (160, 960, 7, "V2 V3"), (960, 160, 7, "V2 V3"),
          (320, 1280, 7, "V2 B0 Lite0")]
AMX, VNNI = "conv_s8_igemm_32x32c4_amx", "conv_s8_igemm_6x64c4_avx512vnni"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=11)
    args = ap.parse_args()
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(bench_util.machine_line())
    print("| C | K | H=W | nets | batch | AMX ms | VNNI ms | VNNI / AMX | registry picks | same bytes |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---|---|")
    for c, k, hw, nets in SHAPES:
        w = rng.integers(-127, 128, (k, c, 1, 1), dtype=np.int8)
        scale = np.full(k, 1.0 / (40 * c), np.float32)
        convs = {n: K.PackedConv2d(w, hw, hw, scale, kernel=n) for n in (AMX, VNNI)}
        picked = K.PackedConv2d(w, hw, hw, scale).kernel
        for b in args.batches:
            x = rng.integers(-128, 128, (b, hw, hw, c), dtype=np.int8)
            outs = [p.run(x) for p in convs.values()]
            t = bench_util.alternating_samples({n: (lambda p=p: p.run(x)) for n, p in convs.items()}, args.rounds,
                                               min_time=0.02 * args.rounds, clock=time.process_time)
            a, v = (float(np.median(t[n])) * 1e3 for n in (AMX, VNNI))
            same = np.array_equal(outs[0], outs[1])
            print(f"| {c} | {k} | {hw} | {nets} | {b} | {a:.3f} | {v:.3f} | {v / a:.2f} | {picked} | {same} |",
                  flush=True)
    print(bench_util.load_line())


if __name__ == "__main__":
    main()
