"""int8rt FP32 against ONNX Runtime FP32 per ONNX op kind, on e2e_bench.py's
subjects (the nine networks of issue 14, the encoders' two-input feeds
included), 1 thread each: int8rt's per-layer profile
(ExecutionContext.profile, clock="thread_cpu") and ORT's node profile
(SessionOptions.enable_profiling, spinning off), each the per-layer minimum
over --runs runs, summed per op type. ORT's fused op types (FusedConv,
QuickGelu, Attention, SkipLayerNormalization, BiasGelu, FusedMatMul, ...)
and int8rt's fused layers (a conv that absorbed its activation is a Conv)
are mapped onto common kinds (``KIND``) so both columns read alike; the
op types inside each kind are printed beside it. The two engines
alternate (round by round), so load drifts hit both. Also prints int8rt's
largest layers (name, kernel, ms) so the worst one can be found.

Usage: PYTHONPATH=python python benchmarks/f32amx_kinds.py --models bert_base minilm
       [--batches 1 8] [--runs 10] [--rounds 3] [--top 12] [--models-dir /tmp/e2eamx/models]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_subjects import subject  # noqa: E402

import int8rt  # noqa: E402

# op type (either engine) -> kind
KIND = {
    "Conv": "conv", "FusedConv": "conv", "QConv": "conv", "ConvTranspose": "conv",
    "MatMul": "matmul/gemm", "Gemm": "matmul/gemm", "FusedMatMul": "matmul/gemm", "FusedGemm": "matmul/gemm",
    "Attention": "attention", "MultiHeadAttention": "attention",
    "Softmax": "softmax",
    "LayerNormalization": "layernorm", "SkipLayerNormalization": "layernorm",
    "EmbedLayerNormalization": "embedding+layernorm", "Gather": "gather",
    "Gelu": "gelu", "BiasGelu": "gelu", "FastGelu": "gelu", "Erf": "gelu",
    "Sigmoid": "sigmoid/swish/hardswish", "QuickGelu": "sigmoid/swish/hardswish", "HardSwish": "sigmoid/swish/hardswish",
    "HardSigmoid": "sigmoid/swish/hardswish",
    "Add": "binary", "Mul": "binary", "Sub": "binary", "Div": "binary",
    "GlobalAveragePool": "pool/reduce", "MaxPool": "pool/reduce", "AveragePool": "pool/reduce",
    "ReduceMean": "pool/reduce", "ReorderInput": "reorder", "ReorderOutput": "reorder",
    "Transpose": "data movement", "Reshape": "data movement", "Concat": "data movement", "Resize": "data movement",
}


def kind(op: str) -> str:
    return KIND.get(op, op)


def ort_session(path: str):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_profile(path: str, feed: dict, runs: int) -> dict:
    """ORT node name -> (op type, [ms per run]) over `runs` runs of a fresh session."""
    sess = ort_session(path)
    sess.run(None, feed)
    for _ in range(runs):
        sess.run(None, feed)
    nodes = {}
    with open(sess.end_profiling()) as f:
        for e in json.load(f):
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                n = e["name"][:-len("_kernel_time")]
                nodes.setdefault(n, (e["args"].get("op_name", "?"), []))[1].append(e["dur"] / 1e3)
    return nodes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/e2eamx/models"))
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    for name in args.models:
        s = subject(name, args.size, args.models_dir)
        ctx = int8rt.build_engine(str(s.onnx_path), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
        for batch in args.batches:
            feed = s.feed(batch)
            ours, theirs = {}, {}
            for _ in range(args.rounds):
                for r in ctx.profile(feed, runs=args.runs, clock="thread_cpu"):
                    k = r["name"]
                    ours[k] = (r["op"], r.get("detail", ""), min(ours.get(k, (0, 0, np.inf))[2], r["ms"]))
                for n, (op, ms) in ort_profile(str(s.onnx_path), feed, args.runs).items():
                    theirs[n] = (op, min(theirs.get(n, (0, np.inf))[1], float(np.min(ms))))
            a, b = collections.defaultdict(float), collections.defaultdict(float)
            aops, bops = collections.defaultdict(set), collections.defaultdict(set)
            for op, _, ms in ours.values():
                a[kind(op)] += ms
                aops[kind(op)].add(op)
            for op, ms in theirs.values():
                b[kind(op)] += ms
                bops[kind(op)].add(op)
            print(f"\n{name}  batch {batch}  1 thread  (load {os.getloadavg()[0]:.2f}): per-layer minima over "
                  f"{args.rounds} x {args.runs} runs, summed per kind")
            print(f"  {'kind':26s} {'int8rt ms':>10s} {'ORT ms':>9s} {'gap ms':>8s}  int8rt ops ; ORT ops")
            for k in sorted(set(a) | set(b), key=lambda k: -(a[k] - b[k])):
                print(f"  {k:26s} {a[k]:10.3f} {b[k]:9.3f} {a[k] - b[k]:+8.3f}  "
                      f"{','.join(sorted(aops[k]))} ; {','.join(sorted(bops[k]))}")
            print(f"  {'total':26s} {sum(a.values()):10.3f} {sum(b.values()):9.3f} "
                  f"{sum(a.values()) - sum(b.values()):+8.3f}")
            print(f"  int8rt's {args.top} largest layers:")
            for k, (op, det, ms) in sorted(ours.items(), key=lambda kv: -kv[1][2])[:args.top]:
                print(f"    {ms:8.3f}  {op:12s} {k[:60]:60s} {det}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
