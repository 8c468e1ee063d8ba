"""What per-call allocation costs a run (issue 14 §4): the run paths a Python
user calls, alternated in one process on the same engine and input.

- "fresh context": ``engine.create_execution_context().run(x)``, which is
  what ``Engine.run`` did before it kept its contexts (every activation
  buffer allocated, and its pages faulted in and zeroed by the kernel, on
  every call);
- "Engine.run": ``engine.run(x)`` (a kept context);
- "context.run": ``ctx.run(x)`` on the caller's context (new output arrays);
- "context.run into": ``ctx.run(x, outputs)`` into the caller's arrays.

Per implementation: median process CPU ms and wall ms per call, and the
minor page faults per call (``getrusage``), 1 thread, batch as given.

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/run_alloc_bench.py ENGINE.i8rt... [--batch 8]
       [--rounds 7]  (engines saved with ``Engine.save``; input named in the engine, NCHW 224x224 images)
"""
from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import engine_files_parser, load_line, machine_line  # noqa: E402


def measure(impls: Dict[str, Callable[[], object]], rounds: int) -> Dict[str, tuple]:
    """(median CPU ms, median wall ms, mean minor faults) per call, called in turn."""
    for f in impls.values():
        f()
    cpu: Dict[str, List[float]] = {n: [] for n in impls}
    wall: Dict[str, List[float]] = {n: [] for n in impls}
    faults: Dict[str, List[int]] = {n: [] for n in impls}
    for _ in range(rounds):
        for n, f in impls.items():
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            w0, c0 = time.perf_counter(), time.process_time()
            f()
            cpu[n].append(time.process_time() - c0)
            wall[n].append(time.perf_counter() - w0)
            faults[n].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return {n: (statistics.median(cpu[n]) * 1e3, statistics.median(wall[n]) * 1e3, statistics.mean(faults[n]))
            for n in impls}


def main() -> None:
    args = engine_files_parser(__doc__).parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    for path in args.engines:
        engine = int8rt.Engine.load(path)
        name = engine.input_names[0]
        x = {name: np.random.default_rng(0).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)}
        ctx = engine.create_execution_context()
        outs = {k: np.empty_like(v) for k, v in ctx.run(x).items()}
        impls = {"fresh context": lambda: engine.create_execution_context().run(x),
                 "Engine.run": lambda: engine.run(x),
                 "context.run": lambda: ctx.run(x),
                 "context.run into": lambda: ctx.run(x, outs)}
        print(f"\n{os.path.basename(path)}, batch {args.batch}, 1 thread; {load_line()}")
        res = measure(impls, args.rounds)
        print(f"(after: {load_line()})")
        base_c, base_w, _ = res["fresh context"]
        print("| call | median CPU ms | fresh context CPU / this | median wall ms | fresh context wall / this "
              "| minor faults per call |")
        print("|---|---|---|---|---|---|")
        for n, (c, w, f) in res.items():
            print(f"| {n} | {c:.1f} | {base_c / c:.2f}x | {w:.1f} | {base_w / w:.2f}x | {f:.0f} |", flush=True)


if __name__ == "__main__":
    main()
