"""BF16 channel-blocked regions against the NCHW BF16 layers, by layer kind
(issue 13 §4, RESULTS.md section 140): one process builds the BF16 engine
(``bf16=True``) of e2e_models.py's network twice, ``channel_blocked=False``
(NCHW bfloat16 tensors between BF16 convs) and ``True`` (the BF16
channel-blocked region, engine/bf16_blocked.h), and alternates their
thread-CPU profiles (``ExecutionContext.profile(clock="thread_cpu")``), ROUNDS
rounds of RUNS runs, the order swapped every round. Per kind (depthwise, 1x1,
stem / other convs, layout conversions, the rest) the median over rounds of
the summed per-layer medians, and the blocked / NCHW ratio per round; with
--layers, every conv. Outputs: the two engines' largest relative difference.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16nc_kinds.py \
           [--net mobilenet_v2] [--batch 1] [--rounds 5] [--runs 5] [--layers]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_layers_profile import exported  # noqa: E402


def kind(layer: dict, macs: dict) -> str:
    """The layer's kind; convs by their ONNX weights' shape (bf16_layers_profile.conv_macs)."""
    op = layer["op"]
    if op in ("Conv", "int8rt.ConvBf16x16c") and layer["name"] in macs:
        shape = macs[layer["name"]][1]
        if shape.startswith("1->"):
            return "depthwise"
        return "1x1" if " 1x1 " in shape else "stem / other conv"
    if "To" in op or "From" in op or "->" in layer["detail"]:
        return "layout conversion"
    return "rest"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mobilenet_v2")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--layers", action="store_true")
    args = ap.parse_args()
    path, macs = exported(args.net, args.batch)
    x = np.random.default_rng(3).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)
    ctxs, outs = {}, {}
    for label, blocked in (("NCHW", False), ("blocked", True)):
        with contextlib.redirect_stdout(io.StringIO()):
            e = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=blocked))
        ctxs[label] = e.create_execution_context()
        outs[label] = list(ctxs[label].run({"input": x}).values())[0]
        ctxs[label].profile({"input": x}, 1, clock="thread_cpu")
        if blocked:
            print("\n".join(line for line in e.report() if "blocked" in line))
    sums = {k: defaultdict(list) for k in ctxs}
    per_layer = {k: defaultdict(list) for k in ctxs}
    for r in range(args.rounds):
        order = list(ctxs) if r % 2 == 0 else list(ctxs)[::-1]
        for label in order:
            prof = ctxs[label].profile({"input": x}, args.runs, clock="thread_cpu")
            s = defaultdict(float)
            for layer in prof:
                s[kind(layer, macs)] += layer["ms"]
                s["all"] += layer["ms"]
                per_layer[label][layer["name"]].append(layer["ms"])
            for k, v in s.items():
                sums[label][k].append(v)
    print(machine_line())
    print(f"{args.net} batch {args.batch}, 1 thread, BF16 engine NCHW vs channel-blocked, thread-CPU ms "
          f"(summed per-layer medians; median over {args.rounds} alternating rounds of {args.runs} runs); "
          f"{load_line()}")
    print("| kind | NCHW ms | blocked ms | blocked / NCHW (median, range over rounds) |")
    print("|---|---|---|---|")
    for k in ("depthwise", "1x1", "stem / other conv", "layout conversion", "rest", "all"):
        a, b = sums["NCHW"].get(k, [0.0] * args.rounds), sums["blocked"].get(k, [0.0] * args.rounds)
        ratios = [bb / aa for aa, bb in zip(a, b) if aa > 0]
        rs = f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})" if ratios else "-"
        print(f"| {k} | {statistics.median(a):.3f} | {statistics.median(b):.3f} | {rs} |")
    if args.layers:
        print("| conv | shape | NCHW ms | blocked ms | blocked / NCHW |")
        print("|---|---|---|---|---|")
        for name, (mac, shape) in macs.items():
            a, b = per_layer["NCHW"].get(name), per_layer["blocked"].get(name)
            if a and b:
                ma, mb = statistics.median(a), statistics.median(b)
                print(f"| {name} | {shape} | {ma:.3f} | {mb:.3f} | {mb / ma:.2f} |")
    a, b = outs["NCHW"], outs["blocked"]
    print(f"outputs: blocked vs NCHW max |diff| / max |NCHW| = {np.abs(a - b).max() / np.abs(a).max():.3e}")


if __name__ == "__main__":
    main()
