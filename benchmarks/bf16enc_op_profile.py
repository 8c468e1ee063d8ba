"""Where BERT-class BF16 encoders spend their time, int8rt beside OpenVINO
(RESULTS.md section 193): int8rt's FP32 + bf16 engine (``bf16=True``)
profiled with ``ExecutionContext.profile`` (thread-CPU clock, 1 thread), each
layer's median summed by op (BF16 MatMuls split into constant-weight Linear
layers and products of two activations; int8rt.Bf16Attention is the fused
attention); OpenVINO bf16 (1 thread, PERF_COUNT) summed by node type and the
kernel it ran (exec_type), medians over runs of its real time per node.
Both on e2e_feeds.py's encoders at sequence 128. With ``--no-ov`` it gives the
int8rt rows alone, as the former bf16gemm_bert_ops.py did (section 186).

Usage: PYTHONPATH=<tree>/python python3 benchmarks/bf16enc_op_profile.py [--models bert_base minilm]
       [--batches 1 8] [--runs 5] [--models-dir /tmp/e2eamx/models] [--no-ov]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from e2e_feeds import encoder, ov_static  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def int8rt_rows(ctx, feed, runs: int) -> dict[str, float]:
    by: dict[str, float] = defaultdict(float)
    for r in ctx.profile(feed, runs, clock="thread_cpu"):
        key = r["op"] + " " + r["precision"]
        if r["op"] == "MatMul" and r["precision"] == "bf16":
            key += " (activations)" if "bias" not in r["detail"] and "gelu" not in r["detail"] else " (linear)"
        by[key] += r["ms"]
    return by


def ov_rows(compiled, feed, runs: int) -> dict[str, float]:
    req = compiled.create_infer_request()
    req.infer(feed)
    per: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        req.infer(feed)
        one: dict[str, float] = defaultdict(float)
        for p in req.profiling_info:
            if p.status.name == "EXECUTED":
                one[f"{p.node_type} [{p.exec_type}]"] += p.real_time.total_seconds() * 1e3
        for k, v in one.items():
            per[k].append(v)
    return {k: statistics.median(v) for k, v in per.items()}


def table(title: str, by: dict[str, float], top: int = 12) -> None:
    total = sum(by.values())
    print(f"\n{title}: {total:.2f} ms in layers")
    print("| op | ms | share |")
    print("|---|---|---|")
    for k, v in sorted(by.items(), key=lambda kv: -kv[1])[:top]:
        print(f"| {k} | {v:.2f} | {v / total:.0%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["bert_base", "minilm"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    ap.add_argument("--no-ov", action="store_true")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    for name in args.models:
        path, _, feed_of = encoder(name, args.models_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            eng = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
        ctx = eng.create_execution_context()
        model = None if args.no_ov else O.load(path)
        for batch in args.batches:
            feed = feed_of(batch)
            ctx.run(feed)
            table(f"{name} batch {batch}, int8rt bf16 (thread CPU; {load_line()})", int8rt_rows(ctx, feed, args.runs))
            if model is not None:
                compiled = O.compile_model(ov_static(model, feed), 1, "bf16", perf_count=True)
                table(f"{name} batch {batch}, OpenVINO bf16 (PERF_COUNT real time; {load_line()})",
                      ov_rows(compiled, feed, args.runs))


if __name__ == "__main__":
    main()
