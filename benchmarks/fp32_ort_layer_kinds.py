"""Where int8rt FP32 loses to ONNX Runtime FP32, summed by kind of layer:
the per-layer profiles of fp32_ort_layer_gap.py (int8rt thread-CPU minimum
over 3 x 5 runs; ORT's node profile, minimum over 15 runs; 1 thread each),
each layer put in a kind by the ONNX node it keeps the name of: the stem
conv, depthwise KxK at its output size, pointwise 1x1 convs (expand /
project / head), the squeeze-and-excitation block (GlobalAveragePool, the
two 1x1 convs on a 1x1 map, their SiLU, the gate Sigmoid and the
channel-scale Mul), SiLU (Sigmoid, Mul) not fused into a conv, residual Add,
classifier. A fused layer counts under the kind of the node it is named
after (a conv that absorbed its SiLU counts as that conv on both sides).
ORT fuses each x * Sigmoid(x) into one QuickGelu node named after the Mul;
it is counted with the conv whose output it reads, as int8rt fuses it into
that conv's epilogue. ORT nodes that match no ONNX node (its NCHW <-> NCHWc
reorders) are one kind of their own. Prints one row per kind: int8rt ms, ORT ms, gap, layers.

Usage: PYTHONPATH=python python3 benchmarks/fp32_ort_layer_kinds.py MODEL.onnx [--blocked]
       [--batch 1] [--size 224]
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

import int8rt  # noqa: E402

QUICKGELU = "/QuickGeluFusion/"  # ORT's suffix on the node that fuses a Mul(x, Sigmoid(x))


def node_kinds(model: onnx.ModelProto) -> dict:
    """ONNX node name -> kind of layer (see the module docstring)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(g.value_info) + list(g.input) + list(g.output)}
    inits = {t.name: t for t in g.initializer}
    spatial1 = lambda name: len(dims.get(name, [])) == 4 and dims[name][2:] == [1, 1]  # noqa: E731
    kinds = {}
    for n in g.node:
        out = n.output[0]
        if n.op_type == "Conv":
            w = inits[n.input[1]].dims
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            hw = "x".join(str(d) for d in dims.get(out, [0, 0, 0, 0])[2:])
            if n.input[0] in {i.name for i in g.input}:
                kinds[n.name] = f"stem conv {w[2]}x{w[3]} -> {hw}"
            elif spatial1(out):
                kinds[n.name] = "SE block"
            elif group > 1:
                kinds[n.name] = f"depthwise {w[2]}x{w[3]} -> {hw}"
            else:
                role = "expand" if w[0] > w[1] else "project" if w[0] < w[1] else "same"
                kinds[n.name] = f"pointwise {role} -> {hw}"
        elif n.op_type == "GlobalAveragePool":
            kinds[n.name] = "SE block"
        elif n.op_type in ("Sigmoid", "Mul"):
            se = any(spatial1(i) for i in n.input) or spatial1(out)
            kinds[n.name] = "SE block" if se else f"SiLU {n.op_type} (unfused)"
        elif n.op_type == "Add":
            kinds[n.name] = "residual Add"
        else:
            kinds[n.name] = f"classifier ({n.op_type})" if n.op_type in ("Gemm", "Flatten", "MatMul") \
                else n.op_type
    return kinds


def by_onnx_node(graph: onnx.GraphProto, theirs: dict) -> collections.Counter:
    """ORT node ms (ort_nodes) summed by the ONNX node each computes (its
    Conv / Gemm / MatMul, onnx_node_of); a QuickGelu, ORT's fused x *
    Sigmoid(x), counts with the conv it follows. Unmatched names stay."""
    mul_out = {n.name: n.output[0] for n in graph.node}
    out = collections.Counter()
    for name, ms in theirs.items():
        if name.endswith(QUICKGELU):
            name = mul_out[name[:-len(QUICKGELU)]]
        out[onnx_node_of(graph, name)] += ms
    return out


def image_model_args(doc: str, extra=None) -> tuple:
    """(args, model, feeds) of a MODEL.onnx [--batch] [--size] command line
    (plus extra(ap)'s options); one int8rt thread; seeded Gaussian images
    [batch, 3, size, size] on the first input."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    if extra:
        extra(ap)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    model = onnx.load(args.model)
    rng = np.random.default_rng(0)
    feeds = {model.graph.input[0].name: rng.standard_normal((args.batch, 3, args.size, args.size), dtype=np.float32)}
    return args, model, feeds


def main() -> int:
    args, model, feeds = image_model_args(__doc__, lambda ap: ap.add_argument(
        "--blocked", action="store_true", help="int8rt's engine with channel-blocked regions (section 129)"))
    graph = model.graph
    kinds = node_kinds(model)
    ours, _ = int8rt_layers(args.model, feeds, args.blocked)
    theirs = ort_nodes(args.model, feeds)
    a, o, cnt = collections.Counter(), collections.Counter(), collections.Counter()
    for name, ms in ours.items():
        k = kinds.get(name, f"int8rt-only layer {name}")
        a[k] += ms
        cnt[k] += 1
    for name, ms in by_onnx_node(graph, theirs).items():
        o[kinds.get(name, "ORT-only (NCHWc reorders)")] += ms
    print_kinds(f"{os.path.basename(args.model)} b{args.batch}", a, o, cnt, "")
    return 0


def print_kinds(title: str, a: collections.Counter, o: collections.Counter, cnt: collections.Counter,
                note: str) -> None:
    """The table: one row per kind (int8rt ms a[k] over cnt[k] layers, ORT ms
    o[k]), largest gap first, under a line with both sums, `note` and the load."""
    rows = sorted(((a[k] - o[k], k) for k in set(a) | set(o)), reverse=True)
    print(f"{title}: int8rt {sum(a.values()):.3f} ms, ORT {sum(o.values()):.3f} ms;{note} "
          f"load {os.getloadavg()[0]:.1f}")
    print("| kind | int8rt layers | int8rt ms | ORT ms | gap ms | ratio |\n|---|---:|---:|---:|---:|---:|")
    for gap, k in rows:
        ratio = f"{a[k] / o[k]:.2f}" if o[k] > 0 else "-"
        print(f"| {k} | {cnt[k]} | {a[k]:.3f} | {o[k]:.3f} | {gap:+.3f} | {ratio} |")


if __name__ == "__main__":
    sys.exit(main())
