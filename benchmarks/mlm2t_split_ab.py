"""Batch 8 of an encoder engine at 1 thread and at 2 threads with the batch
split across threads on and off (engine/batch_split.h; RESULTS.md section
201, mlm2t), alternated in one process: wall and process-CPU medians per
setting and the second thread's speed-up either way (also by each setting's
fastest run, the least disturbed one on a busy machine); with --part-batch, also
one thread at the part's batch (a split run's part: each thread's own work),
whose CPU time against the whole batch's at 1 thread bounds what the split
gives on an idle machine without needing one. Engines are the ones
benchmarks/mlm2t_layers.py saved (--engines). The split is switched with
int8rt._testing.set_batch_split (1: on, 0: off).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import int8rt  # noqa: E402
from int8rt import _testing  # noqa: E402
import e2e_subjects as ES  # noqa: E402
from bench_util import load_line  # noqa: E402

SETTINGS = (("1 thr", 1, 1), ("2 thr split", 2, 1), ("2 thr unsplit", 2, 0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", nargs="+", default=["minilm"])
    ap.add_argument("--precisions", nargs="+", default=["int8", "fp32"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3, help="runs per setting per round")
    ap.add_argument("--part-batch", type=int, default=0, help="also time 1 thread at this batch")
    ap.add_argument("--two-per-thread", action="store_true", help="also 2 threads split with 2 parts per thread")
    ap.add_argument("--engines", default="/tmp/mlm2t/eng")
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    a = ap.parse_args()
    for name in a.models:
        s = ES.subject(name, 224, Path(a.models_dir))
        feeds = {a.batch: s.feed(a.batch)}
        settings = list(SETTINGS)
        if a.two_per_thread:
            settings.append(("2 thr split x2", 2, 2))
        if a.part_batch:
            feeds[a.part_batch] = s.feed(a.part_batch)
            settings.append((f"1 thr b{a.part_batch}", 1, 1))
        for prec in a.precisions:
            eng = int8rt.Engine.load(Path(a.engines) / f"{name}.{prec}.i8rt")
            ctx = eng.create_execution_context()
            wall = {k: [] for k, _, _ in settings}
            cpu = {k: [] for k, _, _ in settings}
            before = load_line()
            for _ in range(a.rounds):
                for key, threads, split in settings:
                    int8rt.set_num_threads(threads)
                    _testing.set_batch_split(split)
                    feed = feeds[a.part_batch if key.endswith(f"b{a.part_batch}") else a.batch]
                    ctx.run(feed)
                    for _ in range(a.runs):
                        w0, c0 = time.perf_counter(), time.process_time()
                        ctx.run(feed)
                        wall[key].append(time.perf_counter() - w0)
                        cpu[key].append(time.process_time() - c0)
            _testing.set_batch_split(1)
            med = {k: (1e3 * float(np.median(wall[k])), 1e3 * float(np.median(cpu[k]))) for k in wall}
            low = {k: 1e3 * float(np.min(wall[k])) for k in wall}  # the least-disturbed run, on a busy machine
            print(f"\n{name} {prec} b{a.batch}: {before} -> {load_line()}")
            for k, (w, c) in med.items():
                print(f"  {k:14s} wall {w:8.2f} ms  cpu {c:8.2f} ms  1 thr / this: wall {med['1 thr'][0] / w:5.2f}"
                      f"  cpu {med['1 thr'][1] / c:5.2f}  |  min wall {low[k]:8.2f} ms  1 thr / this {low['1 thr'] / low[k]:5.2f}")


if __name__ == "__main__":
    main()
