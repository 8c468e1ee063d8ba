"""The AMX-BF16 kernel of the BF16 channel-blocked convs (issue 13 §2 / §4,
RESULTS.md section 162): nchw16c_bf16_amx
(csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc) against
nchw16c_bf16_avx512bf16 on ResNet-50's channel-blocked BF16 engine.

1. The tile model (machine-independent, from the kernel's rules): per dense
   conv shape of ResNet-50 at 224 x 224, the pixel groups the kernel forms
   (each output row split evenly into runs of at most 16; a 1x1 conv
   without padding is one run of the whole plane), the share of the 16 tile
   rows they fill, and the share of one TDPBF16PS's peak work (16 rows x 16
   pairs x 16 columns) that each of the kernel's steps carries: rows / 16 x
   pairs / 16, with pairs = min(16, pairs of C) (two 16-channel blocks, 64
   bytes, per step since RESULTS.md section 169; one block, 8 pairs,
   before). An upper bound on the share of the tile unit's peak; the input
   copy, loads and the epilogue come on top.
2. Timing, only where the CPU has AMX-BF16 (and AVX512-BF16): one process
   builds the blocked BF16 engine twice, capped at "amx" (nchw16c_bf16_amx)
   and at "avx512vnni" (nchw16c_bf16_avx512bf16), and alternates their
   thread-CPU profiles, ROUNDS rounds of RUNS runs, the order swapped every
   round: per kind (1x1, stem / other convs, all) the median ms and the
   AVX512-BF16 / AMX ratio per round, and the outputs' largest relative
   difference. Elsewhere it prints "no AMX on this machine" and times
   nothing (the kernel's arithmetic is tested there under the emulation
   header: tests/cpp/test_nchw16c_bf16_amx.cc).

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/amxblk_bench.py \
           [--batch 1] [--rounds 5] [--runs 5]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402

# ResNet-50's dense convs (C, M, k, stride, output side), one row per distinct shape.
RESNET50 = [
    (3, 64, 7, 2, 112),
    (64, 64, 1, 1, 56), (64, 64, 3, 1, 56), (64, 256, 1, 1, 56), (256, 64, 1, 1, 56),
    (256, 128, 1, 1, 56), (128, 128, 3, 2, 28), (128, 512, 1, 1, 28), (256, 512, 1, 2, 28), (512, 128, 1, 1, 28),
    (128, 128, 3, 1, 28),
    (512, 256, 1, 1, 28), (256, 256, 3, 2, 14), (256, 1024, 1, 1, 14), (512, 1024, 1, 2, 14),
    (1024, 256, 1, 1, 14), (256, 256, 3, 1, 14),
    (1024, 512, 1, 1, 14), (512, 512, 3, 2, 7), (512, 2048, 1, 1, 7), (1024, 2048, 1, 2, 7),
    (2048, 512, 1, 1, 7), (512, 512, 3, 1, 7),
]


def run_sizes(length: int) -> list[int]:
    """The kernel's pixel groups of a run of `length` pixels (for_group_pairs)."""
    tiles = -(-length // 16)
    n = -(-length // tiles)
    return [min(n, length - i) for i in range(0, length, n)]


def tile_model() -> None:
    print("Tile model (kernel rules, no timing): rows = pixels per C tile, "
          "work = share of a TDPBF16PS's 16 x 16 x 16-pair peak per step")
    print("| conv | groups | tile rows filled | pairs per step | work per step |")
    print("|---|---|---|---|---|")
    for C, M, k, s, side in RESNET50:
        flat = k == 1
        sizes = run_sizes(side * side) if flat else run_sizes(side)
        rows = sum(sizes) / (16 * len(sizes))
        pairs = min(16, (C + 1) // 2)
        where = f"{len(sizes)} x {sizes[0]}" + (f" (last {sizes[-1]})" if sizes[-1] != sizes[0] else "")
        where += " per plane" if flat else " per row"
        print(f"| {C}->{M} {k}x{k} /{s} @{side} | {where} | {rows:.1%} | {pairs} of 16 | {rows * pairs / 16:.1%} |")


def has_amx_bf16() -> bool:
    f = int8rt.kernels.cpu_features()
    return bool(int8rt.kernels.isa_info()["amx"]["cpu"] and f.get("amx_bf16") and f.get("avx512_bf16"))


def timing(batch: int, rounds: int, runs: int) -> None:
    from bf16_layers_profile import exported
    from bf16nc_kinds import kind

    path, macs = exported("resnet50", batch)
    x = np.random.default_rng(3).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    ctxs, outs = {}, {}
    for label, cap in (("avx512bf16", "avx512vnni"), ("amx", "amx")):
        int8rt.set_max_isa(cap)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                e = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=True))
        finally:
            int8rt.set_max_isa(None)
        kernels = {la["detail"].split()[-1] for la in e.layers() if la["op"] == "int8rt.ConvBf16x16c"}
        print(f"{label}: blocked convs on {sorted(kernels)}")
        ctxs[label] = e.create_execution_context()
        outs[label] = list(ctxs[label].run({"input": x}).values())[0]
    sums = {k: defaultdict(list) for k in ctxs}
    for r in range(rounds):
        for label in (list(ctxs) if r % 2 == 0 else list(ctxs)[::-1]):
            s = defaultdict(float)
            for layer in ctxs[label].profile({"input": x}, runs, clock="thread_cpu"):
                s[kind(layer, macs)] += layer["ms"]
                s["all"] += layer["ms"]
            for k, v in s.items():
                sums[label][k].append(v)
    print(f"resnet50 batch {batch}, 1 thread, blocked BF16 engine, thread-CPU ms (summed per-layer medians; "
          f"median over {rounds} alternating rounds of {runs} runs); {load_line()}")
    print("| kind | AVX512-BF16 ms | AMX ms | AVX512-BF16 / AMX (median, range) |")
    print("|---|---|---|---|")
    for k in ("1x1", "stem / other conv", "all"):
        a, b = sums["avx512bf16"].get(k, []), sums["amx"].get(k, [])
        ratios = [aa / bb for aa, bb in zip(a, b) if bb > 0]
        if ratios:
            print(f"| {k} | {statistics.median(a):.3f} | {statistics.median(b):.3f} | "
                  f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
    a, b = outs["avx512bf16"], outs["amx"]
    print(f"outputs: AMX vs AVX512-BF16 max |diff| / max |y| = {np.abs(a - b).max() / np.abs(a).max():.3e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(machine_line())
    tile_model()
    if not has_amx_bf16():
        print("no AMX on this machine: nchw16c_bf16_amx is passed over (CPU lacks amx); nothing timed. "
              "Its kernel ran only under the emulation header (tests/cpp/test_nchw16c_bf16_amx.cc).")
        return
    int8rt.set_num_threads(1)
    timing(args.batch, args.rounds, args.runs)


if __name__ == "__main__":
    main()
