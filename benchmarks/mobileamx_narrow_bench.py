"""The narrow pointwise convs of MobileNetV2 / V3-Large and EfficientNet-B0 /
-Lite0 (1x1, K <= 16, C <= 32: the 112 x 112 projections) and their
squeeze-and-excitation convs on [N, C, 1, 1] on the three int8 kernels this
machine can run them with, forced by name: the AVX512-VNNI kernel that
registry.cc lists ahead of AMX for them (conv_s8_igemm_narrow_16c4_avx512vnni,
conv_s8_igemv_8x32c4_avx512vnni, or for the 16 -> 64 / 96 expansions with
non-negative inputs conv_s8_igemm_6x64c4_c16_avx512vnni; RESULTS.md section 178), AMX's
conv_s8_igemm_32x32c4_amx and AVX512-VNNI's conv_s8_igemm_6x64c4_avx512vnni,
at batch 1 and 8, signed inputs and inputs promised non-negative (a ReLU's
output). One process, 1 thread, kernels
alternated call by call, process CPU time, medians; outputs compared byte for
byte; the registry's choice printed.

    PYTHONPATH=python python benchmarks/mobileamx_narrow_bench.py --rounds 11
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402

# (input channels, output channels, H = W, networks)
SHAPES = [(32, 16, 112, "V2 B0 Lite0 features.1"), (16, 16, 112, "V3 features.1"), (64, 16, 56, "(C 64: AMX keeps it)"),
          (24, 16, 28, "(C 24)"), (16, 64, 112, "V3 features.2 expansion"), (16, 96, 112, "V2 B0 Lite0 features.2 expansion"),
          (32, 8, 1, "B0 SE fc1 (features.1)"),
          (72, 24, 1, "V3 SE fc1"), (24, 72, 1, "V3 SE fc2"), (480, 120, 1, "V3 SE fc1"), (120, 480, 1, "V3 SE fc2"),
          (960, 240, 1, "V3 SE fc1"), (240, 960, 1, "V3 SE fc2"), (96, 4, 1, "B0 SE fc1"), (4, 96, 1, "B0 SE fc2"),
          (672, 28, 1, "B0 SE fc1"), (28, 672, 1, "B0 SE fc2"), (1152, 48, 1, "B0 SE fc1"), (48, 1152, 1, "B0 SE fc2")]
NARROW, GEMV, SMALL_C, AMX, VNNI = ("conv_s8_igemm_narrow_16c4_avx512vnni", "conv_s8_igemv_8x32c4_avx512vnni",
                                    "conv_s8_igemm_6x64c4_c16_avx512vnni", "conv_s8_igemm_32x32c4_amx",
                                    "conv_s8_igemm_6x64c4_avx512vnni")


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
    print("| C | K | H=W | nets | input | batch | new kernel ms | AMX ms | VNNI igemm ms | AMX ÷ new | VNNI ÷ new "
          "| registry picks | same bytes |")
    print("|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    for c, k, hw, nets in SHAPES:
        w = rng.integers(-127, 128, (k, c, 1, 1), dtype=np.int8)
        scale = np.full(k, 1.0 / (40 * c), np.float32)
        for nonneg in (False, True):
            # the kernel ahead of AMX for the shape (SMALL_C: the igemm tile itself, non-negative inputs only)
            new = GEMV if hw == 1 and (k > 16 or c > 32) else SMALL_C if k > 16 and nonneg else NARROW
            names = [new, AMX, VNNI]
            convs = {}
            for n in names:
                try:
                    convs[n] = K.PackedConv2d(w, hw, hw, scale, kernel=n, nonneg_input=nonneg)
                except Exception as e:  # a kernel that declines the shape: say so
                    print(f"  ({n} declines {c}->{k}: {e})")
            picked = K.PackedConv2d(w, hw, hw, scale, nonneg_input=nonneg).kernel
            for b in args.batches:
                x = rng.integers(0 if nonneg else -128, 128, (b, hw, hw, c), dtype=np.int8)
                outs = [p.run(x) for p in convs.values()]
                reps = max(1, int(2e5 // (b * hw * hw * c * k) + 1))
                t = bench_util.alternating_samples(
                    {n: (lambda p=p: [p.run(x) for _ in range(reps)]) for n, p in convs.items()}, args.rounds,
                    min_time=0.02 * args.rounds, clock=time.process_time)
                ms = {n: float(np.median(t[n])) * 1e3 / reps for n in convs}
                same = all(np.array_equal(outs[0], o) for o in outs[1:])
                f = lambda n: f"{ms[n]:.4f}" if n in ms else "-"  # noqa: E731
                r = lambda n: f"{ms[n] / ms[new]:.2f}" if n in ms and new in ms else "-"  # noqa: E731
                print(f"| {c} | {k} | {hw} | {nets} | {'>= 0' if nonneg else 'signed'} | {b} | {f(new)} | {f(AMX)} "
                      f"| {f(VNNI)} | {r(AMX)} | {r(VNNI)} | {picked} | {same} |", flush=True)
    print(bench_util.load_line())


if __name__ == "__main__":
    main()
