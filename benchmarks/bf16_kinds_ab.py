"""Packages alternated on bf16_conv_groups.py --by-size (issue 13 §4): for
each round, each network and batch, each package's BF16 engine profiled in
its own process (PYTHONPATH=<package>), then per conv kind the median over
rounds of each package's time over the first package's, with the range.
Round r runs the packages in an order rotated by r, so each round starts
with a different one. A kind the packages share (depthwise, "other")
moves with the load only: it is the yardstick of the noise. One thread, thread-CPU medians per layer.

Usage: python3 <tree>/benchmarks/bf16_kinds_ab.py --packages BASE NEW [NEW2 ...] \\
           --onnx-dir DIR [--cases mobilenet_v2:1:15 resnet50:8:5] [--rounds 5]
(DIR holds <net>.onnx as bf16_layers_profile.export writes it; a package
is a folder holding int8rt/.)
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def profile(package: str, onnx: str, net: str, batch: str, runs: str) -> tuple[dict, float]:
    """One process's kind sums (ms) and its 1-minute load."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "bf16_conv_groups.py"), "--by-size", "--net", net,
                          "--onnx", onnx, "--batch", batch, "--runs", runs], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": package}, check=True).stdout.strip().splitlines()[-1]
    load = float(re.search(r"load average ([\d.]+)", out).group(1))
    parts = out.split(": total ", 1)[1].split(" | ")  # "T ms", then "kind ms" ..., then the strided 1x1 list
    sums = {"total": float(parts[0].split()[0])}
    for part in parts[1:-1]:
        name, _, value = part.rpartition(" ")
        sums[name] = float(value)
    return sums, load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", nargs="+", required=True)
    ap.add_argument("--onnx-dir", required=True)
    ap.add_argument("--cases", nargs="+", default=["mobilenet_v2:1:15", "mobilenet_v2:8:7", "resnet50:1:9",
                                                    "resnet50:8:5"], help="net:batch:runs")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    got = {case: [] for case in args.cases}  # per round: [sums per package]
    loads = {case: [] for case in args.cases}
    n = len(args.packages)
    for r in range(args.rounds):
        # Round r starts with package r mod n (then r + 1, ...): no package
        # always runs first, so the position in the round (the load before
        # it, a warm or cold cache) weighs on each package alike.
        order = [(r + i) % n for i in range(n)]
        for case in args.cases:
            net, batch, runs = case.split(":")
            row = [None] * n
            for j in order:
                sums, load = profile(args.packages[j], os.path.join(args.onnx_dir, f"{net}.onnx"), net, batch, runs)
                row[j] = sums
                loads[case].append(load)
            got[case].append(row)
    names = [os.path.basename(p.rstrip("/")) for p in args.packages]
    for case in args.cases:
        print(f"\n{case} ({args.rounds} rounds, load {min(loads[case]):.1f}-{max(loads[case]):.1f}): "
              f"ms (median) per package, then each over {names[0]}: median (range)")
        for k in sorted(got[case][0][0], key=lambda k: (k != "total", k)):
            ms = [statistics.median(r[j][k] for r in got[case]) for j in range(len(names))]
            ratios = []
            for j in range(1, len(names)):
                rs = [r[j][k] / r[0][k] for r in got[case]]
                ratios.append(f"{names[j]} {statistics.median(rs):.2f} ({min(rs):.2f}-{max(rs):.2f})")
            print(f"  {k:12s} " + " ".join(f"{m:.3f}" for m in ms) + " | " + " | ".join(ratios))


if __name__ == "__main__":
    main()
