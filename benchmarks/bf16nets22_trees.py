"""Two int8rt trees against each other and against OpenVINO bf16 on the
BF16 CNNs of bf16nets22_nets.py (RESULTS.md section 255): that script (int8rt's
FP32 + bf16 engine beside OpenVINO bf16 compiled for the timed shape,
alternated call by call in one process, process-CPU medians, 1 thread) run
once per tree per pass, the trees' processes alternated (A, B, A, B, ...),
so each OV / int8rt ratio comes from one process and the tree ratio (B / A
int8rt CPU ms) from neighbouring processes (bf16cnn20_trees.py's method for
bf16conv_nets.py). Prints every process's rows, then per network and batch
the values of each pass.

Usage (from the repository root):
  python3 benchmarks/bf16nets22_trees.py --trees /tmp/base /work/wt/bf16nets22 [--passes 2]
      [--nets efficientnet_b0 ...] [--batches 1 8] [--rounds 5] [--min-time 0.3]
      [--models-dir /tmp/bf16nets22/models]
(each tree: a directory whose python/int8rt holds its built extension)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_util import load_line, machine_line  # noqa: E402
from bf16nets22_nets import NETS  # noqa: E402


def one_pass(tree: str, args: argparse.Namespace) -> dict:
    """bf16nets22_nets.py under `tree`'s python/: (net, batch) -> (int8rt CPU ms, OV CPU ms)."""
    env = dict(os.environ, PYTHONPATH=str(Path(tree) / "python"))
    cmd = [sys.executable, str(HERE / "bf16nets22_nets.py"), "--nets", *args.nets, "--batches",
           *map(str, args.batches), "--passes", "1", "--rounds", str(args.rounds), "--min-time", str(args.min_time),
           "--models-dir", args.models_dir]
    out = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True, text=True, check=True).stdout
    print(f"--- tree {tree}\n{out}", flush=True)
    rows = {}
    for line in out.splitlines():
        f = [c.strip() for c in line.split("|")]
        if len(f) > 6 and f[1] in args.nets:
            rows[(f[1], int(f[2]))] = (float(f[4]), float(f[5]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs=2, required=True, metavar=("A", "B"))
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--nets", nargs="+", default=NETS)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--models-dir", default="/tmp/bf16nets22/models")
    args = ap.parse_args()
    print(machine_line())
    runs: dict = {t: [] for t in args.trees}
    for _ in range(args.passes):
        for tree in args.trees:
            runs[tree].append(one_pass(tree, args))
    a, b = args.trees
    print(f"\nA = {a}, B = {b}; {load_line()}")
    print("| network | batch | A OV / int8rt (passes) | B OV / int8rt (passes) | B / A int8rt CPU (passes) |")
    print("|---|---:|---|---|---|")
    for key in runs[a][0]:
        ra = [r[key][1] / r[key][0] for r in runs[a]]
        rb = [r[key][1] / r[key][0] for r in runs[b]]
        ba = [rb_[key][0] / ra_[key][0] for ra_, rb_ in zip(runs[a], runs[b])]
        print(f"| {key[0]} | {key[1]} | {', '.join(f'{x:.3f}' for x in ra)} | {', '.join(f'{x:.3f}' for x in rb)} | "
              f"{', '.join(f'{x:.3f}' for x in ba)} |")


if __name__ == "__main__":
    main()
