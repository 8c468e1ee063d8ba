"""Where int8rt FP32 loses to ONNX Runtime FP32 on a ResNet, summed by kind
of layer: the per-layer profiles of fp32_ort_layer_gap.py (int8rt's
ExecutionContext.profile, thread-CPU minimum over 3 x 5 runs; ORT's node
profile, SessionOptions.enable_profiling, minimum over 15 runs; 1 thread
each; with --passes N the two profiles alternate N times and each layer
keeps its minimum over all passes, so a change of load between the two
moves both sides), each layer put in a kind by the ONNX node it is named after: the stem
conv, 1x1 convs by output plane (a stage's first reduction counted at its
output size), strided 1x1 downsamples, 3x3 convs by output plane (strided
ones apart), MaxPool, residual Add / Relu left unfused, the head
(GlobalAveragePool, Flatten, Gemm). A fused layer counts under the conv it
is named after on both sides (int8rt fuses the residual Add and Relu into
the conv before them; ORT's NCHWc conv does too, named after the Relu's
output). ORT nodes that match no ONNX node (its NCHW <-> NCHWc reorders)
are a kind of their own. Prints one row per kind: layers, int8rt ms, ORT
ms, gap, ratio.

Usage: PYTHONPATH=python python3 benchmarks/r50f32_layer_kinds.py MODEL.onnx
       [--batch 1] [--size 224] [--passes 1]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp32_ort_layer_gap import int8rt_layers, onnx_node_of, ort_nodes  # noqa: E402
from fp32_ort_layer_kinds import print_kinds  # noqa: E402

import int8rt  # noqa: E402


def attr(node: onnx.NodeProto, name: str, default):
    return next((list(a.ints) if a.ints else a.i for a in node.attribute if a.name == name), default)


def node_kinds(model: onnx.ModelProto) -> dict:
    """ONNX node name -> kind of layer (see the module docstring)."""
    g = onnx.shape_inference.infer_shapes(model).graph
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(g.value_info) + list(g.input) + list(g.output)}
    inits = {t.name: t for t in g.initializer}
    kinds = {}
    for n in g.node:
        if n.op_type == "Conv":
            w = inits[n.input[1]].dims
            hw = dims.get(n.output[0], [0, 0, 0, 0])[2] or "?"
            stride = attr(n, "strides", [1, 1])[0]
            if n.input[0] in {i.name for i in g.input}:
                kinds[n.name] = f"stem {w[2]}x{w[3]} /{stride}"
            elif w[2] == 1 and stride > 1:
                kinds[n.name] = f"1x1 /{stride} downsample -> {hw}"
            elif w[2] == 1:
                kinds[n.name] = f"1x1 @{hw}"
            else:
                kinds[n.name] = f"{w[2]}x{w[3]} {'/' + str(stride) + ' ' if stride > 1 else ''}@{hw}"
        elif n.op_type in ("GlobalAveragePool", "Flatten", "Gemm", "MatMul"):
            kinds[n.name] = "head (GAP, Flatten, Gemm)"
        elif n.op_type in ("Add", "Relu"):
            kinds[n.name] = "residual Add / Relu (unfused)"
        else:
            kinds[n.name] = n.op_type
    return kinds


def ort_kind(graph: onnx.GraphProto, kinds: dict, name: str) -> str:
    """The kind of an ORT node: itself where it keeps an ONNX node's name
    (MaxPool, the head), else the conv it computes (onnx_node_of)."""
    if name in kinds and kinds[name] != "residual Add / Relu (unfused)":
        return kinds[name]
    producer = {o: n for n in graph.node for o in n.output}
    base = name[:-len("_nchwc")] if name.endswith("_nchwc") else name
    if base in producer and producer[base].op_type == "MaxPool":
        return "MaxPool"
    return kinds.get(onnx_node_of(graph, name), "ORT-only (NCHWc reorders)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--passes", type=int, default=1)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    model = onnx.load(args.model, load_external_data=False)
    graph = model.graph
    kinds = node_kinds(model)
    rng = np.random.default_rng(0)
    feeds = {graph.input[0].name: rng.standard_normal((args.batch, 3, args.size, args.size), dtype=np.float32)}
    ours, theirs = {}, {}
    for _ in range(args.passes):  # alternated: each layer's minimum over the passes
        for n, ms in int8rt_layers(args.model, feeds)[0].items():
            ours[n] = min(ours.get(n, float("inf")), ms)
        for n, ms in ort_nodes(args.model, feeds).items():
            theirs[n] = min(theirs.get(n, float("inf")), ms)
    a, o, cnt = collections.Counter(), collections.Counter(), collections.Counter()
    for name, ms in ours.items():
        k = kinds.get(name, f"int8rt-only layer {name}")
        a[k] += ms
        cnt[k] += 1
    for name, ms in theirs.items():
        o[ort_kind(graph, kinds, name)] += ms
    print_kinds(f"{os.path.basename(args.model)} b{args.batch}", a, o, cnt, f" {args.passes} pass(es);")
    return 0


if __name__ == "__main__":
    sys.exit(main())
