"""Counting a context's steady-state runs in the allocation-counting children
(tests/native/alloc_counter.c preloaded; test_run_allocations.py builds it):
one run to size the outputs, two warm runs into them, then the C++ heap
allocations of each of three more runs."""
from __future__ import annotations

import numpy as np


def steady_state_counts(counter, ctx, feed: dict) -> list[int]:
    """Allocations per steady-state run of `ctx` on `feed`, three runs."""
    out = {k: np.empty_like(v) for k, v in ctx.run(feed).items()}
    for _ in range(2):
        ctx.run(feed, out)
    counts = []
    for _ in range(3):
        counter.alloc_counter_start()
        ctx.run(feed, out)
        counts.append(counter.alloc_counter_stop())
    return counts
