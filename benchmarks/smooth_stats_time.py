"""CPU time of SmoothQuant's per-channel histograms (accuracy/smooth_stats.py)
before and after acc28 (1024 int32 bins -> 2048 bins in uint16 + carry, the
same bytes), in one process, alternating, medians of 5 (thread CPU time):
8 batches of 512 rows of t(4) values over 384 and 1536 channels (a
MiniLM-L6 site's widths). ``--old`` is the file before (e.g. ``git show
2e6c47e:python/int8rt/accuracy/smooth_stats.py > /tmp/old.py``).

    PYTHONPATH=python python benchmarks/smooth_stats_time.py --old /tmp/old.py
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def main() -> int:
    from int8rt.accuracy import smooth_stats as new

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="smooth_stats.py before the change")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("smooth_stats_old", args.old)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    print(machine_line(), flush=True)
    rng = np.random.default_rng(0)
    batches = {c: [rng.standard_t(4, (512, c)).astype(np.float32) for _ in range(8)] for c in (384, 1536)}
    seconds: dict[tuple[str, int], list[float]] = {}
    nbytes: dict[tuple[str, int], int] = {}
    for _ in range(5):
        for label, module in ((f"before: {old.BINS} bins", old), (f"after: {new.BINS} bins", new)):
            for c, bs in batches.items():
                stats = module.ChannelHistograms(["t"])
                t0 = time.thread_time()
                for b in bs:
                    stats.observe({"t": b})
                seconds.setdefault((label, c), []).append(time.thread_time() - t0)
                nbytes[(label, c)] = stats.nbytes
    for (label, c), v in seconds.items():
        print(f"{label}, {c} channels: {np.median(v):.4f} CPU s per 8 batches of 512 rows, {nbytes[(label, c)]} bytes")
    print(machine_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
