"""Batch scaling of int8rt INT8 against OpenVINO INT8 (NNCF), in CPU time.

On a shared machine a run's wall time counts the time other processes held
the core; its CPU time does not. With one thread each implementation runs on
the calling thread or one worker, so the process CPU time of a run
(time.process_time, all threads) is its own cost, whatever the load (cache
contention from other processes still enters). Per network, int8rt INT8
(entropy calibration, as e2e_bench.py) and OpenVINO INT8 (NNCF defaults,
compiled per static batch, 1 thread) run alternately at each batch size;
the table gives medians of wall and CPU ms per run, CPU ms per image, the
batch-8 cost over 8x the batch-1 cost (the issue's "batch 8 costs at most
about 8x batch 1") and OpenVINO's CPU time over int8rt's (> 1: int8rt ahead).

Per-layer wall-clock profiles (ExecutionContext.profile) are not printed:
under load a batch-8 layer (milliseconds) is preempted where a batch-1 layer
(microseconds) is not, and their ratio then reads 15-70x where the CPU time
says 1.0-1.6x (RESULTS.md section 21).

Usage: cd /tmp && PYTHONPATH=<tree>/python python3 <tree>/benchmarks/batch_scaling_bench.py
       [--models resnet50 mobilenet_v2 ...] [--batches 1 8] [--rounds 9] [--threads 1]
       [--no-ov]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Tuple


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
import e2e_bench as B  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def cpu_and_wall(f: Callable[[], object]) -> Tuple[float, float]:
    """(CPU seconds of the process, wall seconds) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    f()
    return time.process_time() - c0, time.perf_counter() - w0


def measure(impls: Dict[str, Callable[[], object]], rounds: int) -> Dict[str, Tuple[float, float]]:
    """Per implementation, median (CPU s, wall s) over `rounds` alternating calls."""
    for f in impls.values():
        f()
    samples: Dict[str, List[Tuple[float, float]]] = {k: [] for k in impls}
    for _ in range(rounds):
        for k, f in impls.items():
            samples[k].append(cpu_and_wall(f))
    return {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
            for k, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2", "efficientnet_b0"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--no-ov", action="store_true", help="int8rt only")
    args = ap.parse_args()
    print(machine_line())
    int8rt.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(d)
        for name in args.models:
            s = B.subject(name, 224, tmp)
            if s is None:
                continue
            B.build(s, tmp, ["int8rt int8"] + ([] if args.no_ov else ["OV int8"]))
            for k, msg in s.errors.items():
                print(f"{name}: {k} FAILED: {msg}")
            per_image: Dict[str, Dict[int, float]] = {}
            for b in args.batches:
                x = s.inputs(b)
                impls: Dict[str, Callable[[], object]] = {}
                if "int8rt int8" in s.engines:
                    run = B.E.int8rt_runner(s.engines["int8rt int8"])
                    impls["int8rt int8"] = lambda run=run: run(x)
                if "int8" in s.ov_models:
                    ovrun = O.runner(O.compile_model(s.ov_models["int8"], args.threads, None, b))
                    impls["OV int8"] = lambda ovrun=ovrun: ovrun(x)
                med = measure(impls, args.rounds)
                print(f"{name}  batch {b}  threads {args.threads}  ({load_line()})")
                for k, (c, w) in med.items():
                    per_image.setdefault(k, {})[b] = c / b
                    print(f"  {k:12s} wall {w * 1e3:9.2f} ms  CPU {c * 1e3:9.2f} ms  CPU/image {c / b * 1e3:8.2f} ms")
                if len(med) == 2:
                    print(f"  OV CPU / int8rt CPU: {med['OV int8'][0] / med['int8rt int8'][0]:.2f}x")
            lo, hi = min(args.batches), max(args.batches)
            for k, v in per_image.items():
                if lo in v and hi in v:
                    print(f"  {k}: batch {hi} CPU / ({hi // lo} x batch {lo} CPU) = {v[hi] / v[lo]:.2f}")


if __name__ == "__main__":
    main()
