"""One int8rt.QAttention layer with its probabilities on the symmetric grid
(probs_scale 1/127) and on the unsigned grid (1/255, probs_zero_point -128),
at the shapes of LeViT-128's, DeiT-Tiny's and MobileViT-S's attentions:
CPU time per call, 1 thread, the two engines alternated in this process,
the median of the per-round ratios (unsigned / symmetric). int8 q, k, v
(seeded), int8 output, K given untransposed as timm's exports hold it.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_probs_speed.py [--rounds 21]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402

# name: (batch x heads, queries M, keys N, d, dv)
SHAPES = {
    "levit_128 stage 1 (b1)": (4, 196, 196, 16, 32),
    "levit_128 subsample 1 (b1)": (8, 49, 196, 16, 64),
    "deit_tiny (b1)": (3, 198, 198, 64, 64),
    "mobilevit_s block 1 (b1)": (4, 256, 256, 144, 144),
    "levit_128 stage 1 (b8)": (32, 196, 196, 16, 32),
    "deit_tiny (b8)": (24, 198, 198, 64, 64),
}


def engine(shape: tuple[int, ...], grid: dict):
    import int8rt
    from int8rt import _core

    bh, m, n, d, dv = shape
    net = _core.Network()
    q = net.add_input("q", [bh, m, d], "int8")
    k = net.add_input("k", [bh, n, d], "int8")
    v = net.add_input("v", [bh, n, dv], "int8")
    attrs = {"q_scale": 0.05, "k_scale": 0.05, "v_scale": 0.03, "out_scale": 0.03, "k_transposed": 1,
             "scores_factor": 0.25, **grid}
    y = net.add_node("int8rt.QAttention", "attention", [q, k, v], attrs, ["y"])[0]
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"})).create_execution_context()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per engine per round")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    print(machine_line())
    grids = {"symmetric": {"probs_scale": 1 / 127}, "unsigned": {"probs_scale": 1 / 255, "probs_zero_point": -128}}
    for label, shape in SHAPES.items():
        bh, m, n, d, dv = shape
        rng = np.random.default_rng(0)
        feed = {"q": rng.integers(-128, 128, (bh, m, d), dtype=np.int8),
                "k": rng.integers(-128, 128, (bh, n, d), dtype=np.int8),
                "v": rng.integers(-128, 128, (bh, n, dv), dtype=np.int8)}
        ctxs = {g: engine(shape, a) for g, a in grids.items()}
        for c in ctxs.values():
            c.run(feed)
        t0 = time.perf_counter()
        ctxs["symmetric"].run(feed)
        reps = max(1, int(args.min_time / max(time.perf_counter() - t0, 1e-6)))
        times: dict[str, list[float]] = {g: [] for g in grids}
        for r in range(args.rounds):
            for g in (list(grids) if r % 2 == 0 else list(grids)[::-1]):
                t0 = time.process_time()
                for _ in range(reps):
                    ctxs[g].run(feed)
                times[g].append((time.process_time() - t0) / reps * 1e3)
        ratio = statistics.median(u / s for s, u in zip(times["symmetric"], times["unsigned"]))
        print(f"{label} {shape}: symmetric {statistics.median(times['symmetric']):.3f} ms, unsigned "
              f"{statistics.median(times['unsigned']):.3f} ms, unsigned / symmetric {ratio:.3f} "
              f"({args.rounds} rounds x {reps}); load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
