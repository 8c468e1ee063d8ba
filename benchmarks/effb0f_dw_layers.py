"""Every depthwise conv of a network, int8rt FP32 against ONNX Runtime FP32,
one row per layer: the per-layer profiles of fp32_ort_layer_gap.py (int8rt:
ExecutionContext.profile, thread-CPU, minimum over 3 x 5 runs; ORT: its node
profile, minimum over 15 runs; 1 thread each), and as in
fp32_ort_layer_kinds.py ORT's fused x * Sigmoid(x) (QuickGelu) or Clip is
counted with the conv it follows (int8rt fuses it into that conv). Repeats
the pair of profiles --passes times (int8rt, ORT, int8rt, ORT, ...) and
prints each layer's median over the passes, then the sum by kernel size and
output size.

Usage: PYTHONPATH=python python3 benchmarks/effb0f_dw_layers.py MODEL.onnx
       [--batch 1] [--size 224] [--passes 3]
"""
from __future__ import annotations

import collections
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp32_ort_layer_gap import int8rt_layers, ort_nodes  # noqa: E402
from fp32_ort_layer_kinds import by_onnx_node, image_model_args  # noqa: E402



def depthwise_layers(model: onnx.ModelProto) -> dict:
    """Depthwise Conv node name -> 'C kxk sS HxW->OHxOW [+act]'."""
    g = onnx.shape_inference.infer_shapes(model).graph
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(g.value_info) + list(g.input) + list(g.output)}
    inits = {t.name: t for t in g.initializer}
    readers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            readers[i].append(n)
    out = {}
    for n in g.node:
        if n.op_type != "Conv":
            continue
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        w = inits[n.input[1]].dims
        if group == 1 or group != w[0]:
            continue
        stride = next((a.ints[0] for a in n.attribute if a.name == "strides"), 1)
        i, o = dims.get(n.input[0], [0] * 4), dims.get(n.output[0], [0] * 4)
        act = "+".join(sorted({r.op_type for r in readers[n.output[0]]}))
        out[n.name] = f"{w[0]} {w[2]}x{w[3]} s{stride} {i[2]}->{o[2]} {act}"
    return out


def main() -> int:
    args, model, feeds = image_model_args(__doc__, lambda ap: ap.add_argument("--passes", type=int, default=3))
    graph = model.graph
    layers = depthwise_layers(model)
    ours, theirs = collections.defaultdict(list), collections.defaultdict(list)
    detail = {}
    loads = []
    for _ in range(args.passes):
        a, d = int8rt_layers(args.model, feeds)
        detail.update(d)
        o = by_onnx_node(graph, ort_nodes(args.model, feeds))
        for n in layers:
            ours[n].append(a.get(n, float("nan")))
            theirs[n].append(o.get(n, float("nan")))
        loads.append(os.getloadavg()[0])
    print(f"{os.path.basename(args.model)} b{args.batch}, {args.passes} passes, load {min(loads):.1f}-{max(loads):.1f}")
    print("| layer (C k s in->out act) | int8rt ms | ORT ms | ratio | int8rt kernel |\n|---|---:|---:|---:|---|")
    kinds = collections.defaultdict(lambda: [0.0, 0.0])
    for n, desc in layers.items():
        a, o = float(np.median(ours[n])), float(np.median(theirs[n]))
        print(f"| {desc} | {a:.3f} | {o:.3f} | {a / o:.2f} | {detail.get(n, '')} |")
        parts = desc.split()
        k = f"{parts[1]} s{parts[2][1:]} ->{parts[3].split('->')[1]}"
        kinds[k][0] += a
        kinds[k][1] += o
    print("\n| kind | int8rt ms | ORT ms | ratio |\n|---|---:|---:|---:|")
    for k, (a, o) in kinds.items():
        print(f"| {k} | {a:.3f} | {o:.3f} | {a / o:.2f} |")
    ta, to = sum(v[0] for v in kinds.values()), sum(v[1] for v in kinds.values())
    print(f"| all depthwise | {ta:.3f} | {to:.3f} | {ta / to:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
