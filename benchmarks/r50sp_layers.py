"""ResNet-50 INT8, 1 thread: int8rt's conv layers grouped by shape (the stem,
the 3x3s, ...) from one saved engine, for a before / after of a kernel change
between two builds of the library (RESULTS.md §191).

The engine file keeps canonical weights and packs them at load, so each
build (its own PYTHONPATH, one process each) runs the same network with its
own kernels. Per batch (1 and --batch): `rounds` profiled runs
(ExecutionContext.profile, thread CPU time), each layer's median, summed per
shape label (r50i8_layers.labels); then the whole run's median process CPU
time over `rounds` calls. Run the builds alternately, several processes each
(the shell loop in §191), and compare medians as ratios: the machine is shared.

Usage (a dir saved by `r50i8_layers.py --save`):
    PYTHONPATH=<build> python benchmarks/r50sp_layers.py --dir /tmp/spatial60/r50 --label base --rounds 15
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from r50i8_layers import labels  # noqa: E402

import int8rt  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True, help="engine.i8rt, fp32.onnx, x8.npy, input_name")
    ap.add_argument("--label", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", nargs="*", default=None, help="print only these shape labels' rows")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    names = labels(args.dir / "fp32.onnx", args.batch)
    ctx = int8rt.Engine.load(str(args.dir / "engine.i8rt")).create_execution_context()
    input_name = (args.dir / "input_name").read_text().strip()
    x8 = np.load(args.dir / "x8.npy")
    result = {"label": args.label, "load": os.getloadavg()[0]}
    for b in (1, args.batch):
        feed = {input_name: np.ascontiguousarray(x8[:b])}
        ctx.run(feed)
        per_layer = defaultdict(list)
        for _ in range(args.rounds):
            for layer in ctx.profile(feed, 1, clock="thread_cpu"):
                per_layer[layer["name"]].append(layer["ms"])
        groups: dict[str, float] = defaultdict(float)
        for name, ms in per_layer.items():
            groups[names.get(name, name)] += statistics.median(ms)
        whole = []
        for _ in range(args.rounds):
            t0 = time.process_time()
            ctx.run(feed)
            whole.append((time.process_time() - t0) * 1e3)
        rows = {k: round(v, 4) for k, v in groups.items() if args.only is None or k in args.only}
        result[f"b{b}"] = {"layers": rows, "sum": round(sum(groups.values()), 3),
                           "whole": round(statistics.median(whole), 3)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
