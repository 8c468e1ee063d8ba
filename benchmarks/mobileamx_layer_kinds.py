"""Where a saved int8rt engine's time goes by kind of layer (e2e10_layers.py
--save's folders): each layer's op and kernel from the profiler (thread CPU,
1 thread, minima over --rounds), summed into the squeeze-and-excitation
layers (the global pool of a block, its fc1 / fc2 1x1 convs on [N, C, 1, 1],
the channel gate), the 1x1 convs at 112 x 112, the other convs by kernel, and
the rest by op. Says how much a faster SE path or a faster 112 x 112 path
could give at most. RESULTS.md section 178.

    PYTHONPATH=python python benchmarks/mobileamx_layer_kinds.py --dirs /tmp/mobileamx/mobilenet_v3 --batches 1 8
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
from e2e10_layers import load_feed  # noqa: E402


def kind(name: str, op: str, detail: str) -> str:
    if "/fc1/" in name or "/fc2/" in name:
        return "SE fc1 / fc2 convs [N, C, 1, 1] (" + detail.split(" ")[0] + ")"
    if "QChannelMul" in op or ("GlobalAveragePool" in name and "/pool/" not in name.split("/body")[0]):
        return "SE pool + channel gate"
    if op.endswith("QConv"):
        return "conv " + detail.split(" ")[0]
    return op


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dirs", type=Path, nargs="+", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    import int8rt
    int8rt.set_num_threads(1)
    print(bench_util.machine_line())
    for d in args.dirs:
        ctx = int8rt.Engine.deserialize((d / "engine.i8rt").read_bytes()).create_execution_context()
        for b in args.batches:
            feed = load_feed(d, b)
            ctx.run(feed)
            best: dict[str, float] = {}
            info: dict[str, tuple[str, str]] = {}
            for _ in range(args.rounds):
                for layer in ctx.profile(feed, 1, clock="thread_cpu"):
                    n = layer["name"]
                    best[n] = min(best.get(n, np.inf), layer["ms"])
                    info[n] = (layer["op"], layer["detail"])
            sums, counts = defaultdict(float), defaultdict(int)
            for n, ms in best.items():
                k = kind(n, *info[n])
                sums[k] += ms
                counts[k] += 1
            total = sum(sums.values())
            print(f"\n{d.name} batch {b}: layer minima sum {total:.3f} ms ({bench_util.load_line()})")
            print("| kind | layers | ms | share |")
            print("|---|---:|---:|---:|")
            for k, ms in sorted(sums.items(), key=lambda kv: -kv[1]):
                print(f"| {k} | {counts[k]} | {ms:.3f} | {ms / total:.1%} |")


if __name__ == "__main__":
    main()
