"""Per-layer CPU time of one saved int8rt engine under two builds (trees), for
a change that has no run-time switch (RESULTS.md section 145: the merged-row
stem's copy in u8 codes). A tree's python/ cannot share a process with
another's, so the trees' profiles run in child processes, in turn (ABAB...),
each child loading the engine and profiling it (ExecutionContext.profile,
thread CPU clock, `--runs` runs per call, `--calls` calls); per layer the
median over all its rows of each tree, the ratio B / A, and each tree's
layer sum.

Usage: python benchmarks/r50u8b_layer_ab.py --engine E.i8rt --x X.npy --a TREE_A/python --b TREE_B/python \\
           [--batch 8] [--turns 6] [--layers Conv MaxPool]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict

import numpy as np

CHILD = r"""
import json, sys
import numpy as np
import int8rt
engine_path, x_path, name, batch, runs, calls = sys.argv[1:7]
int8rt.set_num_threads(1)
ctx = int8rt.Engine.load(engine_path).create_execution_context()
x = {name: np.ascontiguousarray(np.load(x_path)[:int(batch)])}
ctx.run(x)
rows = {}
for _ in range(int(calls)):
    for row in ctx.profile(x, int(runs), clock="thread_cpu"):
        rows.setdefault(row["name"], []).append(float(row["ms"]))
print(json.dumps(rows))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--x", required=True, help="a saved input batch (.npy), NCHW float32")
    ap.add_argument("--input-name", default="input")
    ap.add_argument("--a", required=True, help="tree A's python/ directory")
    ap.add_argument("--b", required=True, help="tree B's python/ directory")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--turns", type=int, default=6, help="child processes per tree, alternated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--layers", nargs="*", default=[], help="substrings of the layer names to print (default all)")
    args = ap.parse_args()
    times = {"A": defaultdict(list), "B": defaultdict(list)}
    for turn in range(args.turns):
        for tree in ("A", "B") if turn % 2 == 0 else ("B", "A"):
            env = dict(os.environ, PYTHONPATH=getattr(args, tree.lower()), OPENBLAS_NUM_THREADS="1")
            out = subprocess.run([sys.executable, "-c", CHILD, args.engine, args.x, args.input_name, str(args.batch),
                                  str(args.runs), str(args.calls)], env=env, check=True, capture_output=True,
                                 text=True).stdout
            for name, ms in json.loads(out.strip().splitlines()[-1]).items():
                times[tree][name].extend(ms)
    med = {t: {n: float(np.median(v)) for n, v in d.items()} for t, d in times.items()}
    print(f"batch {args.batch}, {args.turns} turns per tree, load {os.getloadavg()[0]:.1f}; "
          f"layer sums A {sum(med['A'].values()):.2f} ms, B {sum(med['B'].values()):.2f} ms "
          f"(B / A {sum(med['B'].values()) / sum(med['A'].values()):.3f})")
    print("   A ms    B ms   B/A  layer")
    for n in med["A"]:
        if args.layers and not any(s in n for s in args.layers):
            continue
        print(f"{med['A'][n]:7.3f} {med['B'][n]:7.3f} {med['B'][n] / max(med['A'][n], 1e-9):5.3f}  {n}")


if __name__ == "__main__":
    main()
