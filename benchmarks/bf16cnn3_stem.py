"""The BF16 CNNs' entry on AMX, layer by layer (RESULTS.md section 208): the
region entry's conversion of the image (int8rt.ToBf16x16c, absent where the
stem reads the float image), the stem conv, and the whole profiled network,
as thread-CPU medians of `ctx.profile` over --runs calls, the minimum over
--rounds such profiles (load only adds), 1 thread. One tree per process:
run the base and the branch as two processes started together.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16cnn3_stem.py
       [--nets resnet50 mobilenet_v2] [--batches 8 1] [--rounds 5] [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from amxbf16_nets import build  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_nets_bench import cnn  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["resnet50", "mobilenet_v2"])
    ap.add_argument("--batches", nargs="+", type=int, default=[8, 1])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line(), f"int8rt {Path(int8rt.__file__).parent}", flush=True)
    tmp = Path(tempfile.mkdtemp())
    for name in args.nets:
        net = cnn(name, tmp)
        ctx = build(net.path, "amx", True).create_execution_context()
        for batch in args.batches:
            feed = net.feed(batch, 3)
            best: dict[str, float] = {}
            for _ in range(args.rounds):
                layers = ctx.profile(feed, args.runs, clock="thread_cpu")
                entry = sum(la["ms"] for la in layers if la["op"] == "int8rt.ToBf16x16c")
                stem = next(la for la in layers if la["op"] == "int8rt.ConvBf16x16c")
                rows = {"entry conversion": entry, "stem conv": stem["ms"], "entry + stem": entry + stem["ms"],
                        "whole (sum of layers)": sum(la["ms"] for la in layers)}
                for k, v in rows.items():
                    best[k] = min(best.get(k, float("inf")), v)
            print(f"{name} b{batch}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in best.items())
                  + f" ({stem['detail']}; {load_line()})", flush=True)


if __name__ == "__main__":
    main()
