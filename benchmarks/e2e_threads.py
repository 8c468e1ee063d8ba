"""The thread sweep of e2e_bench.py (--sweep-threads): every implementation at
one batch with each thread count, all of them alternating in one process,
each call timed by the wall clock and by the process's CPU time at once.

Why both clocks: on a machine shared with other jobs a 2-thread run's wall
time counts the time other processes held the cores, so "2 threads speed up
batch 8" can only be read from wall time when the load stays below the core
count; the process CPU time (every thread of the process) says instead how
much work the run cost, so CPU(2 threads) ÷ CPU(1 thread) is the cost of the
second thread (1.00: no overhead; a barrier that spins shows up here), which
the load inflates far less. Neither alone answers the question on a busy
machine: the report states the load beside every sweep.

Before each timed call the implementation runs once untimed (`settle`):
the peers' worker threads (OpenVINO's TBB, ONNX Runtime's pool) spin for a
while after a run, and without that call the previous implementation's
spinning would fall into the next one's window, on its CPU clock and on the
core it wants; the untimed call also warms the caches the previous
implementation evicted (a pause instead of it left every timed call cold:
the digits CNN's batch 8 read 3x its back-to-back time). A `before` callable
per implementation runs untimed too (int8rt's thread count is process-wide,
so each int8rt call is preceded by int8rt.set_num_threads(n)).
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

Clock = Callable[[], float]


def time_two_clocks(impls: Dict[str, Callable[[], object]], rounds: int, min_time: float = 0.0,
                    before: Optional[Dict[str, Callable[[], object]]] = None, settle: int = 1,
                    wall: Clock = time.perf_counter, cpu: Clock = time.process_time) -> Dict[str, Tuple[float, float]]:
    """{name: (median wall seconds, median CPU seconds)} per timed call, the
    implementations called in turn, each timed call preceded by `before[name]`
    and `settle` untimed calls, for at least `rounds` rounds and until each
    has run `min_time` wall seconds in its timed calls."""
    before = before or {}
    samples: Dict[str, List[Tuple[float, float]]] = {name: [] for name in impls}
    done = 0
    while done < rounds or min(sum(w for w, _ in v) for v in samples.values()) < min_time:
        for name, f in impls.items():
            before.get(name, lambda: None)()
            for _ in range(settle):
                f()
            w0, c0 = wall(), cpu()
            f()
            w1, c1 = wall(), cpu()
            samples[name].append((w1 - w0, c1 - c0))
        done += 1
        if done >= 5000:
            break
    return {name: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
            for name, v in samples.items()}


def sweep_table(med: Dict[Tuple[str, int], Tuple[float, float]], threads: List[int]) -> List[str]:
    """Lines of the sweep's table: per implementation and thread count the
    wall and CPU medians (ms), then wall(t0) ÷ wall(t) (the speed-up) and
    CPU(t) ÷ CPU(t0) (the work the extra threads cost), t0 = threads[0]."""
    impls = list(dict.fromkeys(name for name, _ in med))
    t0 = threads[0]
    lines = [f"  {'implementation':16s} {'threads':>7s} {'wall ms':>10s} {'CPU ms':>10s} "
             f"{'speed-up (wall)':>16s} {'CPU ÷ ' + str(t0) + ' thr':>11s}"]
    for name in impls:
        base = med.get((name, t0))
        for t in threads:
            if (name, t) not in med:
                continue
            w, c = med[(name, t)]
            ratio = (f"{base[0] / w:16.2f} {c / base[1]:11.2f}" if base and w > 0 and base[1] > 0
                     else f"{'-':>16s} {'-':>11s}")
            lines.append(f"  {name:16s} {t:7d} {w * 1e3:10.3f} {c * 1e3:10.3f} {ratio}")
    return lines

