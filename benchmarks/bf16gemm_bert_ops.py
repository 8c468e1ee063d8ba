"""Where BERT-class BF16 engines spend their time (RESULTS.md section 186):
int8rt's FP32 + bf16 engine (``bf16=True``) of e2e_feeds.py's encoders
(BERT-base, MiniLM; sequence 128) profiled with ``ExecutionContext.profile``
and the thread-CPU clock (1 thread), each layer's median summed by op and
precision (bf16 MatMuls split into constant-weight Linear layers and
activation x activation products by their detail). Run once per tree.

Usage: PYTHONPATH=<tree>/python python3 benchmarks/bf16gemm_bert_ops.py [--models bert_base minilm]
       [--batches 1 8] [--runs 5] [--models-dir /tmp/e2eamx/models]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from e2e_feeds import encoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["bert_base", "minilm"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    for name in args.models:
        path, _, feed_of = encoder(name, args.models_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            eng = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
        ctx = eng.create_execution_context()
        for batch in args.batches:
            feed = feed_of(batch)
            ctx.run(feed)
            rows = ctx.profile(feed, args.runs, clock="thread_cpu")
            by = defaultdict(float)
            for r in rows:
                key = r["op"] + " " + r["precision"]
                if r["op"] == "MatMul" and r["precision"] == "bf16":
                    key += " (activations)" if "bias" not in r["detail"] and "gelu" not in r["detail"] else " (linear)"
                by[key] += r["ms"]
            total = sum(by.values())
            print(f"\n{name} batch {batch}: {total:.2f} ms in layers; {load_line()}")
            print("| op | ms | share |")
            print("|---|---|---|")
            for k, v in sorted(by.items(), key=lambda kv: -kv[1])[:10]:
                print(f"| {k} | {v:.2f} | {100 * v / total:.0f}% |")


if __name__ == "__main__":
    main()
