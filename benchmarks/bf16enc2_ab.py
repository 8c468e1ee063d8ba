"""Two builds of int8rt, BF16 encoders, alternated in time (RESULTS.md
section 203): one long-lived worker process per package (PYTHONPATH) builds
int8rt's FP32 + bf16 engine (``bf16=True``) of e2e_feeds.py's encoders
(BERT-base, MiniLM; sequence 128) once; then, per (model, batch) and round,
each worker in turn (order reversed every other round) runs the engine
``runs`` times and answers the median process-CPU ms per call. Prints each
round's times and each build's ratio to the first, then the median ratio,
with the 1-minute load. 1 thread. Workers of the same package give the A/A
noise floor: a package named more than once gets that many workers, and
its time per round is the geometric mean of its workers' (the per-process
placement effect, ~5% between two workers of one build here, averages out
over several). Engines only, no OpenVINO (bf16gemm_e2e.py compares with it).

Usage: python3 benchmarks/bf16enc2_ab.py --packages BASE/python NEW/python [NEW2/python ...]
       [--env NAME=VALUE ...] [--models bert_base minilm] [--batches 8 1] [--rounds 5]
       [--models-dir /tmp/e2eamx/models]
(``--env`` entries, one per package, set an environment variable in that
worker: one build, two settings.)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def bf16_engines(models: list[str], models_dir: str, max_isa: str | None = None) -> dict:
    """{model: (engine, feed_of)}: int8rt's FP32 + bf16 engine of each of
    e2e_feeds.py's encoders (its build output silenced), 1 thread."""
    sys.path.insert(0, HERE)
    import int8rt
    from e2e_feeds import encoder

    int8rt.set_num_threads(1)
    engines = {}
    for name in models:
        path, _, feed_of = encoder(name, models_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            eng = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True, max_isa=max_isa))
        engines[name] = (eng, feed_of)
    return engines


def worker(models: list[str], models_dir: str) -> None:
    """Builds the engines, then answers "model batch runs" lines with a median ms."""
    ctxs = {name: (eng, eng.create_execution_context(), feed_of)
            for name, (eng, feed_of) in bf16_engines(models, models_dir).items()}
    print("READY", flush=True)
    for line in sys.stdin:
        name, batch, runs = line.split()
        _, ctx, feed_of = ctxs[name]
        feed = feed_of(int(batch))
        ctx.run(feed)
        times = []
        for _ in range(int(runs)):
            t = time.process_time()
            ctx.run(feed)
            times.append((time.process_time() - t) * 1e3)
        print(f"{statistics.median(times):.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", nargs="+", required=True, help="PYTHONPATH of each build; the first is the base")
    ap.add_argument("--env", nargs="*", default=[], help="NAME=VALUE per package ('-' for none)")
    ap.add_argument("--models", nargs="+", default=["bert_base", "minilm"])
    ap.add_argument("--batches", nargs="+", type=int, default=[8, 1])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.models, args.models_dir)
        return
    procs = []
    for i, pkg in enumerate(args.packages):
        env = dict(os.environ, PYTHONPATH=pkg)
        if i < len(args.env) and args.env[i] != "-":
            key, value = args.env[i].split("=", 1)
            env[key] = value
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--packages", pkg, "--models", *args.models,
               "--models-dir", args.models_dir]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd="/tmp")
        if p.stdout.readline().strip() != "READY":
            raise SystemExit(f"worker for {pkg} did not start")
        procs.append(p)
    pkgs = list(dict.fromkeys(args.packages))  # distinct, in order: #0 is the base
    names = [f"#{i}" for i in range(len(pkgs))]
    print("builds: " + ", ".join(f"{n} {pkg} ({args.packages.count(pkg)} workers)" for n, pkg in zip(names, pkgs)))
    for model in args.models:
        for batch in args.batches:
            runs = 3 if batch >= 8 else 10
            ratios: list[list[float]] = []
            for r in range(args.rounds):
                order = list(range(len(procs))) if r % 2 == 0 else list(range(len(procs)))[::-1]
                ms = [0.0] * len(procs)
                for i in order:
                    procs[i].stdin.write(f"{model} {batch} {runs}\n")
                    procs[i].stdin.flush()
                    ms[i] = float(procs[i].stdout.readline())
                ms = [statistics.geometric_mean([m for m, p in zip(ms, args.packages) if p == pkg]) for pkg in pkgs]
                ratios.append([m / ms[0] for m in ms[1:]])
                print(f"{model} b{batch} round {r}: " + " ".join(f"{n} {m:.2f}" for n, m in zip(names, ms)) +
                      " | " + " ".join(f"{n}/#0 {x:.3f}" for n, x in zip(names[1:], ratios[-1])) +
                      f" load {os.getloadavg()[0]:.1f}", flush=True)
            print(f"{model} b{batch}: median " +
                  " ".join(f"{n}/#0 {statistics.median(x[i] for x in ratios):.3f}" for i, n in enumerate(names[1:])),
                  flush=True)
    for p in procs:
        p.stdin.close()
        p.wait()


if __name__ == "__main__":
    main()
