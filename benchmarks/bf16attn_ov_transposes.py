"""What OpenVINO's bf16 CPU plugin does with a BERT-class encoder's head
Transposes (RESULTS.md section 220): compiles e2e_feeds.py's encoder at one
batch (1 thread, INFERENCE_PRECISION_HINT=bf16, PERF_COUNT) and lists, from
the runtime (exec) graph, every node whose type is Transpose or Reorder or
whose original layers include a Transpose, with its kernel (execType), its
output precision and layout and the original ONNX layers it stands for,
then counts them per encoder layer; plus the median real time per type over
`--runs` inferences. Answers whether the heads' Transposes run as nodes or
are folded into the MatMul's strides / layouts.

Usage: PYTHONPATH=<tree>/python python3 benchmarks/bf16attn_ov_transposes.py [--model bert_base] [--batch 8]
       [--runs 3] [--models-dir /tmp/e2eamx/models] [--layer 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import load_line, machine_line  # noqa: E402
from e2e_feeds import encoder, ov_static  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def rt(info, key: str) -> str:
    """An exec-graph node's runtime info field as text ("" when absent)."""
    if key not in info:
        return ""
    v = info[key]
    return str(getattr(v, "value", v))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bert_base")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--layer", type=int, default=1, help="the encoder layer whose nodes are listed")
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    args = ap.parse_args()
    print(machine_line())
    path, _, feed_of = encoder(args.model, args.models_dir)
    feed = feed_of(args.batch)
    compiled = O.compile_model(ov_static(O.load(path), feed), 1, "bf16", perf_count=True)
    graph = compiled.get_runtime_model()
    tag = f"layer.{args.layer}/"
    counts: dict[str, int] = defaultdict(int)
    print(f"\n{args.model} b{args.batch}, OpenVINO bf16 exec graph, encoder {tag} nodes that move data:")
    for op in graph.get_ordered_ops():
        info = op.get_rt_info()
        typ = rt(info, "layerType") or op.get_type_name()
        orig = rt(info, "originalLayersNames")
        if typ not in ("Transpose", "Reorder") and "Transpose" not in orig:
            continue
        counts[typ] += 1
        if tag in orig or tag in op.get_friendly_name():
            prec, layout, kernel = rt(info, "outputPrecisions"), rt(info, "outputLayouts"), rt(info, "primitiveType")
            shape = op.get_output_partial_shape(0) if op.get_output_size() else ""
            short = ",".join(o.split("/")[-1] for o in orig.split(","))
            print(f"  {typ:12s} {kernel:22s} {prec:8s} {layout:8s} {str(shape):22s} <- {short}")
    print("whole network, nodes by type:", dict(counts))
    req = compiled.create_infer_request()
    req.infer(feed)
    per: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.runs):
        req.infer(feed)
        one: dict[str, float] = defaultdict(float)
        for p in req.profiling_info:
            if p.status.name == "EXECUTED" and p.node_type in ("Transpose", "Reorder", "MatMul", "Softmax", "MVN"):
                one[f"{p.node_type} [{p.exec_type}]"] += p.real_time.total_seconds() * 1e3
        for k, v in one.items():
            per[k].append(v)
    print(f"real ms per inference, medians of {args.runs} ({load_line()}):")
    for k, v in sorted(per.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {k}: {statistics.median(v):.2f}")


if __name__ == "__main__":
    main()
