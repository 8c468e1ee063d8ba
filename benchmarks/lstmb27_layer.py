"""One bidirectional LSTM layer of Sequencer2D-S's shapes, FP32 and BF16 (issue 13; RESULTS.md section 278): the
A/B of a change to the BF16 LSTM (csrc/engine/ops/rnn_bf16_gemms.h, rnn_f32.cc). Shapes (T, B, input, hidden):
stage 1 at batch 1 (28, 28, 192, 48) and 8 (28, 224, 192, 48), stages 2-4 at batch 8 (14, 112, 384, 96); random
weights, initial h / c given. The layer's thread CPU (ExecutionContext.profile, 5 runs summed per sample) in an
LSTM -> MatMul model built with ``BuilderConfig(precision="fp32", bf16=...)``, 1 thread.

``--trees A B``: runs this script once per tree (PYTHONPATH=<tree>), alternated --pairs times (A, B, A, B, ...),
each process taking --rounds alternated FP32 / BF16 samples; prints each process's medians, then per tree the
median over its processes.

Usage: PYTHONPATH=python python benchmarks/lstmb27_layer.py [--rounds 7]
       python benchmarks/lstmb27_layer.py --trees /tmp/lstmb27/base/python python --pairs 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(28, 28, 192, 48), (28, 224, 192, 48), (14, 112, 384, 96)]


def measure(rounds: int) -> dict:
    import numpy as np

    import int8rt
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    from test_lstmb27_bf16_lstm import lstm_inputs, lstm_model

    int8rt.set_num_threads(1)
    out = {}
    for T, B, I, H in SHAPES:
        ins = lstm_inputs(np.random.default_rng(1), T=T, B=B, I=I, H=H, dirs=2, initial=True)
        model = lstm_model(ins, {"hidden_size": H, "direction": "bidirectional"})
        ctx = {k: int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", bf16=k == "bf16"))
               .create_execution_context() for k in ("fp32", "bf16")}
        feed = {"x": ins[0], "h0": ins[5], "c0": ins[6]}
        samples: dict = {k: [] for k in ctx}
        for _ in range(rounds):
            for k, c in ctx.items():
                samples[k].append(sum(la["ms"] for la in c.profile(feed, 5, clock="thread_cpu") if la["name"] == "lstm"))
        out[f"T{T} B{B} I{I} H{H}"] = {k: statistics.median(v) for k, v in samples.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--trees", nargs="+", help="python/ folders to alternate (one process each per pair)")
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.json:
        print(json.dumps(measure(args.rounds)))
        return
    sys.path.insert(0, HERE)
    from bench_util import load_line, machine_line
    print(" ".join([os.path.basename(sys.executable)] + sys.argv))
    print(machine_line(), flush=True)
    trees = args.trees or [os.environ.get("PYTHONPATH", "python")]
    per_tree: dict = {t: [] for t in trees}
    for p in range(args.pairs if args.trees else 1):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": tree}
            res = json.loads(subprocess.run([sys.executable, __file__, "--json", "--rounds", str(args.rounds)], env=env,
                                            check=True, capture_output=True, text=True).stdout)
            per_tree[tree].append(res)
            for shape, m in res.items():
                print(f"pair {p} {tree}: {shape} LSTM layer ms fp32 {m['fp32']:.3f} bf16 {m['bf16']:.3f} "
                      f"fp32/bf16 {m['fp32'] / m['bf16']:.2f}; {load_line()}", flush=True)
    print("\nmedian over processes, layer thread CPU ms (5 runs per sample): tree | shape | fp32 | bf16 | fp32/bf16")
    for tree, runs in per_tree.items():
        for shape in runs[0]:
            f32 = statistics.median(r[shape]["fp32"] for r in runs)
            b16 = statistics.median(r[shape]["bf16"] for r in runs)
            print(f"| {tree} | {shape} | {f32:.3f} | {b16:.3f} | {f32 / b16:.2f} |")
    print(load_line())


if __name__ == "__main__":
    main()
