"""An encoder's int8rt INT8 engine by layer kind, 1 thread (RESULTS.md section
170, issue 13 / 14): where a BERT-class engine spends its time outside the
GEMMs on an AMX machine. Reads a folder that e2e10_layers.py --save wrote
(engine.i8rt, feed<b>.npz), profiles the engine with int8rt's profiler
(thread CPU, one run per call) for --rounds rounds, and sums the per-layer
medians into rows keyed by op and the profile's detail (the kernel and the
int8 / float boundaries), largest first, with each row's share of the sum.
With --before (before_build.py's folder) the base build's profile of the
same engine bytes is taken in the same rounds, alternated, beside it.

    PYTHONPATH=python python benchmarks/bertamx_kinds.py --dir /tmp/bertamx/bert --batch 8 --rounds 9
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import int8rt  # noqa: E402


def load_feed(d: Path, batch: int) -> dict:
    with np.load(d / f"feed{batch}.npz") as z:
        return {k: np.ascontiguousarray(z[k]) for k in z.files}


def kind(layer: dict) -> str:
    """The row a profiled layer is summed into: op and detail."""
    return f"{layer['op']} [{layer['detail']}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--before", default=None, help="before_build.py's folder: the base build, profiled beside")
    args = ap.parse_args()
    libs = {"this": int8rt}
    if args.before:
        from before_build import import_before
        libs["before"] = import_before(args.before)
    feed = load_feed(args.dir, args.batch)
    data = (args.dir / "engine.i8rt").read_bytes()
    ctxs = {}
    for name, lib in libs.items():
        lib.set_num_threads(1)
        ctxs[name] = lib.Engine.deserialize(data).create_execution_context()
        ctxs[name].run(feed)
    per_layer = {name: defaultdict(list) for name in libs}
    kinds = {}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, ctx in ctxs.items():
            for layer in ctx.profile(feed, 1, clock="thread_cpu"):
                per_layer[name][layer["name"]].append(layer["ms"])
                kinds[layer["name"]] = kind(layer)
    print(f"batch {args.batch}, 1 thread, {args.rounds} rounds, medians per layer summed by kind; "
          f"load {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    for name in libs:
        rows: dict[str, list] = defaultdict(lambda: [0, 0.0])
        for layer, t in per_layer[name].items():
            r = rows[kinds[layer]]
            r[0] += 1
            r[1] += statistics.median(t)
        total = sum(r[1] for r in rows.values())
        print(f"\n{name}: sum of layer medians {total:.3f} ms")
        print("| kind | layers | ms | share |")
        print("|---|---:|---:|---:|")
        for k, (n, ms) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
            if ms >= 0.002 * total:
                print(f"| {k} | {n} | {ms:.3f} | {100 * ms / total:.1f}% |")


if __name__ == "__main__":
    main()
