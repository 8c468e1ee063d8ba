"""ResNet-50 INT8's 1x1 convs in the engine against OpenVINO INT8's, layer by
layer, 1 thread (RESULTS.md section 192): e2e_amx_ov_kinds.py's alternating
profiles (int8rt ExecutionContext.profile on the thread CPU clock, OpenVINO
PERF_COUNT wall, per layer the minimum over rounds), kept per layer for the
1x1 convs and grouped by shape (C/g -> K/g; 256 -> 512, 512 -> 1024 and
1024 -> 2048 are the strided projections, the only 1x1s of those shapes),
instead of summed per class.

Usage: PYTHONPATH=python python benchmarks/gemm13_r50_1x1_vs_ov.py --models-dir DIR [--batch 8] [--rounds 4]
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e_bench as B  # noqa: E402
import e2e_feeds as F  # noqa: E402
import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from e2e_amx_ov_kinds import class_of  # noqa: E402
from e2e_amx_rule_projection import conv_shapes  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    print(machine_line())
    s = B.subject("resnet50", 224, args.models_dir)
    int8rt.set_num_threads(2)
    B.build(s, args.models_dir, ["int8rt int8", "OV int8"], "auto")
    int8rt.set_num_threads(1)
    feed = s.feed(args.batch)
    ctx = s.engines["int8rt int8"].create_execution_context()
    model = F.ov_static(s.ov_models["int8"], feed)
    ours_all, ov_all = [], []
    for _ in range(args.rounds):
        ours_all.append(ctx.profile(feed, 2, clock="thread_cpu"))
        ov_all.append(O.profile(lambda: O.compile_model(model, 1, None, perf_count=True), feed[s.input_name], 2))
    ours, ov = P.merge_profiles(ours_all, np.min), P.merge_profiles(ov_all, np.min)
    shapes = {n: v for n, v in conv_shapes(s.onnx_path).items() if v[2] == 1}
    label = {n: f"1x1 {cg}->{kg}" for n, (kg, cg, _, _) in shapes.items()}
    acc = defaultdict(lambda: [0.0, 0, 0.0, 0])
    for layer in ours:
        if P.kind_int8rt(layer) == "conv":
            k = class_of(layer["name"], "", label)
            if k:
                acc[k][0] += layer["ms"]
                acc[k][1] += 1
    for node in ov:
        if P.kind_openvino(node) == "conv":
            k = class_of(node["name"], "", label)
            if k:
                acc[k][2] += node["ms"]
                acc[k][3] += 1
    print(f"\nresnet50 batch {args.batch}, 1 thread ({load_line()}): 1x1 convs per shape, per layer the minimum over "
          f"{args.rounds} alternating rounds of 2 runs, summed over the layers of a shape")
    print("| 1x1 shape (C -> K) | layers | int8rt ms | OpenVINO ms | OV ÷ int8rt |")
    print("|---|---:|---:|---:|---:|")
    for k, (a, na, o, no) in sorted(acc.items(), key=lambda kv: kv[1][2] / max(kv[1][0], 1e-9)):
        print(f"| {k} | {na} / {no} | {a:.3f} | {o:.3f} | {o / a:.2f} |")
    ta, to = sum(v[0] for v in acc.values()), sum(v[2] for v in acc.values())
    print(f"| **all 1x1** | {sum(v[1] for v in acc.values())} | {ta:.3f} | {to:.3f} | {to / ta:.2f} |")
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
