"""Two or more execution contexts timed on one input in turn (a, b, a, b, ...),
so that the machine's load falls on each alike: the median wall and process CPU
time per run of each, in microseconds. Used by the A/B speed scripts that
compare an engine built by this tree with one saved by a base build
(prelu12_speed.py, gemmprelu12_speed.py, convhead12_speed.py)."""
from __future__ import annotations

import statistics
import time
from typing import Any, Sequence


def median_us(contexts: Sequence[Any], feed: Any, reps: int) -> tuple[list[float], list[float]]:
    """Each context's median (wall, CPU) microseconds over ``reps`` alternated runs, after one warm-up run each."""
    for c in contexts:
        c.run(feed)
    wall: list[list[float]] = [[] for _ in contexts]
    cpu: list[list[float]] = [[] for _ in contexts]
    for _ in range(reps):
        for i, c in enumerate(contexts):
            t0, c0 = time.perf_counter(), time.process_time()
            c.run(feed)
            wall[i].append(time.perf_counter() - t0)
            cpu[i].append(time.process_time() - c0)
    return ([statistics.median(v) * 1e6 for v in wall], [statistics.median(v) * 1e6 for v in cpu])
