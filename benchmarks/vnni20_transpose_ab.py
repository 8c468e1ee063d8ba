"""PP-OCR det's two int8 ConvTranspose shapes (2 x 2 / 2: 24 -> 24 at 80 x 80
and 24 -> 1 at 160 x 160 for a 320 input) on the AVX512-VNNI tier
(RESULTS.md section 249): conv_transpose_s8_phases (its merged 1x1 conv on
the VNNI igemm tile, then the scatter) against conv_transpose_s8_ks_avx512vnni
(the kernel-equals-stride driver on the VNNI tiles, in place) and, capped at
avx2, conv_transpose_s8_ks_avx2, through the one-shot test hook
(avx2det17_transpose_ab.py's per_call_ms and shapes), in one process,
alternated --rounds times, 1 thread, thread CPU time; minima and medians.
Inputs uniform in [0, 127] (det's are ReLU outputs: the u8 tile) and, with
--signed, in [-128, 127] (the shifted tile).

Usage: PYTHONPATH=python python benchmarks/vnni20_transpose_ab.py [--rounds 9] [--signed]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from avx2det17_transpose_ab import SHAPES, per_call_ms  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402

# kernel name -> the ISA cap it runs under (None: the CPU's)
KERNELS = {"conv_transpose_s8_phases": None, "conv_transpose_s8_ks_avx512vnni": None,
           "conv_transpose_s8_ks_avx2": "avx2"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--signed", action="store_true", help="inputs in [-128, 127] instead of [0, 127]")
    args = ap.parse_args()
    import int8rt
    from int8rt._testing import kernels as K
    print(machine_line())
    print(load_line())
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    lo = -128 if args.signed else 0
    for h, c, k, b in SHAPES:
        x = rng.integers(lo, 128, (b, h, h, c), dtype=np.int8)
        w = rng.integers(-127, 128, (c, k, 2, 2), dtype=np.int8)
        scale = np.full(k, 1e-2, np.float32)
        n = max(2, 20 // b)
        times: dict[str, list[float]] = {name: [] for name in KERNELS}
        outs = {}
        for _ in range(args.rounds):
            for name, cap in KERNELS.items():
                int8rt.set_max_isa(cap)
                try:
                    times[name].append(per_call_ms(
                        lambda: K.conv_transpose2d_s8(x, w, scale, stride=(2, 2), kernel=name), n))
                    outs[name] = K.conv_transpose2d_s8(x, w, scale, stride=(2, 2), kernel=name)
                finally:
                    int8rt.set_max_isa(None)
        same = all(np.array_equal(outs[name], outs["conv_transpose_s8_phases"]) for name in KERNELS)
        mins = {name: min(t) for name, t in times.items()}
        meds = {name: statistics.median(t) for name, t in times.items()}
        base = "conv_transpose_s8_phases"
        row = " | ".join(f"{name.replace('conv_transpose_s8_', '')} {mins[name]:.3f} / {meds[name]:.3f} "
                         f"(x{mins[name] / mins[base]:.2f} / x{meds[name] / meds[base]:.2f})" for name in KERNELS)
        print(f"b{b} {c}->{k} at {h}x{h}: ms min / median (ratio to phases): {row}; same bytes {same}")
    print(load_line())


if __name__ == "__main__":
    main()
