"""ResNet-50 BF16 at batch 8, layer by layer, under the experiment's knobs
(benchmarks/results/bf16r50c_knobs_experiment{2,3}.patch and
bf16r50c_base_knob.patch, R50C_BASE = 1: the base tree's partitions, on
00f583e4's tree; RESULTS.md section 221): knob sets alternated round by round in one process on one execution
context; per set and layer the minimum over a round's profiled runs (thread
CPU), and the minimum of three whole runs (thread CPU: 1 thread), then per
layer the median over rounds; printed for the layers whose name contains
one of the filters, the layers' sum and the whole run, with the ratio to the
first set. Without
the patch every set is the same code.

Usage: PYTHONPATH=<patched tree>/python python benchmarks/bf16r50c_net_knobs.py \
         "features.11/body/body.0|features.17" ";R50C_WIDE=300000" [rounds]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import int8rt  # noqa: E402
from bf16cnn_knobs import knob_args, set_knobs  # noqa: E402
from bf16r50b_layers import bf16_r50_setup  # noqa: E402


def main() -> None:
    filters, names, configs, rounds = knob_args()
    int8rt.set_num_threads(1)
    _, x, _, ctx, _, _ = bf16_r50_setup(8)
    feed = {"input": x}
    ref = ctx.run(feed)
    times: list[dict[str, list[float]]] = [{} for _ in configs]
    for _ in range(rounds):
        for i, c in enumerate(configs):
            set_knobs("R50C_", c)
            out = ctx.run(feed)
            if not all(np.array_equal(out[k], ref[k]) for k in ref):
                print(f"[{names[i]}] differs from the first set's output", flush=True)
            per: dict[str, float] = {}
            for _ in range(3):
                for q in ctx.profile(feed, runs=1, clock="thread_cpu"):
                    per[q["name"]] = min(per.get(q["name"], 1e9), q["ms"])
            whole = []
            for _ in range(3):
                t0 = time.thread_time()
                ctx.run(feed)
                whole.append((time.thread_time() - t0) * 1e3)
            layers = sum(per.values())
            per["(whole run)"] = min(whole)
            for name, ms in per.items():
                times[i].setdefault(name, []).append(ms)
            times[i].setdefault("(all layers)", []).append(layers)
    print(f"load {os.getloadavg()[0]:.1f}")
    for name in times[0]:
        if not name.startswith("(") and not any(f in name for f in filters):
            continue
        base = np.median(times[0][name])
        print(f"{name[:60]:60s}", "  ".join(f"[{names[i] or 'default'}] {np.median(t[name]):.3f} "
                                            f"({np.median(t[name]) / base:.3f})" for i, t in enumerate(times)))


if __name__ == "__main__":
    main()
