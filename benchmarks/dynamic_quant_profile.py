"""Per-op thread-CPU profile of dynamic_quant_bench.py's int8rt engines (the quantize_dynamic BERT at
batch 1 and 8, ddddocr's common_old.onnx at batch 1): ``ctx.profile(feed, runs, clock="thread_cpu")``
on one thread, summed by op, the largest first; ``-v`` also lists the slowest layers with their
kernel (and gemm_u8s8 form). Where the time goes, before choosing what to speed up.

    cd /tmp && PYTHONPATH=<worktree>/python python <worktree>/benchmarks/dynamic_quant_profile.py [-v]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import sysconfig
import tempfile
from typing import Dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from int8rt.builder import BuilderConfig, build_engine  # noqa: E402


def show(ctx, feed: Dict[str, object], title: str, runs: int, verbose: bool) -> None:
    """Prints the per-op sums (and with verbose the 12 slowest layers) of one profile."""
    rows = ctx.profile(feed, runs, clock="thread_cpu")
    by_op: Dict[str, float] = collections.defaultdict(float)
    for r in rows:
        by_op[r["op"]] += r["ms"]
    total = sum(by_op.values())
    print(f"{title}: layers total {total:.2f} ms")
    for op, ms in sorted(by_op.items(), key=lambda kv: -kv[1])[:8]:
        print(f"   {op:28s} {ms:7.2f} ms {100 * ms / total:5.1f}%")
    if verbose:
        for r in sorted(rows, key=lambda r: -r["ms"])[:12]:
            print(f"      {r['op']} {r['name'][:40]} {r['detail'][:70]} {r['ms']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformer_bench import export_bert, token_batches
    with tempfile.TemporaryDirectory() as d:
        fp32, q = os.path.join(d, "bert.onnx"), os.path.join(d, "bert_q.onnx")
        export_bert(fp32, base=False, vocab=1000)
        quantize_dynamic(fp32, q, weight_type=QuantType.QInt8)
        ctx = build_engine(q, BuilderConfig(precision="fp32")).create_execution_context()
        for batch in (1, 8):
            show(ctx, token_batches(1, batch, 32, 1000, seed=7)[0], f"BERT quantize_dynamic b{batch}", args.runs,
                 args.verbose)
    path = os.path.join(sysconfig.get_paths()["purelib"], "ddddocr", "common_old.onnx")
    if not os.path.exists(path):
        print("ddddocr: not installed, skipped")
        return
    from realnets.wheel_models import _captchas
    xs, _ = _captchas(1, seed=12, width=160)
    ctx = build_engine(path, BuilderConfig(precision="fp32")).create_execution_context()
    show(ctx, {"input1": xs[:1]}, "ddddocr common_old.onnx b1", args.runs, args.verbose)


if __name__ == "__main__":
    main()
