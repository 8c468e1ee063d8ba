"""Two or more execution contexts timed on one input in turn (a, b, a, b, ...),
so that the machine's load falls on each alike: the median wall and process CPU
time per run of each, in microseconds. Used by the A/B speed scripts that
compare an engine built by this tree with one saved by a base build
(prelu12_speed.py, gemmprelu12_speed.py, convhead12_speed.py, przp12_speed.py):
median_us, and print_pair for the line each of them prints."""
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


def print_pair(label: str, engines: Sequence[Any], names: Sequence[str], feed: Any, reps: int) -> None:
    """Time two engines' fresh contexts alternated on ``feed`` (median_us) and
    print one line: each one's median wall and CPU microseconds, and the
    second's over the first's."""
    w, c = median_us([e.create_execution_context() for e in engines], feed, reps)
    a, b = names
    print(f"  {label}: {a} {w[0]:.1f} us (cpu {c[0]:.1f}), {b} {w[1]:.1f} us (cpu {c[1]:.1f}); "
          f"{b} / {a} wall {w[1] / w[0]:.3f}, cpu {c[1] / c[0]:.3f}")
