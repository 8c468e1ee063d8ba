"""BERT-base in BF16 on AMX against OpenVINO bf16 (RESULTS.md section 181):
int8rt's FP32 + bf16 engine (``bf16=True``: every Gemm / MatMul in BF16,
gemm_bf16_32x32_amx here) of e2e_feeds.py's BERT-base (HuggingFace
BertModel(BertConfig()), random weights, token batches of sequence 128)
beside OpenVINO with INFERENCE_PRECISION_HINT=bf16 compiled for the feed's
shape; optionally the same int8rt engine built under the cap avx512bf16
(the VDPBF16PS kernels). 1 thread; implementations alternated
(bf16_nets_bench.alternating_wall_and_cpu), medians of process CPU time and
of wall time per call. Accuracy: the relative L2 error of each output (the
last hidden state) against int8rt FP32's on the timed batch.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16amx_bert.py
       [--models-dir /tmp/e2eamx/models] [--batches 1 8] [--rounds 5] [--min-time 1] [--no-amx-tier]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_nets_bench import alternating_wall_and_cpu, rel_l2  # noqa: E402
from e2e_feeds import encoder, int8rt_runner, ov_runner, ov_static  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def build(path: str, cap: str | None, bf16: bool):
    int8rt.set_max_isa(cap)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=bf16))
    finally:
        int8rt.set_max_isa(None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models", help="where bert-base.onnx is (exported if missing)")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--no-amx-tier", action="store_true", help="also time the engine built under the cap avx512bf16")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(O.versions())
    path, _, feed_of = encoder("bert_base", args.models_dir)
    engines = {"int8rt bf16": build(path, None, True)}
    if args.no_amx_tier:
        engines["int8rt bf16 avx512bf16"] = build(path, "avx512bf16", True)
    kinds: dict = {}
    for la in engines["int8rt bf16"].layers():
        if la["precision"] == "bf16":
            kinds[la["detail"].split()[-1]] = kinds.get(la["detail"].split()[-1], 0) + 1
    print("int8rt bf16 layers' kernels: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))
    fp32 = int8rt_runner(build(path, None, False))
    model = O.load(path)
    for batch in args.batches:
        feed = feed_of(batch)
        runs = {label: (lambda r=int8rt_runner(e): r(feed)) for label, e in engines.items()}
        ov = ov_runner(O.compile_model(ov_static(model, feed), 1, "bf16"))
        runs["OV bf16"] = lambda: ov(feed)
        want = fp32(feed)
        errs = {n: rel_l2([r()], [want]) for n, r in runs.items()}
        print(f"\nBERT-base, batch {batch}, sequence {next(iter(feed.values())).shape[1]}, 1 thread; {load_line()}")
        times = alternating_wall_and_cpu(runs, args.rounds, args.min_time)
        print(f"(after: {load_line()})")
        ov_w, ov_c = times["OV bf16"]
        print("| implementation | rel. L2 vs int8rt FP32 | median CPU ms | OV CPU / this | median wall ms | OV wall / this |")
        print("|---|---|---|---|---|---|")
        for n, (w, c) in times.items():
            print(f"| {n} | {errs[n]:.2e} | {c * 1e3:.2f} | {ov_c / c:.2f} | {w * 1e3:.2f} | {ov_w / w:.2f} |", flush=True)


if __name__ == "__main__":
    main()
