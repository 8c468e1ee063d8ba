"""Where AMX stops paying: one int8 conv (or GEMM) at a time, packed under
two ISA caps (default: no cap = AMX, and avx512bf16 = the best tier without
AMX, whose int8 kernels are AVX512-VNNI's), the two kernels alternating in
one process, 1 thread, medians of the process CPU time. Both outputs are
checked equal byte for byte (every int8 kernel is exact), so a timing never
stands for a wrong result.

Shapes come from presets (--sets) or --convs / --gemms:
  conv "C,H,K,R,stride,groups[,W]"  NHWC input H x W (W = H by default), K
       filters of R x R, padding R // 2; run at each --batches
  gemm "M,N,K"  A [M,K] x B [N,K]^T (fully connected: M = batch x tokens)
--residual adds an int8 residual of the output's shape in the convs' epilogue.
Presets: the convs of the nine networks of issue 14 that AMX takes
(mobile_pw: MobileNetV2 / V3 / EfficientNet pointwise convs, the small-channel
ones first; stems: the C = 3 first convs; r50: ResNet-50's; cin: 1x1 @56
with C = 8..128 at K = 64; kout: 1x1 @56 C = 64 with K = 8..128; hw: 1x1
C = K = 32 / 64 at 7..112; grid: 1x1 with C = 48..192 x K = 24 / 64 / 144 at 56 and 28; gemm: BERT-base / MiniLM FC shapes at batch 1).

Usage: PYTHONPATH=python python benchmarks/e2e_amx_crossover.py [--sets mobile_pw stems]
       [--convs 24,56,144,1,1,1 ...] [--gemms 128,384,384 ...] [--batches 1 8] [--min-time 0.2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from int8rt._testing import kernels as K  # noqa: E402

# C, H, K, R, stride, groups
MOBILE_PW = [(16, 112, 96, 1, 1, 1), (32, 112, 16, 1, 1, 1), (16, 112, 16, 1, 1, 1), (24, 56, 144, 1, 1, 1),
             (144, 56, 24, 1, 1, 1), (24, 56, 72, 1, 1, 1), (72, 56, 24, 1, 1, 1), (32, 28, 192, 1, 1, 1),
             (192, 28, 32, 1, 1, 1), (40, 28, 240, 1, 1, 1), (240, 28, 40, 1, 1, 1), (64, 14, 384, 1, 1, 1),
             (384, 14, 64, 1, 1, 1), (80, 14, 480, 1, 1, 1), (96, 14, 576, 1, 1, 1), (112, 14, 672, 1, 1, 1),
             (160, 7, 960, 1, 1, 1), (960, 7, 160, 1, 1, 1), (320, 7, 1280, 1, 1, 1)]
STEMS = [(3, 224, 64, 7, 2, 1), (3, 224, 32, 3, 2, 1), (3, 224, 16, 3, 2, 1), (3, 320, 32, 3, 2, 1)]
R50 = [(64, 56, 64, 3, 1, 1), (256, 56, 64, 1, 1, 1), (64, 56, 256, 1, 1, 1), (128, 28, 128, 3, 1, 1),
       (256, 14, 256, 3, 1, 1), (512, 7, 512, 3, 1, 1), (1024, 14, 256, 1, 1, 1), (2048, 7, 512, 1, 1, 1)]
CIN = [(c, 56, 64, 1, 1, 1) for c in (8, 16, 24, 32, 40, 48, 64, 96, 128)]
KOUT = [(64, 56, k, 1, 1, 1) for k in (8, 16, 24, 32, 48, 64, 96, 128)]
HW = [(c, h, c, 1, 1, 1) for c in (32, 64) for h in (7, 14, 28, 56, 112)]
GRID = [(c, h, k, 1, 1, 1) for h in (56, 28) for k in (24, 64, 144) for c in (48, 64, 72, 96, 128, 144, 192)]
GEMM = [(128, 768, 768), (128, 3072, 768), (128, 768, 3072), (128, 384, 384), (128, 1536, 384), (128, 384, 1536),
        (1, 768, 768), (8, 768, 768)]
SETS = {"grid": GRID, "mobile_pw": MOBILE_PW, "stems": STEMS, "r50": R50, "cin": CIN, "kout": KOUT, "hw": HW, "gemm": GEMM}


def conv_impl(dims: Tuple[int, ...], batch: int, tier: str, rng_seed: int,
              residual: bool = False) -> Tuple[Callable[[], np.ndarray], str]:
    c, h, k, r, stride, groups = dims[:6]
    w_ = dims[6] if len(dims) > 6 else h
    rng = np.random.default_rng(rng_seed)
    x = rng.integers(-128, 128, (batch, h, w_, c), dtype=np.int8)
    w = rng.integers(-128, 128, (k, c // groups, r, r), dtype=np.int8)
    p = r // 2
    int8rt.set_max_isa(tier)
    try:
        packed = K.PackedConv2d(w, h, w_, np.full(k, 1e-4, np.float32), np.zeros(k, np.float32), lo=-128.0,
                                hi=127.0, stride=(stride, stride), pads=(p, p, p, p), groups=groups)
    finally:
        int8rt.set_max_isa(None)
    if residual:  # an int8 residual of the output's shape added in the epilogue (ResNet's expansions)
        oh, ow = (h + 2 * p - r) // stride + 1, (w_ + 2 * p - r) // stride + 1
        res = rng.integers(-128, 128, (batch, oh, ow, k), dtype=np.int8)
        return (lambda: packed.run(x, res, 0.5)), packed.kernel
    return (lambda: packed.run(x)), packed.kernel


def gemm_impl(dims: Tuple[int, ...], tier: str, rng_seed: int) -> Tuple[Callable[[], np.ndarray], str]:
    m, n, k = dims
    rng = np.random.default_rng(rng_seed)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (n, k), dtype=np.int8)
    int8rt.set_max_isa(tier)
    try:
        packed = K.PackedGemm(b, np.full(n, 1e-4, np.float32), lo=-128.0, hi=127.0)
    finally:
        int8rt.set_max_isa(None)
    return (lambda: packed.run(a)), packed.kernel


def alternate(fns: Dict[str, Callable[[], object]], min_time: float, min_rounds: int) -> Dict[str, float]:
    """Median process-CPU seconds per call, the functions called in turn."""
    for f in fns.values():
        f()
    samples: Dict[str, List[float]] = {n: [] for n in fns}
    spent, rounds = 0.0, 0
    while (spent < min_time * len(fns) or rounds < min_rounds) and rounds < 5000:
        for n, f in fns.items():
            t0 = time.process_time()
            f()
            dt = time.process_time() - t0
            samples[n].append(dt)
            spent += dt
        rounds += 1
    return {n: statistics.median(v) for n, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="*", default=[], choices=list(SETS))
    ap.add_argument("--convs", nargs="*", default=[], help='"C,H,K,R,stride,groups[,W]"')
    ap.add_argument("--gemms", nargs="*", default=[], help='"M,N,K"')
    ap.add_argument("--tiers", nargs=2, default=["amx", "avx512bf16"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--min-time", type=float, default=0.2, help="CPU seconds per kernel at least")
    ap.add_argument("--min-rounds", type=int, default=15)
    ap.add_argument("--residual", action="store_true", help="convs add an int8 residual in their epilogue")
    args = ap.parse_args()
    convs = [tuple(int(v) for v in s.split(",")) for s in args.convs]
    gemms = [tuple(int(v) for v in s.split(",")) for s in args.gemms]
    for name in args.sets:
        (gemms if name == "gemm" else convs).extend(SETS[name])
    int8rt.set_num_threads(1)
    a, b = args.tiers
    print(machine_line())
    print(f"int8rt {int8rt.__version__}: {a} vs {b}, 1 thread, process CPU medians, outputs compared byte for byte")
    print(f"| shape | batch | GMAC | kernel under {a} | kernel under {b} | {a} ms | {b} ms | {a} / {b} | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    jobs = [("conv", d, n) for d in convs for n in args.batches] + [("gemm", d, 1) for d in gemms]
    for kind, dims, batch in jobs:
        if kind == "conv":
            c, h, k, r, stride, groups = dims[:6]
            w_ = dims[6] if len(dims) > 6 else h
            oh, ow = (h + 2 * (r // 2) - r) // stride + 1, (w_ + 2 * (r // 2) - r) // stride + 1
            macs = batch * oh * ow * k * (c // groups) * r * r
            label = f"conv {c}->{k} {r}x{r} s{stride}{f' g{groups}' if groups > 1 else ''} @{h}x{w_}"
            made = {t: conv_impl(dims, batch, t, 0, args.residual) for t in (a, b)}
            label += " +residual" if args.residual else ""
        else:
            m, n, kk = dims
            macs, label = m * n * kk, f"gemm M{m} N{n} K{kk}"
            made = {t: gemm_impl(dims, t, 0) for t in (a, b)}
        ya, yb = made[a][0](), made[b][0]()
        if not np.array_equal(ya, yb):
            raise AssertionError(f"{label} batch {batch}: {made[a][1]} and {made[b][1]} disagree")
        med = alternate({t: made[t][0] for t in (a, b)}, args.min_time, args.min_rounds)
        print(f"| {label} | {batch} | {macs / 1e9:.3f} | {made[a][1]} | {made[b][1]} | {med[a] * 1e3:.4f} | "
              f"{med[b] * 1e3:.4f} | {med[a] / med[b]:.2f} | {load_line().split(' ', 2)[2]} |", flush=True)
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
