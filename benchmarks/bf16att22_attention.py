"""int8rt.Bf16Attention alone, builds of int8rt alternated (RESULTS.md
section 257): the heads-folded attention of BERT-base (12 heads of 64) and
MiniLM (12 heads of 32) at sequence 128, q scaled by 1 / sqrt(d) and a
[B, 1, 1, S] padding mask, as the encoders run it (optimize=True, bf16=True,
1 thread). Per round, each package (PYTHONPATH) in turn, order reversed every
other round, runs a fresh worker process that builds the one-layer engine and
times ``--runs`` runs (thread CPU time, median; with ``--threads`` > 1, wall
time: the helpers' CPU is not the caller's, so under load this is noisier); then the median over rounds
and each package's ratio to the first, per round and overall, with the
1-minute load. The layer's detail (the products kernel it ran) is printed once
per package.

Usage: python3 benchmarks/bf16att22_attention.py --packages BASE/python NEW/python [...]
       [--shapes bert_base minilm] [--batches 1 8] [--rounds 7] [--runs 30] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

SHAPES = {"bert_base": (12, 128, 64), "minilm": (12, 128, 32)}  # heads, sequence, head size


def worker(shape: str, batch: int, runs: int, threads: int) -> None:
    import time

    import numpy as np

    import int8rt

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from test_bf16_attention_products import model

    h, s, d = SHAPES[shape]
    int8rt.set_num_threads(threads)
    clock = time.thread_time if threads == 1 else time.perf_counter
    data = model(batch, h, s, s, d, d, (float(np.float32(1 / np.sqrt(d))), None, None), heads=True)
    engine = int8rt.build_engine(data.SerializeToString(),
                                 int8rt.BuilderConfig(precision="fp32", optimize=True, bf16=True))
    rng = np.random.default_rng(0)
    feed = {n: rng.standard_normal((batch, s, h, d)).astype(np.float32) for n in ("x", "keys", "w")}
    feed["mask"] = np.where(rng.random((batch, 1, 1, s)) < 0.1, -10000.0, 0.0).astype(np.float32)
    ctx = engine.create_execution_context()
    for _ in range(3):
        ctx.run(feed)
    times = []
    for _ in range(runs):
        t = clock()
        ctx.run(feed)
        times.append((clock() - t) * 1e3)
    detail = [la["detail"] for la in engine.layers() if la["op"] == "int8rt.Bf16Attention"]
    print(json.dumps({"ms": statistics.median(times), "detail": detail}))


def load() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", nargs="+", default=[])
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worker", nargs=2, metavar=("SHAPE", "BATCH"))
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.runs, args.threads)
        return
    print("packages: " + ", ".join(f"#{i} {p}" for i, p in enumerate(args.packages)) +
          f"; {args.threads} thread(s), " + ("thread CPU" if args.threads == 1 else "wall") + " ms")
    for shape in args.shapes:
        for batch in args.batches:
            times: list[list[float]] = [[] for _ in args.packages]
            for r in range(args.rounds):
                order = list(range(len(args.packages)))
                if r % 2:
                    order.reverse()
                for i in order:
                    env = dict(os.environ, PYTHONPATH=args.packages[i])
                    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", shape, str(batch),
                                          "--runs", str(args.runs), "--threads", str(args.threads)], env=env, capture_output=True, text=True,
                                         check=True)
                    got = json.loads(out.stdout.strip().splitlines()[-1])
                    times[i].append(got["ms"])
                    if r == 0:
                        print(f"{shape} b{batch} #{i}: {got['detail']}")
                ratios = " ".join(f"#{i}/#0 {times[i][-1] / times[0][-1]:.3f}" for i in range(1, len(times)))
                print(f"{shape} b{batch} round {r}: " + " ".join(f"#{i} {t[-1]:.3f}" for i, t in enumerate(times)) +
                      f" | {ratios} load {load()}")
            med = [statistics.median(t) for t in times]
            per_round = [statistics.median(t[k] / times[0][k] for k in range(args.rounds)) for t in times]
            print(f"{shape} b{batch}: median ms " + " ".join(f"#{i} {m:.3f}" for i, m in enumerate(med)) +
                  " | median of round ratios " + " ".join(f"#{i}/#0 {x:.3f}" for i, x in enumerate(per_round) if i))


if __name__ == "__main__":
    main()
