"""The convs of MobileNetV2 that read signed inputs (1x1 expansions after a
linear bottleneck, the 3x3 stride-2 stem on the normalised image), timed one
at a time through the packed-conv test hook, 1 thread, process CPU time:
the per-layer figure of benchmarks/RESULTS.md section 74.

Inputs are uniform int8 in [-128, 127] (or [0, 127] with --nonneg, the u8
tile's case, for the same shape's rate without the sign trick); weights
"bell": a normal per output channel scaled to 127, as a per-channel
quantizer leaves them. Prints per shape the minimum over --rounds of the mean
time of repeated runs (each round --min-time CPU seconds), GMAC/s and the
kernel the dispatcher chose. For an A/B of two builds run it under each
tree's PYTHONPATH in turn, alternating.

Usage: PYTHONPATH=python python benchmarks/signed_conv_shapes.py [--rounds 5] [--nonneg]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

# (name, H = W, C, K, R = S, stride, pad): MobileNetV2 at 224 x 224, batch 1.
SHAPES: List[Tuple[str, int, int, int, int, int, int]] = [
    ("stem 3x3/2 3->32", 224, 3, 32, 3, 2, 1),
    ("exp 56x56 24->144", 56, 24, 144, 1, 1, 0),
    ("exp 28x28 32->192", 28, 32, 192, 1, 1, 0),
    ("exp 14x14 64->384", 14, 64, 384, 1, 1, 0),
    ("exp 14x14 96->576", 14, 96, 576, 1, 1, 0),
    ("exp 7x7 160->960", 7, 160, 960, 1, 1, 0),
]


def bell(rng: np.random.Generator, shape: Tuple[int, ...]) -> np.ndarray:
    """int8 weights: a normal per output channel scaled so that its |w| maximum is 127."""
    w = rng.standard_normal(shape)
    amax = np.abs(w.reshape(shape[0], -1)).max(1).reshape((-1,) + (1,) * (len(shape) - 1))
    return np.rint(w / amax * 127).astype(np.int8)


def packed_conv(K: Any, rng: np.random.Generator, shape: Tuple[str, int, int, int, int, int, int], batch: int = 1,
                low: int = -128) -> Tuple[Any, np.ndarray]:
    """One shape's packed conv through the test hook ``K``
    (int8rt._testing.kernels): bell weights, scales 1e-3, no bias, the int8
    range as its clamp, and an input uniform in [low, 127], run once."""
    _, h, c, k, r, s, p = shape
    x = rng.integers(low, 128, (batch, h, h, c), dtype=np.int8)
    conv = K.PackedConv2d(bell(rng, (k, c, r, r)), h, h, np.full(k, 1e-3, np.float32),
                          np.zeros(k, np.float32), lo=-128.0, hi=127.0, stride=(s, s), pads=(p, p, p, p))
    conv.run(x)
    return conv, x


def best_ms(conv: Any, x: np.ndarray, min_time: float, repeats: int,
            clock: Callable[[], float] = time.thread_time) -> float:
    """The lowest of ``repeats`` means (ms) of ``conv.run(x)``, each mean over
    runs filling ``min_time`` seconds of ``clock``."""
    best = float("inf")
    for _ in range(repeats):
        n, c0 = 0, clock()
        while clock() - c0 < min_time:
            conv.run(x)
            n += 1
        best = min(best, (clock() - c0) / n * 1e3)
    return best


def time_shapes(shapes: Sequence[Tuple[str, int, int, int, int, int, int]], min_time: float, repeats: int = 1,
                batch: int = 1, low: int = -128, clock: Callable[[], float] = time.thread_time) -> Dict[str, dict]:
    """A worker's pass of an A/B script: each shape's packed conv (one
    thread, seed 0, inputs in [low, 127]) timed by best_ms; returns
    {name: {ms, kernel}} as alternate_trees reads it."""
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    out: Dict[str, dict] = {}
    for shape in shapes:
        conv, x = packed_conv(K, rng, shape, batch=batch, low=low)
        out[shape[0]] = {"ms": best_ms(conv, x, min_time, repeats, clock), "kernel": conv.kernel}
    return out


def print_ab(times: Dict[str, Dict[str, List[float]]], rounds: int, width: int = 26) -> None:
    """The A/B table of alternate_trees' times: per shape the medians over
    rounds of base and branch, branch / base, the per-round ratio range, and
    the minima over rounds with their ratio."""
    print(f"{'shape':{width}s} {'base ms':>9s} {'branch ms':>9s} {'branch/base':>11s}  (medians over {rounds} rounds; "
          "per-round ratio range; minima over rounds and their ratio)")
    for name in times["base"]:
        b, r = statistics.median(times["base"][name]), statistics.median(times["branch"][name])
        bm, rm = min(times["base"][name]), min(times["branch"][name])
        ratios = [y / x for x, y in zip(times["base"][name], times["branch"][name])]
        print(f"{name:{width}s} {b:9.3f} {r:9.3f} {r / b:11.3f}  ({min(ratios):.3f}-{max(ratios):.3f}; "
              f"minima {bm:.3f} / {rm:.3f} = {rm / bm:.3f})")


def alternate_trees(script: str, trees: Dict[str, Path], wargs: List[str],
                    rounds: int) -> Tuple[Dict[str, Dict[str, List[float]]], Dict[str, Dict[str, str]]]:
    """Run ``script --worker *wargs`` under each tree's PYTHONPATH in turn,
    the order reversed every other round; the worker prints
    {shape: {ms, kernel}} as JSON. Prints each round's times; returns
    {tree: {shape: [ms per round]}} and {tree: {shape: kernel}}."""
    times: Dict[str, Dict[str, List[float]]] = {t: {} for t in trees}
    kernels: Dict[str, Dict[str, str]] = {t: {} for t in trees}
    first, second = list(trees)
    for rnd in range(rounds):
        for t in (list(trees) if rnd % 2 == 0 else list(trees)[::-1]):
            res = subprocess.run([sys.executable, script, "--worker", *wargs],
                                 env=dict(os.environ, PYTHONPATH=str(trees[t])), capture_output=True, text=True,
                                 check=True)
            for name, v in json.loads(res.stdout).items():
                times[t].setdefault(name, []).append(v["ms"])
                kernels[t][name] = v["kernel"]
        print(f"round {rnd + 1} (load {open('/proc/loadavg').read().split()[0]}): "
              + "; ".join(f"{n} {times[first][n][-1]:.3f} / {times[second][n][-1]:.3f}" for n in times[first]),
              flush=True)
    return times, kernels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.05, help="CPU seconds per round")
    ap.add_argument("--nonneg", action="store_true", help="inputs in [0, 127] (the u8 tile)")
    args = ap.parse_args()
    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        name, h, c, k, r, s, p = shape
        conv, x = packed_conv(K, rng, shape, low=0 if args.nonneg else -128)
        best = best_ms(conv, x, args.min_time, args.rounds, time.process_time)
        oh = (h + 2 * p - r) // s + 1
        macs = oh * oh * k * c * r * r
        print(f"{name:20s} {best:7.3f} ms {macs / best / 1e6:6.1f} GMAC/s  {conv.kernel}", flush=True)


if __name__ == "__main__":
    main()
