"""Per-run packing of activation B operands (QAttention's keys and values,
int8 MatMuls of two activations) into kept per-thread buffers against packing
them anew each run (RESULTS.md section 101): two builds of int8rt in one
process, engine runs alternated, CPU time (time.thread_time: 1 thread, so the
run's own work), medians; outputs compared bit for bit; with the allocation
counter preloaded, C++ heap allocations per steady-state run of each build.

The "before" build is a copy of another checkout's package renamed to
int8rt_before by before_build.py (its libint8rt.so renamed libint8rB.so,
its bindings given a type registry of their own):

    PYTHONPATH=python LD_PRELOAD=/tmp/liballoc_counter.so python benchmarks/packed_b_reuse_bench.py \\
        --before /tmp/attnpack/before --counter /tmp/liballoc_counter.so minilm_int8.i8rt bert-base128.i8rt

(tests/native/alloc_counter.c, built with `cc -O2 -shared -fPIC -o ... -ldl`.)
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import int8rt
from before_build import import_before
from bench_util import alloc_counter, allocations_per_run, alternating_samples, machine_line


def feeds(batch: int, seq: int) -> dict:
    rng = np.random.default_rng(batch * 1000 + seq)
    return {"input_ids": rng.integers(100, 20000, (batch, seq)).astype(np.int64),
            "attention_mask": np.ones((batch, seq), np.int64)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engines", nargs="+")
    ap.add_argument("--before", required=True, help="folder holding the int8rt_before package")
    ap.add_argument("--counter", help="the preloaded allocation counter's library (counts allocations per run)")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    before = import_before(args.before)
    libs = {"before": before, "after": int8rt}
    for lib in libs.values():
        lib.set_num_threads(1)
    counter = alloc_counter(args.counter)
    print(machine_line())
    for path in args.engines:
        ctxs = {name: lib.Engine.load(path).create_execution_context() for name, lib in libs.items()}
        for batch in (int(b) for b in args.batches.split(",")):
            f = feeds(batch, args.seq)
            outs = {name: {k: np.empty_like(v) for k, v in ctx.run(f).items()} for name, ctx in ctxs.items()}
            runs = {name: (lambda c=ctx, o=outs[name]: c.run(f, o)) for name, ctx in ctxs.items()}
            samples = alternating_samples(runs, args.rounds, warmup=2, clock=time.thread_time)
            same = all(np.array_equal(outs["before"][k], outs["after"][k]) for k in outs["after"])
            allocs = {name: allocations_per_run(counter, run) for name, run in runs.items()} if counter else {}
            med = {name: statistics.median(v) * 1e3 for name, v in samples.items()}
            print(f"{path.split('/')[-1]} b{batch} s{args.seq}: before {med['before']:.2f} ms, after "
                  f"{med['after']:.2f} ms CPU (median of {args.rounds}), after/before {med['after'] / med['before']:.3f}; "
                  f"outputs bit-identical: {same}; allocations per run: {allocs or 'not counted'}", flush=True)


if __name__ == "__main__":
    main()
