"""int8rt INT8 against ONNX Runtime's quantize_dynamic model on BERT-class encoders,
the two alone (issue 11 §5, RESULTS.md section 76): bert_peers_bench.py's models,
feeds and int8rt build (``BuilderConfig(calibrator=<8 batches of 4 sequences>)``), with
the int8rt engine saved once and loaded on later runs (BERT-base's calibration takes
minutes on a loaded machine), so a kernel change is measured without recalibrating:
engine files keep canonical weights and pack them at load.

1 thread each, process CPU time, the two alternated, medians; then int8rt's layer
profile (thread CPU).

    PYTHONPATH=python python benchmarks/bert_vs_ortdyn.py --model bert-base --seq 128 --rounds 7
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
import bert_peers_bench as B  # noqa: E402
from bench_util import machine_line, time_alternating  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["bert-base", "minilm"], default="bert-base")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dir", default="/tmp/bert_peers", help="exported models and the saved engines")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    os.makedirs(args.dir, exist_ok=True)
    path, vocab = B.export(args.model, args.dir)
    if args.model == "bert-base":
        calib = lambda: B.token_batches(8, 4, args.seq, vocab, seed=1)  # noqa: E731
        feeds = {b: B.token_batches(1, b, args.seq, vocab, seed=3)[0] for b in (1, 8)}
    else:
        calib = lambda: B.sentence_batches(8, 4, args.seq, offset=0)  # noqa: E731
        feeds = {b: B.sentence_batches(1, b, args.seq, offset=48)[0] for b in (1, 8)}
    engine_path = os.path.join(args.dir, f"{args.model}{args.seq}.i8rt")
    if not os.path.exists(engine_path):
        int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calib())).save(engine_path)
    ctx = int8rt.Engine.load(engine_path).create_execution_context()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dyn = os.path.join(args.dir, f"{args.model}_dynamic.onnx")
    if not os.path.exists(dyn):
        quantize_dynamic(path, dyn, weight_type=QuantType.QInt8)
    session = B.ort_session(dyn)
    print(machine_line(), flush=True)
    for b, feed in feeds.items():
        t = time_alternating({"int8rt": lambda f=feed: ctx.run(f), "ort": lambda f=feed: session.run(None, f)},
                             args.rounds, clock=time.process_time)
        print(f"{args.model} seq {args.seq} b{b}: int8rt INT8 {t['int8rt'] * 1e3:.2f} ms, ORT dynamic "
              f"{t['ort'] * 1e3:.2f} ms, ORT dynamic / int8rt INT8 = {t['ort'] / t['int8rt']:.3f}", flush=True)
        print(f"  profile b{b}: {B.per_op_profile(ctx, feed, 3)}", flush=True)
    print(machine_line())


if __name__ == "__main__":
    main()
