"""Two int8rt trees against each other and against OpenVINO bf16, BF16
ResNet-50 / MobileNetV2 (RESULTS.md section 246): bf16conv_nets.py (int8rt's
FP32 + bf16 engine beside OpenVINO bf16 compiled for the batch, alternated
call by call in one process, process-CPU medians, 1 thread) run once per
tree per pass, the trees' processes alternated (A, B, A, B, ...), so each
OV / int8rt ratio comes from one process and the tree ratio (B / A int8rt
CPU ms) from neighbouring processes. Prints every process's rows, then per
network and batch the medians over passes.

Usage (from the repository root):
  python3 benchmarks/bf16cnn20_trees.py --trees /tmp/base /work/wt/bf16cnn [--passes 2]
      [--nets resnet50 mobilenet_v2] [--batches 1 8] [--rounds 5] [--min-time 0.3]
(each tree: a checkout whose python/int8rt holds its built extension)
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_util import load_line, machine_line  # noqa: E402


def one_pass(tree: str, args: argparse.Namespace) -> list[tuple[str, int, float, float]]:
    """bf16conv_nets.py under `tree`'s python/: rows (net, batch, int8rt CPU ms, OV CPU ms)."""
    env = dict(os.environ, PYTHONPATH=str(Path(tree) / "python"))
    cmd = [sys.executable, str(HERE / "bf16conv_nets.py"), "--nets", *args.nets, "--batches",
           *map(str, args.batches), "--rounds", str(args.rounds), "--min-time", str(args.min_time)]
    out = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True, text=True, check=True).stdout
    print(f"--- tree {tree}\n{out}", flush=True)
    rows = []
    for line in out.splitlines():
        f = [c.strip() for c in line.split("|")]
        if len(f) > 6 and f[1] in args.nets:
            rows.append((f[1], int(f[2]), float(f[3]), float(f[4])))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs=2, required=True, metavar=("A", "B"))
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--nets", nargs="+", default=["resnet50", "mobilenet_v2"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    print(machine_line())
    got: dict = {}
    for p in range(args.passes):
        for label, tree in zip("AB", args.trees):
            for net, batch, ours, ov in one_pass(tree, args):
                got.setdefault((net, batch), {}).setdefault(label, []).append((ours, ov))
        print(f"pass {p + 1} done; {load_line()}", flush=True)
    print(f"A = {args.trees[0]}, B = {args.trees[1]}; {args.passes} passes; per pass, OV / int8rt from one process")
    print("| network | batch | A int8rt CPU ms | B int8rt CPU ms | B / A | OV / A (per pass) | OV / B (per pass) |")
    print("|---|---:|---:|---:|---:|---|---|")
    for (net, batch), by in got.items():
        a = statistics.median(o for o, _ in by["A"])
        b = statistics.median(o for o, _ in by["B"])
        ra = ", ".join(f"{ov / o:.3f}" for o, ov in by["A"])
        rb = ", ".join(f"{ov / o:.3f}" for o, ov in by["B"])
        print(f"| {net} | {batch} | {a:.2f} | {b:.2f} | {b / a:.3f} | {ra} | {rb} |")
    print(f"end: {load_line()}")


if __name__ == "__main__":
    main()
