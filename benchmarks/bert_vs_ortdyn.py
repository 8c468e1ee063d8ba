"""int8rt INT8 against ONNX Runtime's quantize_dynamic model on BERT-class encoders,
the two alone, or with OpenVINO INT8 (``--ov``) (issue 11 §5, RESULTS.md sections 76 and 79): bert_peers_bench.py's models,
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
    ap.add_argument("--ov", action="store_true", help="also OpenVINO INT8 (NNCF, bert_peers_bench's settings; the "
                    "quantized IR saved in --dir)")
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
    t0 = time.process_time()
    engine = int8rt.Engine.load(engine_path)
    load_s = time.process_time() - t0
    ctx = engine.create_execution_context()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dyn = os.path.join(args.dir, f"{args.model}_dynamic.onnx")
    if not os.path.exists(dyn):
        quantize_dynamic(path, dyn, weight_type=QuantType.QInt8)
    session = B.ort_session(dyn)
    impls = {"int8rt": lambda f: ctx.run(f), "ort": lambda f: session.run(None, f)}
    if args.ov:
        from transformer_bench import ov_int8
        impls["ov"] = ov_int8(path, calib(), saved=os.path.join(args.dir, f"{args.model}{args.seq}_nncf.xml"))[0]
    print(machine_line(), flush=True)
    print(f"int8rt engine load {load_s:.2f} s CPU", flush=True)
    for b, feed in feeds.items():
        t = time_alternating({n: (lambda r=r, f=feed: r(f)) for n, r in impls.items()}, args.rounds,
                             clock=time.process_time)
        line = (f"{args.model} seq {args.seq} b{b}: int8rt INT8 {t['int8rt'] * 1e3:.2f} ms, ORT dynamic "
                f"{t['ort'] * 1e3:.2f} ms, ORT dynamic / int8rt INT8 = {t['ort'] / t['int8rt']:.3f}")
        if "ov" in t:
            line += f"; OV INT8 {t['ov'] * 1e3:.2f} ms, OV INT8 / int8rt INT8 = {t['ov'] / t['int8rt']:.3f}"
        print(line, flush=True)
        print(f"  profile b{b}: {B.per_op_profile(ctx, feed, 3)}", flush=True)
    print(machine_line())


if __name__ == "__main__":
    main()
