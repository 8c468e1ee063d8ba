"""BERT-class encoders in BF16 on AMX against OpenVINO bf16 (RESULTS.md
section 186): int8rt's FP32 + bf16 engine (``bf16=True``: every Gemm /
MatMul on the gemm_bf16 kernel dispatch picks) of e2e_feeds.py's BERT-base
(random weights) and all-MiniLM-L6-v2 (real weights, sentences), sequence
128, beside OpenVINO with INFERENCE_PRECISION_HINT=bf16 compiled for the
feed's shape; 1 thread, implementations alternated
(bf16_nets_bench.alternating_wall_and_cpu), medians of process CPU time per
call; the relative L2 error of the output against int8rt FP32's. As
bf16amx_bert.py (BERT-base only), with MiniLM. Run it at the same time
under two trees' packages to compare builds (OpenVINO is the common yardstick).

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16gemm_e2e.py
       [--models bert_base minilm] [--batches 1 8] [--rounds 5] [--min-time 0.5] [--models-dir /tmp/e2eamx/models]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_nets_bench import alternating_wall_and_cpu, rel_l2  # noqa: E402
from bf16amx_bert import build  # noqa: E402
from e2e_feeds import encoder, int8rt_runner, ov_runner, ov_static  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["bert_base", "minilm"])
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(O.versions())
    for name in args.models:
        path, _, feed_of = encoder(name, args.models_dir)
        eng = build(path, None, True)
        fp32 = int8rt_runner(build(path, None, False))
        model = O.load(path)
        for batch in args.batches:
            feed = feed_of(batch)
            runs = {"int8rt bf16": (lambda r=int8rt_runner(eng): r(feed))}
            ov = ov_runner(O.compile_model(ov_static(model, feed), 1, "bf16"))
            runs["OV bf16"] = lambda: ov(feed)
            want = fp32(feed)
            errs = {n: rel_l2([r()], [want]) for n, r in runs.items()}
            print(f"\n{name}, batch {batch}, sequence {next(iter(feed.values())).shape[1]}, 1 thread; {load_line()}")
            times = alternating_wall_and_cpu(runs, args.rounds, args.min_time)
            print(f"(after: {load_line()})")
            ov_c = times["OV bf16"][1]
            print("| implementation | rel. L2 vs int8rt FP32 | median CPU ms | OV CPU / this |")
            print("|---|---|---|---|")
            for n, (_, c) in times.items():
                print(f"| {n} | {errs[n]:.2e} | {c * 1e3:.2f} | {ov_c / c:.2f} |", flush=True)


if __name__ == "__main__":
    main()
