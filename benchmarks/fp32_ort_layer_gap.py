"""Where int8rt FP32 loses to ONNX Runtime FP32, layer by layer: int8rt's
per-layer profile (ExecutionContext.profile, clock="thread_cpu", the minimum
over 3 x 5 runs) against ONNX Runtime's own node profile (1 thread, spinning
off, enable_profiling; the minimum over 15 runs), one thread each. ONNX
Runtime names its fused NCHWc convs after their output tensors (the Relu's
or Clip's output when it fused one); each is matched to the ONNX Conv / Gemm /
MatMul node that computes it by walking the graph back through its first
inputs, which is the node name int8rt's layer keeps. Prints the matched
totals, both whole-network sums, and the layers with the largest gap
(int8rt ms - ORT ms). ORT's Reorder nodes (NCHW <-> NCHWc) match no layer
and count only in its whole-network sum. Inputs: seeded Gaussian images
[batch, 3, size, size] on the first input.

Usage: PYTHONPATH=python python3 benchmarks/fp32_ort_layer_gap.py MODEL.onnx
       [--batch 1] [--size 224] [--top 20] [--blocked]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

import int8rt


def int8rt_layers(model: str, feeds: dict, blocked: bool = False) -> tuple:
    """(layer name -> min thread-CPU ms, layer name -> kernel detail); with
    `blocked`, the engine with channel-blocked regions (RESULTS.md section 129)."""
    config = int8rt.BuilderConfig(precision="fp32", channel_blocked=blocked)
    ctx = int8rt.build_engine(model, config).create_execution_context()
    best, detail = {}, {}
    for _ in range(3):
        for r in ctx.profile(feeds, runs=5, clock="thread_cpu"):
            best[r["name"]] = min(best.get(r["name"], float("inf")), r["ms"])
            detail[r["name"]] = r["detail"]
    return best, detail


def ort_nodes(model: str, feeds: dict) -> dict:
    """ORT node name -> min kernel ms over 15 runs, 1 thread."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    for _ in range(15):
        sess.run(None, feeds)
    dur = collections.defaultdict(list)
    with open(sess.end_profiling()) as f:
        for e in json.load(f):
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                dur[e["name"][:-len("_kernel_time")]].append(e["dur"] / 1e3)
    return {n: float(np.min(v)) for n, v in dur.items()}


def onnx_node_of(graph: onnx.GraphProto, ort_name: str) -> str:
    """The Conv / Gemm / MatMul node behind an ORT node name (its output
    tensor, with "_nchwc" for the NCHWc convs), or the name itself."""
    producer = {o: node for node in graph.node for o in node.output}
    node = producer.get(ort_name[:-len("_nchwc")] if ort_name.endswith("_nchwc") else ort_name)
    while node is not None and node.op_type not in ("Conv", "Gemm", "MatMul") and node.input:
        node = producer.get(node.input[0])
    return node.name if node is not None else ort_name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--blocked", action="store_true", help="int8rt's engine with channel-blocked regions")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    graph = onnx.load(args.model, load_external_data=False).graph
    rng = np.random.default_rng(0)
    feeds = {graph.input[0].name: rng.standard_normal((args.batch, 3, args.size, args.size), dtype=np.float32)}
    ours, detail = int8rt_layers(args.model, feeds, args.blocked)
    theirs_raw = ort_nodes(args.model, feeds)
    theirs = collections.Counter()
    for name, ms in theirs_raw.items():
        theirs[onnx_node_of(graph, name)] += ms
    rows = sorted(((ms - theirs[n], ms, theirs[n], n) for n, ms in ours.items() if n in theirs), reverse=True)
    print(f"{os.path.basename(args.model)} b{args.batch}: matched layers int8rt {sum(r[1] for r in rows):.2f} ms, "
          f"ORT {sum(r[2] for r in rows):.2f} ms; whole network int8rt {sum(ours.values()):.2f} ms, "
          f"ORT {sum(theirs_raw.values()):.2f} ms; load {os.getloadavg()[0]:.1f}")
    print("| gap ms | int8rt ms | ORT ms | ratio | layer | int8rt kernel |\n|---:|---:|---:|---:|---|---|")
    for gap, a, o, n in rows[:args.top]:
        print(f"| {gap:+.3f} | {a:.3f} | {o:.3f} | {a / o:.2f} | {n} | {detail[n]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
