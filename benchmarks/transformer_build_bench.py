"""Build time of a static INT8 BERT-class engine with the default (auto)
calibrator, as bert_vs_ortdyn.py builds it (issue 12, RESULTS.md section 82):
``int8rt.build_engine(path, BuilderConfig(calibrator=<8 batches of 4 sequences>))``,
one build per process (run it once per tree to compare trees), 1 thread.

Prints the build's process CPU and wall seconds, the sha256 of the engine
without its metadata (the build report holds timings), of the build report
without its ``seconds``, and of the engine's outputs on two other sequences,
so that two trees' engines can be checked equal; ``--profile N`` adds
cProfile's N slowest functions (process CPU clock).

    PYTHONPATH=python python benchmarks/transformer_build_bench.py --model minilm
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import hashlib
import json
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
import bert_peers_bench as B  # noqa: E402
from bench_util import machine_line  # noqa: E402


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["bert-base", "minilm"], default="minilm")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--dir", default="/tmp/bert_peers", help="exported models")
    ap.add_argument("--profile", type=int, default=0, help="print this many functions of a cProfile")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    os.makedirs(args.dir, exist_ok=True)
    path, vocab = B.export(args.model, args.dir)
    if args.model == "bert-base":
        calib = B.token_batches(8, 4, args.seq, vocab, seed=1)
        feed = B.token_batches(1, 2, args.seq, vocab, seed=3)[0]
    else:
        calib = B.sentence_batches(8, 4, args.seq, offset=0)
        feed = B.sentence_batches(1, 2, args.seq, offset=48)[0]
    profile = cProfile.Profile(time.process_time) if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    engine = int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calib))
    if profile is not None:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    report = dataclasses.asdict(engine.build_report())
    report.pop("seconds", None)
    outputs = engine.create_execution_context().run(feed)
    print(machine_line())
    print(f"{args.model} seq {args.seq}: build {cpu:.1f} CPU s ({wall:.1f} wall s); engine "
          f"{_sha(bytes(engine._native.with_metadata({}).serialize()))}, report "
          f"{_sha(json.dumps(report, sort_keys=True, default=str).encode())}, outputs "
          f"{_sha(b''.join(outputs[k].tobytes() for k in sorted(outputs)))}; auto: {report.get('auto_choice')}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
