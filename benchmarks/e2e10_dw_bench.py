"""The pair-row depthwise kernels alone, this tree against another build
(before_build.py), at the depthwise shapes of EfficientNet-Lite0 / -B0 that
they run (filters 5 wide; on AVX2 the 3x3 ones too): one process, 1 thread,
the two builds' packed convs alternated call by call, process CPU time,
medians and minima; outputs compared byte for byte (RESULTS.md §158).

    python benchmarks/before_build.py <base checkout>/python/int8rt /tmp/before
    PYTHONPATH=python python benchmarks/e2e10_dw_bench.py --before /tmp/before [--batches 1 8]
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

# (channels, input size, filter, stride): EfficientNet-Lite0's pair-kernel depthwise convs (B0's alike).
SHAPES = [(144, 56, 5, 2), (240, 28, 5, 1), (480, 14, 5, 1), (672, 14, 5, 1), (672, 14, 5, 2), (1152, 7, 5, 1),
          (96, 112, 3, 2), (144, 56, 3, 1), (480, 14, 3, 1)]
KERNELS = ["conv_s8_dw_pairs_16c_avx512vnni", "conv_s8_dw_pairs_8c_avx2"]


def packed(k, c: int, hw: int, f: int, stride: int, name: str, rng: np.random.Generator):
    w = rng.integers(-127, 128, (c, 1, f, f), dtype=np.int8)
    scale = np.full(c, 1.0 / (40 * f * f), np.float32)
    pad = f // 2
    return k.PackedConv2d(w, hw, hw, scale, stride=(stride, stride), pads=(pad, pad, pad, pad), groups=c, kernel=name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="before_build.py's folder")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--kernels", nargs="+", default=KERNELS)
    args = ap.parse_args()
    import int8rt
    from int8rt._testing import kernels as K
    from before_build import import_before
    base = import_before(args.before)
    from int8rt_before._testing import kernels as KB
    int8rt.set_num_threads(1)
    base.set_num_threads(1)
    print(bench_util.machine_line())
    print("| kernel | C | H=W | filter/stride | batch | base ms | this tree ms | this ÷ base | ÷ of minima | same bytes |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for name in args.kernels:
        for c, hw, f, stride in SHAPES:
            if f == 3 and "avx512vnni" in name:
                continue  # the one-tap kernel runs those on AVX512-VNNI
            for b in args.batches:
                try:
                    ours = packed(K, c, hw, f, stride, name, np.random.default_rng(c * hw + f))
                    theirs = packed(KB, c, hw, f, stride, name, np.random.default_rng(c * hw + f))
                except Exception as e:  # noqa: BLE001 - a tier this CPU lacks
                    print(f"| {name} | {c} | {hw} | {f}x{f}/{stride} | {b} | - | - | - | - | {type(e).__name__} |")
                    continue
                x = np.random.default_rng(b).integers(-128, 128, (b, hw, hw, c), dtype=np.int8)
                same = np.array_equal(ours.run(x), theirs.run(x))
                t = bench_util.alternating_samples({"base": lambda: theirs.run(x), "ours": lambda: ours.run(x)},
                                                   args.rounds, min_time=0.02 * args.rounds, clock=time.process_time)
                mb, mo = np.median(t["base"]) * 1e3, np.median(t["ours"]) * 1e3
                low = min(t["ours"]) / min(t["base"])  # load only adds: the minima are the other estimate
                print(f"| {name} | {c} | {hw} | {f}x{f}/{stride} | {b} | {mb:.3f} | {mo:.3f} | {mo / mb:.3f} | "
                      f"{low:.3f} | {same} |", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
