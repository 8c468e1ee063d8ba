"""The SE gates' table-form layers per tree (RESULTS.md section 233): for
each saved engine (avx2e2e_ab.py --save's DIR/NET) and batch, the
int8rt.QChannelMul and int8rt.QGlobalAveragePool layers that read x through
a float table, their thread CPU time (minimum over --rounds profiles of 2
runs, 1 thread) summed, beside the sum of all layers. The trees alternate
as worker processes (--trees: python/ folders), --passes times.

Usage: python benchmarks/avx2gap_table_layers.py --dir /tmp/avx2gap/eng \
           --trees /tmp/avx2gap/base/python python --models mobilenet_v3 ppocr_det ppocr_rec [--passes 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def worker(d: Path, batch: int, rounds: int) -> dict:
    """{gate, pool, all: ms sums, n: table layers} of one engine on this tree."""
    import numpy as np

    import int8rt
    int8rt.set_num_threads(1)
    engine = int8rt.Engine.load(str(d / "engine.i8rt"))
    feed = {(d / "input_name").read_text().strip(): np.load(d / f"x{batch}.npy")}
    ctx = engine.create_execution_context()
    profs = [ctx.profile(feed, 2, clock="thread_cpu") for _ in range(rounds)]
    out = {"gate": 0.0, "pool": 0.0, "all": 0.0, "n": 0}
    for i, layer in enumerate(profs[0]):
        ms = min(p[i]["ms"] for p in profs)
        out["all"] += ms
        if "x through a float table" in layer["detail"]:
            out["gate" if layer["op"].endswith("QChannelMul") else "pool"] += ms
            out["n"] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, help="the --save folder (required but in a worker)")
    ap.add_argument("--trees", nargs="+", type=Path, default=[])
    ap.add_argument("--models", nargs="+", default=["mobilenet_v3"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.batch, args.rounds)))
        return
    print("load", open("/proc/loadavg").read().split()[:3])
    for net in args.models:
        for batch in args.batches:
            for p in range(args.passes):
                for tree in args.trees:
                    env = {**os.environ, "PYTHONPATH": str(tree)}
                    r = subprocess.run([sys.executable, __file__, "--worker", str(args.dir / net), "--batch",
                                        str(batch), "--rounds", str(args.rounds)], env=env, capture_output=True,
                                       text=True, check=True)
                    o = json.loads(r.stdout.strip().splitlines()[-1])
                    print(f"{net} b{batch} pass {p} {tree}: {o['n']} table layers, gates {o['gate']:.3f} ms, "
                          f"pools {o['pool']:.3f} ms, all layers {o['all']:.3f} ms", flush=True)
    print("load", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
