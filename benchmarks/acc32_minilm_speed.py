"""MiniLM INT8 latency with two int8rt builds (before / after a change), one
engine file each, alternated in child processes (RESULTS_accuracy.md
"acc32": the attention probabilities' key-count grid must not slow the
int8 attention).

Each build (``--before`` / ``--after``: a ``python`` folder holding an
installed ``int8rt``) builds all-MiniLM-L6-v2 INT8 (bert_peers_bench.py's
export and real sentences, padded to ``--seq``; the builder's default
calibrator on ``--calib`` batches of 4) and saves it; then ``--rounds``
rounds, each running one child per build in alternating order, each child
loading its engine and timing ``--runs`` runs per batch size (thread CPU
time, 1 thread, after a warm-up). Reported: the median over all rounds'
runs per build and batch, and after / before. ``--run-seq`` runs the
engines at another sequence length than calibrated (e.g. 32 < 128: the
rule's scaled grid is in use there).

``--same-build`` instead: one process and one build (``--after``), two
engines with the same scales: calibrated on the data (the key-count rule
on) and built from that calibration's cache alone (no calibration batch
runs, so the rule is off; the same minmax scales, ``--algo``), alternated
call by call for ``--rounds`` x ``--runs`` calls: the rule's own cost.

``--accuracy 16,32,64,128`` instead: each build's engine at those sequence
lengths (4 batches of 4 other sentences each, padded) against ONNX Runtime
FP32, centred cosine of last_hidden_state and of the mask-weighted mean
(the sentence embedding), as bert_peers_bench.py measures them.

    PYTHONPATH=python python benchmarks/acc32_minilm_speed.py --before /tmp/acc32_before/python --after python
    PYTHONPATH=python python benchmarks/acc32_minilm_speed.py --before /tmp/acc32_before/python --after python \
        --accuracy 16,32,64,128
    PYTHONPATH=python python benchmarks/acc32_minilm_speed.py --before - --after python --same-build --run-seq 32
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def child_build(args: argparse.Namespace) -> None:
    import int8rt
    from bert_peers_bench import export, sentence_batches

    int8rt.set_num_threads(1)
    path, _ = export("minilm", args.dir)
    calib = sentence_batches(args.calib, 4, args.seq, offset=0)
    int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calib)).save(args.engine)


def child_time(args: argparse.Namespace) -> None:
    import int8rt
    from bert_peers_bench import sentence_batches

    int8rt.set_num_threads(1)
    ctx = int8rt.Engine.load(args.engine).create_execution_context()
    out = {}
    for b in map(int, args.batches.split(",")):
        feed = sentence_batches(1, b, args.run_seq or args.seq, offset=args.calib * 4 + 16)[0]
        ctx.run(feed)
        times = []
        for _ in range(args.runs):
            t0 = time.thread_time()
            ctx.run(feed)
            times.append(time.thread_time() - t0)
        out[b] = times
    print(json.dumps(out))


def child_accuracy(args: argparse.Namespace) -> None:
    import int8rt
    from bert_peers_bench import export, ort_session, pooled, sentence_batches
    from transformer_bench import centred_cosine

    int8rt.set_num_threads(1)
    ctx = int8rt.Engine.load(args.engine).create_execution_context()
    fp32 = ort_session(export("minilm", args.dir)[0])
    out = {}
    for seq in map(int, args.accuracy.split(",")):
        feeds = sentence_batches(4, 4, seq, offset=args.calib * 4)
        got = [ctx.run(f)["last_hidden_state"] for f in feeds]
        ref = [fp32.run(None, f)[0] for f in feeds]
        masks = [f["attention_mask"] for f in feeds]
        out[seq] = [centred_cosine(got, ref), centred_cosine([pooled(g, m) for g, m in zip(got, masks)],
                                                             [pooled(r, m) for r, m in zip(ref, masks)])]
    print(json.dumps(out))


def same_build(args: argparse.Namespace) -> None:
    import int8rt
    from bench_util import alternating_samples, machine_line
    from bert_peers_bench import export, sentence_batches
    from int8rt.accuracy.probs_keys import key_count_layers
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    path, _ = export("minilm", args.dir)
    calib = sentence_batches(args.calib, 4, args.seq, offset=0)
    cache = os.path.join(args.dir, f"minilm_s{args.seq}_{args.algo}.cache")
    if os.path.exists(cache):
        os.remove(cache)
    engines = {}
    for tag in ("rule on", "rule off (from the cache)"):  # the first writes the cache, the second reads it
        calibrator = make_calibrator(calib, algorithm=args.algo, cache_file=cache)
        engines[tag] = int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calibrator))
    print(machine_line())
    print({tag: len(key_count_layers(e.network())) for tag, e in engines.items()}, "layers with the rule")
    for b in map(int, args.batches.split(",")):
        feed = sentence_batches(1, b, args.run_seq or args.seq, offset=args.calib * 4 + 16)[0]
        ctxs = {tag: e.create_execution_context() for tag, e in engines.items()}
        outs = {tag: c.run(feed)["last_hidden_state"] for tag, c in ctxs.items()}
        samples = alternating_samples({tag: (lambda c=c: c.run(feed)) for tag, c in ctxs.items()},
                                      args.rounds * args.runs, clock=time.thread_time)
        on, off = (statistics.median(v) * 1e3 for v in samples.values())
        same = np.array_equal(*outs.values())
        print(f"b{b}, sequence {args.run_seq or args.seq} (calibrated {args.seq}): rule on {on:.2f} ms, off {off:.2f} "
              f"ms, on / off {on / off:.3f}; outputs identical: {same}", flush=True)
    print(machine_line())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="python folder of the build before")
    ap.add_argument("--after", required=True, help="python folder of the build after")
    ap.add_argument("--dir", default="/tmp/acc32_minilm", help="exported model and engine files")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--run-seq", type=int, default=0, help="sequence length of the timed runs (0: --seq)")
    ap.add_argument("--calib", type=int, default=8)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--same-build", action="store_true", help="the rule on / off in one build and process")
    ap.add_argument("--algo", default="minmax", help="--same-build's calibrator")
    ap.add_argument("--accuracy", default="", help="sequence lengths: accuracy against ORT FP32 instead of timing")
    ap.add_argument("--child", choices=["build", "time", "accuracy"], help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "build":
        return child_build(args)
    if args.child == "time":
        return child_time(args)
    if args.child == "accuracy":
        return child_accuracy(args)
    from bench_util import machine_line

    os.makedirs(args.dir, exist_ok=True)
    if args.same_build:
        return same_build(args)
    builds = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    common = ["--dir", args.dir, "--seq", str(args.seq), "--run-seq", str(args.run_seq), "--calib", str(args.calib),
              "--batches", args.batches, "--runs", str(args.runs), "--accuracy", args.accuracy]

    def child(tag: str, kind: str) -> str:
        env = dict(os.environ, PYTHONPATH=builds[tag])
        engine = os.path.join(args.dir, f"minilm_s{args.seq}_{tag}.i8rt")
        return subprocess.run([sys.executable, __file__, "--before", "-", "--after", "-", "--child", kind,
                               "--engine", engine] + common, env=env, check=True, capture_output=True,
                              text=True).stdout

    print(machine_line())
    for tag in builds:
        child(tag, "build")
    if args.accuracy:
        print(f"all-MiniLM-L6-v2 INT8, calibrated at sequence {args.seq}; centred cosine against ONNX Runtime FP32, "
              "hidden states / sentence embedding")
        print("| sequence | before | after |")
        print("|---|---|---|")
        got = {tag: json.loads(child(tag, "accuracy").strip().splitlines()[-1]) for tag in builds}
        for seq in got["before"]:
            print(f"| {seq} | " + " | ".join("{:.5f} / {:.5f}".format(*got[t][seq]) for t in builds) + " |")
        return
    samples: dict[str, dict[str, list[float]]] = {tag: {} for tag in builds}
    for r in range(args.rounds):
        for tag in (list(builds) if r % 2 == 0 else list(builds)[::-1]):
            for b, times in json.loads(child(tag, "time").strip().splitlines()[-1]).items():
                samples[tag].setdefault(b, []).extend(times)
    print(f"all-MiniLM-L6-v2 INT8, calibrated at sequence {args.seq}, run at {args.run_seq or args.seq}; 1 thread; "
          f"thread CPU ms, median of {args.rounds} alternated rounds x {args.runs} runs")
    print("| batch | before ms | after ms | after / before |")
    print("|---|---|---|---|")
    for b in samples["before"]:
        before, after = (statistics.median(samples[t][b]) * 1e3 for t in ("before", "after"))
        print(f"| b{b} | {before:.2f} | {after:.2f} | {after / before:.3f} |")
    print(machine_line())


if __name__ == "__main__":
    main()
