"""Steady-state runs with no C++ heap allocation (RESULTS.md section 105,
issue 14 §4): two builds of int8rt in one process, each engine fed several
input shapes in turn (a detector's image sizes, an encoder's batches and
sequence lengths), the two builds' contexts alternated run by run;
per shape, the median CPU time of a run (time.thread_time at 1 thread: the
run's own work; the process's CPU time with helpers), whether the two
builds' outputs are bit-identical, and, with the allocation counter
preloaded, each build's C++ heap allocations per steady-state run (the
fewest over 3 rounds after the timed ones).

The "before" build is another checkout's python/int8rt copied and renamed to
int8rt_before (before_build.py makes and imports it):

    PYTHONPATH=python:benchmarks LD_PRELOAD=/tmp/liballoc_counter.so python benchmarks/steady_state_alloc_bench.py \\
        --before /tmp/before --counter /tmp/liballoc_counter.so minilm_int8.i8rt det_fp32.i8rt

(tests/native/alloc_counter.c, built with `cc -O2 -shared -fPIC -o ... -ldl`.)
Feeds: an engine with an input_ids input gets token ids and an all-ones
attention mask of each --tokens shape; one with a single 4-D input gets
images of each --images size.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Dict, List

import numpy as np

import int8rt
from before_build import import_before
from bench_util import (alloc_counter, allocations_per_run, alternating_samples, load_line,
                        machine_line)


def shape_list(text: str) -> List[List[int]]:
    """'1x128,8x64' -> [[1, 128], [8, 64]]."""
    return [[int(d) for d in part.split("x")] for part in text.split(",")]


def engine_feeds(engine: "int8rt.Engine", tokens: List[List[int]], images: List[List[int]]) -> List[Dict[str, np.ndarray]]:
    names = list(engine.input_names)
    rng = np.random.default_rng(0)
    if "input_ids" in names:
        feeds = []
        for batch, seq in tokens:
            f = {"input_ids": rng.integers(100, 20000, (batch, seq)).astype(np.int64),
                 "attention_mask": np.ones((batch, seq), np.int64)}
            if "token_type_ids" in names:
                f["token_type_ids"] = np.zeros((batch, seq), np.int64)
            feeds.append(f)
        return feeds
    if len(names) == 1:
        return [{names[0]: rng.random(tuple(s), dtype=np.float32)} for s in images]
    raise SystemExit(f"no feeds for inputs {names}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engines", nargs="+")
    ap.add_argument("--before", required=True, help="folder holding the int8rt_before package")
    ap.add_argument("--counter", help="the preloaded allocation counter's library (counts allocations per run)")
    ap.add_argument("--tokens", default="1x128,8x64,2x32", help="encoder feeds, BATCHxSEQ, in turn")
    ap.add_argument("--images", default="1x3x640x480,1x3x480x640,1x3x320x320", help="image feeds, in turn")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    libs = {"before": import_before(args.before), "after": int8rt}
    for lib in libs.values():
        lib.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.process_time
    counter = alloc_counter(args.counter)
    print(machine_line())
    for path in args.engines:
        engines = {name: lib.Engine.load(path) for name, lib in libs.items()}
        ctxs = {name: engine.create_execution_context() for name, engine in engines.items()}
        feeds = engine_feeds(engines["after"], shape_list(args.tokens), shape_list(args.images))
        outs = {name: [{k: np.empty_like(v) for k, v in ctx.run(f).items()} for f in feeds]
                for name, ctx in ctxs.items()}
        # One round = every shape in turn, on each build: a context switches shape every run.
        for _ in range(2):
            for name, ctx in ctxs.items():
                for f, o in zip(feeds, outs[name]):
                    ctx.run(f, o)
        runs = {f"{name} {i}": (lambda c=ctx, f=f, o=o: c.run(f, o))
                for i, f in enumerate(feeds) for name, ctx in ctxs.items() for o in [outs[name][i]]}
        samples = alternating_samples(runs, args.rounds, warmup=0, clock=clock)
        print(f"{path.split('/')[-1]}, {args.threads} thread(s), {load_line()}", flush=True)
        for i, f in enumerate(feeds):
            med = {name: statistics.median(samples[f"{name} {i}"]) * 1e3 for name in ctxs}
            same = all(np.array_equal(outs["before"][i][k], outs["after"][i][k]) for k in outs["after"][i])
            allocs = {name: allocations_per_run(counter, runs[f"{name} {i}"]) for name in ctxs} if counter else "not counted"
            shape = "x".join(str(d) for d in next(iter(f.values())).shape)
            print(f"  {shape}: before {med['before']:.2f} ms, after {med['after']:.2f} ms CPU (median of "
                  f"{args.rounds}), after/before {med['after'] / med['before']:.3f}; outputs bit-identical: {same}; "
                  f"allocations per run: {allocs}", flush=True)


if __name__ == "__main__":
    main()
