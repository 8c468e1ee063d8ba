"""int8rt FP32 beside ONNX Runtime FP32 layer by layer, in run order (issue 14 §3).

For one network of fp32_peer_bench.py (resnet50, mobilenet_v2, ppocr_det,
ppocr_rec, convnext, bert) and one batch size: each int8rt layer's time
(ExecutionContext.profile) and each ORT node's kernel time
(SessionOptions.enable_profiling), each the minimum over RUNS runs (a
shared machine's other jobs only ever add time), listed side by side in run
order with the difference; ORT's layout reorders are summed apart. The two
graphs are fused alike for convolutional networks (Conv + BN + activation,
residual adds), so row i of one is row i of the other there; where the
fusions differ the rows drift apart, and the totals still compare. One
thread. Run it from a scratch directory (ORT writes its profile JSON there).

usage: PYTHONPATH=python python3 benchmarks/fp32_layer_seq.py resnet50 [--batch 1] [--runs 9]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import machine_line  # noqa: E402
from fp32_peer_bench import network, ort_session  # noqa: E402

REORDERS = ("ReorderInput", "ReorderOutput")


def int8rt_layers(ctx: object, feeds: Dict[str, np.ndarray], runs: int) -> List[Tuple[str, float]]:
    """(kernel detail, minimum ms over `runs` runs) per int8rt layer, in run order."""
    times: Dict[str, List[float]] = defaultdict(list)
    detail: Dict[str, str] = {}
    order: List[str] = []
    for _ in range(runs):
        for layer in ctx.profile(feeds, 1):
            if layer["name"] not in detail:
                order.append(layer["name"])
            detail[layer["name"]] = layer["detail"]
            times[layer["name"]].append(layer["ms"])
    return [(detail[n], float(np.min(times[n]))) for n in order]


def ort_nodes(path: Path, feeds: Dict[str, np.ndarray], runs: int) -> List[Tuple[str, float]]:
    """(op type, minimum ms over `runs` runs after two warm-up runs) per ORT node, in run order."""
    sess = ort_session(path, profile=True)
    for _ in range(runs + 2):
        sess.run(None, feeds)
    events = json.loads(Path(sess.end_profiling()).read_text())
    times: Dict[str, List[float]] = defaultdict(list)
    op: Dict[str, str] = {}
    order: List[str] = []
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            name = e["name"][:-len("_kernel_time")]
            if name not in op:
                order.append(name)
            op[name] = e["args"]["op_name"]
            times[name].append(e["dur"] / 1e3)
    return [(op[n], float(np.min(times[n][2:] or times[n]))) for n in order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("net")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    os.chdir(tmp)
    print(machine_line())
    path, inputs = network(args.net, tmp)
    feeds = inputs(args.batch)
    ctx = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    ours = int8rt_layers(ctx, feeds, args.runs)
    nodes = ort_nodes(path, feeds, args.runs)
    theirs = [n for n in nodes if n[0] not in REORDERS]
    print(f"{args.net} batch {args.batch}, minimum over {args.runs} runs, ms")
    print(f"{'#':>3} {'int8rt layer':34s} {'ms':>7} | {'ORT node':18s} {'ms':>7}  diff")
    for i in range(max(len(ours), len(theirs))):
        a = ours[i] if i < len(ours) else ("", 0.0)
        b = theirs[i] if i < len(theirs) else ("", 0.0)
        print(f"{i:3d} {a[0][:34]:34s} {a[1]:7.3f} | {b[0][:18]:18s} {b[1]:7.3f}  {a[1] - b[1]:+.3f}")
    reorder = sum(t for o, t in nodes if o in REORDERS)
    print(f"total int8rt {sum(t for _, t in ours):.2f} ms, ORT {sum(t for _, t in theirs):.2f} ms "
          f"(+ {reorder:.3f} ms of ORT layout reorders)")


if __name__ == "__main__":
    main()
