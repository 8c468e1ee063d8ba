"""A BF16 encoder's engine run in a loop for a profiler to attach to (RESULTS.md
section 257's perf of BERT-base b8): e2e_feeds.py's encoder, built as
bf16gemm_e2e.py builds it (bf16amx_bert.build, bf16=True), 1 thread, runs for
SECONDS; prints the median thread-CPU ms per run.

Usage: PYTHONPATH=<tree>/python python3 benchmarks/bf16att22_enc_loop.py bert_base 8 45 [--models-dir DIR] &
       sleep 25; perf record -p $! -- sleep 12; perf report --no-children --sort symbol
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import int8rt  # noqa: E402
from bf16amx_bert import build  # noqa: E402
from e2e_feeds import encoder, int8rt_runner  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("batch", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--models-dir", default="/tmp/bf16att22/models")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    path, _, feed_of = encoder(args.model, args.models_dir)
    run = int8rt_runner(build(path, None, True))
    feed = feed_of(args.batch)
    run(feed)
    t0, times = time.time(), []
    while time.time() - t0 < args.seconds:
        t = time.thread_time()
        run(feed)
        times.append(time.thread_time() - t)
    print(args.model, args.batch, "median ms", 1000 * float(np.median(times)), len(times))


if __name__ == "__main__":
    main()
