"""BERT-class encoders, INT8: this tree's int8rt against another build of it
(before_build.py) and OpenVINO INT8 (NNCF), in one process, 1 thread,
alternated, process CPU time, medians (RESULTS.md section 103, issue 14).

Models, calibration and inputs as bert_peers_bench.py makes them (``--model
bert-base``: random weights, random token ids; ``minilm``: all-MiniLM-L6-v2,
real sentences); the int8rt engine is built with the builder's defaults
(kept in ``--dir`` as <model><seq>.i8rt, built by this tree when missing)
and both builds load the same file; OpenVINO's model is NNCF's
(<model><seq>_nncf.xml in ``--dir``, made when missing). The two builds'
outputs are compared bit for bit, so an exact change shows accuracy
unchanged without a float reference.

    python benchmarks/before_build.py <checkout at the base>/python/int8rt /tmp/before
    PYTHONPATH=python python benchmarks/bert_ov_ab.py --model bert-base --before /tmp/before --profile
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from before_build import import_before  # noqa: E402
from bench_util import alternating_samples, machine_line  # noqa: E402
import bert_peers_bench as peers  # noqa: E402
from transformer_bench import ov_int8, token_batches  # noqa: E402


def per_op(ctx, feed, runs: int = 3) -> str:
    """The layer profile (thread CPU ms per op, summed over layers), largest first."""
    ms: dict = collections.Counter()
    for layer in ctx.profile(feed, runs, clock="thread_cpu"):
        ms[layer["op"]] += layer["ms"]
    return f"{sum(ms.values()):.1f} ms: " + ", ".join(f"{op} {v:.2f}" for op, v in ms.most_common(6))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["bert-base", "minilm"], default="bert-base")
    ap.add_argument("--dir", default="/tmp/bert_ov_ab", help="exported model, engine and OpenVINO IR")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--before", help="folder holding int8rt_before (before_build.py); none: this tree and OV only")
    ap.add_argument("--profile", action="store_true", help="each build's layer profile per batch")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    path, vocab = peers.export(args.model, args.dir)
    if args.model == "bert-base":
        calib = token_batches(8, 4, args.seq, vocab, seed=1)
        feeds = {b: token_batches(1, b, args.seq, vocab, seed=3)[0] for b in map(int, args.batches.split(","))}
    else:
        calib = peers.sentence_batches(8, 4, args.seq, offset=0)
        feeds = {b: peers.sentence_batches(1, b, args.seq, offset=48)[0] for b in map(int, args.batches.split(","))}
    engine_path = os.path.join(args.dir, f"{args.model}{args.seq}.i8rt")
    if not os.path.exists(engine_path):
        int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calib)).save(engine_path)
    libs = {"int8rt": int8rt}
    if args.before:
        libs["before"] = import_before(args.before)
    ctxs = {}
    for name, lib in libs.items():
        lib.set_num_threads(1)
        ctxs[name] = lib.Engine.load(engine_path).create_execution_context()
    ov = ov_int8(path, calib, saved=os.path.join(args.dir, f"{args.model}{args.seq}_nncf.xml"))
    if ov is None:
        raise SystemExit("openvino / nncf missing")
    print(machine_line())
    print(f"{args.model}, sequence {args.seq}, {engine_path}; 1 thread; process CPU ms, medians of {args.rounds} "
          f"alternated rounds; load average {os.getloadavg()[0]:.1f}")
    for b, feed in feeds.items():
        runs = {name: (lambda ctx=ctx, f=feed: ctx.run(f)) for name, ctx in ctxs.items()}
        runs["OV INT8"] = lambda f=feed: ov[0](f)
        med = {n: statistics.median(v) * 1e3
               for n, v in alternating_samples(runs, args.rounds, warmup=2, clock=time.process_time).items()}
        line = f"b{b}: " + ", ".join(f"{n} {v:.2f} ms" for n, v in med.items())
        line += f"; OV / int8rt {med['OV INT8'] / med['int8rt']:.3f}"
        if "before" in ctxs:
            a, c = ctxs["int8rt"].run(feed), ctxs["before"].run(feed)
            same = all(np.array_equal(a[k], c[k]) for k in a)
            line += (f", OV / before {med['OV INT8'] / med['before']:.3f}, int8rt / before "
                     f"{med['int8rt'] / med['before']:.3f}; outputs bit-identical: {same}")
        print(line + f" (load {os.getloadavg()[0]:.1f})", flush=True)
        if args.profile:
            for name, c in ctxs.items():
                print(f"  profile {name}: {per_op(c, feed)}", flush=True)
    print(machine_line())


if __name__ == "__main__":
    main()
