"""Whole-network A/B of two int8rt trees against OpenVINO INT8 (RESULTS.md
section 155): e2e_bench.py run in turn under each tree's python/ (ABAB...,
`--passes` times), each output saved as <out>_<tree>_pass<N>.txt; then, from
those files (or any given with --table), OV INT8 ÷ int8rt INT8 per pass and
batch (the summary row's median CPU ms), its median per tree, and the load
at each run's start.

Usage:
    python benchmarks/r50i8_e2e_ab.py --trees base=/tmp/r50i8/base/python branch=/tmp/r50i8/br2/python \\
        --passes 4 [--first 5] --out benchmarks/results/r50i8_155_e2e_resnet50 [-- <e2e_bench.py arguments>]
    python benchmarks/r50i8_e2e_ab.py --table benchmarks/results/r50i8_155_e2e_resnet50_*_pass*.txt
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_ARGS = ["--models", "resnet50", "--impls", "int8rt int8", "OV int8", "--batches", "1", "8",
                "--threads", "1", "--rounds", "7", "--min-time", "0.5", "--cpu-time", "--no-threads-alone",
                "--calibrator", "auto", "--models-dir", "/tmp/e2eall/models"]


def run_passes(trees: dict, first: int, passes: int, out: str, bench_args: list) -> None:
    for p in range(first, first + passes):
        for name, python_dir in trees.items():
            path = Path(f"{out}_{name}_pass{p}.txt")
            env = dict(os.environ, PYTHONPATH=python_dir, OPENBLAS_NUM_THREADS="1")
            with path.open("w") as f:
                f.write(f"start {time.strftime('%H:%M:%S', time.gmtime())} load {os.getloadavg()[0]:.2f}\n")
                f.flush()
                subprocess.run([sys.executable, str(HERE / "e2e_bench.py"), *bench_args], env=env, stdout=f,
                               stderr=subprocess.STDOUT, check=False)
                f.write(f"end {time.strftime('%H:%M:%S', time.gmtime())} load {os.getloadavg()[0]:.2f}\n")


def ratios(path: Path) -> tuple:
    """(start load, {(model, batch): OV ms / int8rt ms}) from one e2e_bench.py output's summary rows
    (| model | batch | threads | int8rt int8 | ... | OV int8 (..x) |)."""
    text = path.read_text()
    load = re.search(r"^start \S+ load ([\d.]+)", text, re.M)
    out = {}
    for m in re.finditer(r"^\| (\w+) \| (\d+) \| 1 \| ([\d.]+) \|.* ([\d.]+) \([\d.]+x\) \|$", text, re.M):
        out[(m.group(1), int(m.group(2)))] = float(m.group(4)) / float(m.group(3))
    return (float(load.group(1)) if load else float("nan")), out


def table(files: list) -> None:
    per_tree: dict = {}
    print("| file | load at start | OV INT8 ÷ int8rt per model, batch |\n|---|---:|---|")
    for name in files:
        path = Path(name)
        load, r = ratios(path)
        tree = re.search(r"_([A-Za-z0-9]+)_pass\d+", path.name).group(1)
        for key, v in r.items():
            per_tree.setdefault((tree, *key), []).append(v)
        print(f"| {path.stem} | {load:.1f} | " + ", ".join(f"{m} b{b} {v:.3f}" for (m, b), v in sorted(r.items()))
              + " |")
    for (tree, model, batch), v in sorted(per_tree.items()):
        print(f"{tree} {model} b{batch}: median {statistics.median(v):.3f} over {len(v)} passes "
              f"({min(v):.3f}-{max(v):.3f})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", nargs="*", default=[], help="name=python_dir, run in this order each pass")
    ap.add_argument("--passes", type=int, default=4)
    ap.add_argument("--first", type=int, default=1, help="number of the first pass (to add passes to a set)")
    ap.add_argument("--out", default="benchmarks/results/r50i8_155_e2e_resnet50")
    ap.add_argument("--table", nargs="*", help="only print the table of these output files")
    ap.add_argument("bench_args", nargs=argparse.REMAINDER, help="after --: e2e_bench.py's arguments")
    args = ap.parse_args()
    if args.table:
        table(args.table)
        return 0
    trees = dict(t.split("=", 1) for t in args.trees)
    bench_args = [a for a in args.bench_args if a != "--"] or DEFAULT_ARGS
    run_passes(trees, args.first, args.passes, args.out, bench_args)
    table(sorted(str(p) for p in Path(args.out).parent.glob(Path(args.out).name + "_*_pass*.txt")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
