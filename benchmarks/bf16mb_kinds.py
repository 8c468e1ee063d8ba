"""MobileNet-style BF16 engines against OpenVINO bf16, every layer by the
kinds of issue 13 §4 (RESULTS.md section 156): the stem, depthwise 3x3 at
stride 1 / 2, the expand 1x1 convs, the project 1x1 convs (with and without
the residual Add), the head 1x1 (the last conv), GAP + classifier, layout
conversions (int8rt's ToBf16x16c / FromBf16x16c, OpenVINO's Reorders) and
the rest.

int8rt's side: the FP32 + bf16 engine (``bf16=True``; channel-blocked
regions as users get them), ``ExecutionContext.profile(clock="thread_cpu")``.
OpenVINO's: ``INFERENCE_PRECISION_HINT=bf16`` with PERF_COUNT (its running
means turned into per-run times, openvino_engines.run_times: a wall time,
as RESULTS.md section 112 read them). The two profilers alternate, ROUNDS
rounds of RUNS runs (OpenVINO compiled afresh per round), per layer the
median over rounds, 1 thread. Convs are paired by the ONNX node name
(OpenVINO's "<name>/WithoutBiases"); the kind of a conv comes from the ONNX
graph (group, stride, channels, whether an Add reads its output).

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16mb_kinds.py \
           [--net mobilenet_v2] [--batch 1] [--rounds 3] [--runs 5] [--convs]
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import load_line, machine_line  # noqa: E402
from bf16_layers_profile import exported  # noqa: E402
from bf16_ov_convs import profiled_pair  # noqa: E402


def conv_kinds(path: str) -> dict[str, str]:
    """ONNX Conv node name -> the issue's kind of conv."""
    import onnx

    m = onnx.load(path)
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    readers: dict[str, list[str]] = defaultdict(list)
    for n in m.graph.node:
        for i in n.input:
            readers[i].append(n.op_type)
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    out = {}
    for k, n in enumerate(convs):
        a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
        w = inits.get(n.input[1], [0, 0, 0, 0])
        group, stride = int(a.get("group", 1)), int(list(a.get("strides", [1]))[0])
        if k == 0:
            kind = "stem"
        elif group > 1:
            kind = f"depthwise {w[2]}x{w[3]} s{stride}"
        elif k == len(convs) - 1:
            kind = "head 1x1"
        elif w[0] > w[1]:
            kind = "expand 1x1"
        else:
            # the residual Add fused into the conv reads its output alone (a
            # block's output read by the next block's Add has other readers)
            r = readers[n.output[0]]
            kind = "project 1x1 + Add" if r == ["Add"] else "project 1x1"
        out[n.name] = kind
    return out


def kind_ours(layer: dict, convs: dict[str, str]) -> str:
    if layer["name"] in convs:
        return convs[layer["name"]]
    op = layer["op"].split(".")[-1]
    if op in ("ToBf16x16c", "FromBf16x16c") or layer["precision"] == "convert":
        return "layout / precision conversions"
    if op.startswith("GlobalAveragePool") or op in ("Gemm", "MatMul", "Flatten", "Reshape"):
        return "GAP + classifier"
    return f"other ({op})"


def kind_ov(node: dict, convs: dict[str, str]) -> str:
    base = node["name"].split("/WithoutBiases")[0]
    if base in convs:
        return convs[base]
    t = node["type"]
    if t in ("Reorder", "Convert"):
        return "layout / precision conversions"
    if t in ("Pooling", "ReduceMean", "FullyConnected", "MatMul", "Reshape", "Flatten"):
        return "GAP + classifier"
    return f"other ({t})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mobilenet_v2")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--convs", action="store_true", help="also print every layer, paired")
    args = ap.parse_args()
    path, _ = exported(args.net, args.batch)
    convs = conv_kinds(path)
    ours, ov = profiled_pair(path, args.batch, args.rounds, args.runs)
    print(machine_line())
    print(f"{args.net} batch {args.batch}, 1 thread: int8rt bf16 (thread CPU) against OpenVINO bf16 (PERF_COUNT, "
          f"wall), medians of {args.rounds} alternating rounds of {args.runs} runs; {load_line()}")
    sums: dict[str, list] = defaultdict(lambda: [0.0, 0, 0.0, 0])
    for la in ours:
        s = sums[kind_ours(la, convs)]
        s[0] += la["ms"]
        s[1] += 1
    for nd in ov:
        s = sums[kind_ov(nd, convs)]
        s[2] += nd["ms"]
        s[3] += 1
    print("| kind | int8rt ms (layers) | OV ms (nodes) | int8rt - OV ms | int8rt / OV |")
    print("|---|---|---|---|---|")
    for k, (a, na, b, nb) in sorted(sums.items(), key=lambda kv: kv[1][2] - kv[1][0]):
        ratio = f"{a / b:.2f}" if b > 0 else "-"
        print(f"| {k} | {a:.3f} ({na}) | {b:.3f} ({nb}) | {a - b:+.3f} | {ratio} |")
    ta, tb = sum(v[0] for v in sums.values()), sum(v[2] for v in sums.values())
    print(f"| **all layers** | {ta:.3f} | {tb:.3f} | {ta - tb:+.3f} | {ta / tb:.2f} |")
    if args.convs:
        ovn = {n["name"].split("/WithoutBiases")[0]: n for n in ov}
        print("| layer | kind | int8rt ms | OV ms | int8rt / OV | OV kernel |")
        print("|---|---|---|---|---|---|")
        for la in ours:
            b = ovn.get(la["name"])
            if b is None:
                print(f"| {la['name']} | {kind_ours(la, convs)} | {la['ms']:.3f} | - | - | - |")
            else:
                print(f"| {la['name']} | {kind_ours(la, convs)} | {la['ms']:.3f} | {b['ms']:.3f} | "
                      f"{la['ms'] / b['ms']:.2f} | {b['exec']} |")
        for name, b in ovn.items():
            if name not in {la["name"] for la in ours}:
                print(f"| {name} (OV only) | {kind_ov(b, convs)} | - | {b['ms']:.3f} | - | {b['exec']} |")


if __name__ == "__main__":
    main()
