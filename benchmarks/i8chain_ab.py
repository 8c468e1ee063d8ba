"""ResNet-50 INT8 with and without the INT8 image chain (RESULTS.md section
219, engine/int8_image_chain.h): the same engine file run by two int8rt
trees, the base (no chain) and the branch (chain), in alternated worker
processes, each timing --runs runs at each batch on the calling thread's
CPU clock (1 thread; wall time with --threads 2, the batch split across
both) after a warm-up; per round the medians, then the median over rounds
of branch / base per batch.

The engine and input are r50i8_layers.save()'s layout (engine.i8rt,
x8.npy, input_name: r50i8_per_image.py's --dir).

Usage: python benchmarks/i8chain_ab.py --dir /tmp/lead/r50s --base /tmp/i8chain/base/python \
           --branch python [--rounds 5 --runs 20 --batches 1 8]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    import int8rt

    int8rt.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    engine = int8rt.Engine.load(str(args.dir / "engine.i8rt"))
    chained = any(la["op"].endswith("ImageChain") for la in engine.layers())
    name = (args.dir / "input_name").read_text().strip()
    x8 = np.load(args.dir / "x8.npy")
    ctx = engine.create_execution_context()
    out = {"chained": chained}
    for b in args.batches:
        x = {name: np.ascontiguousarray(x8[:b])}
        for _ in range(3):
            ctx.run(x)
        t = []
        for _ in range(args.runs):
            t0 = clock()
            ctx.run(x)
            t.append(clock() - t0)
        out[str(b)] = 1e3 * statistics.median(t)
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--base", type=Path, help="the base tree's python/ folder")
    ap.add_argument("--branch", type=Path, help="the branch tree's python/ folder")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    cmd = [sys.executable, __file__, "--worker", "--dir", str(args.dir), "--runs", str(args.runs), "--threads", str(args.threads), "--batches",
           *map(str, args.batches)]
    ratios: dict[int, list[float]] = {b: [] for b in args.batches}
    clock = "thread CPU" if args.threads == 1 else "wall"
    print(f"load {os.getloadavg()[0]:.2f}; {args.threads} thread(s), {args.runs} runs per batch per worker, "
          f"{clock} medians (ms)")
    print("| round | tree | chained | " + " | ".join(f"b{b} ms" for b in args.batches) + " |")
    print("|---|---|---|" + "---|" * len(args.batches))
    for r in range(args.rounds):
        got = {}
        for tree, path in (("base", args.base), ("branch", args.branch)) if r % 2 == 0 else (
                ("branch", args.branch), ("base", args.base)):
            env = dict(os.environ, PYTHONPATH=str(path.resolve()))
            got[tree] = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                                   .stdout.strip().splitlines()[-1])
            print(f"| {r} | {tree} | {got[tree]['chained']} | " +
                  " | ".join(f"{got[tree][str(b)]:.2f}" for b in args.batches) + " |", flush=True)
        for b in args.batches:
            ratios[b].append(got["branch"][str(b)] / got["base"][str(b)])
    for b in args.batches:
        print(f"batch {b}: branch / base per round {', '.join(f'{v:.3f}' for v in ratios[b])}; "
              f"median {statistics.median(ratios[b]):.3f}")
    print(f"(after: load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
