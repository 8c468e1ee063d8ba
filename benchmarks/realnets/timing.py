"""Latency of several engines measured alternately in one process.

Each round runs every engine once, in turn, on the same input, so slow
phases of a shared machine (other jobs on the two cores) hit every engine
alike; the figure reported is the median over rounds. Warm-up runs come
first and are not timed.
"""
from __future__ import annotations

import time
from typing import Callable, Mapping

import numpy as np


def alternating_medians(runners: Mapping[str, Callable[[np.ndarray], object]], x: np.ndarray, *,
                        rounds: int, warmup: int = 2, budget_s: float = float("inf")) -> dict[str, float]:
    """Median wall-clock milliseconds per run of each runner on ``x``.

    Stops early (after at least 3 rounds) once ``budget_s`` seconds have gone."""
    for run in runners.values():
        for _ in range(warmup):
            run(x)
    times: dict[str, list[float]] = {name: [] for name in runners}
    start = time.perf_counter()
    for r in range(rounds):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run(x)
            times[name].append((time.perf_counter() - t0) * 1e3)
        if r >= 2 and time.perf_counter() - start > budget_s:
            break
    return {name: float(np.median(t)) for name, t in times.items()}
