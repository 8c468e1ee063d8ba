"""mixhs: what fusing a float conv's element-wise chain (fuse_float_chain.cc) saves, per op and whole engine.

Loads the engines given (built before and after by `int8rt build`, e.g. with and without the fusion from the
same calibration cache), runs them alternated in one process on the first BATCH samples of DATA.npz and prints
(1) each engine's median process CPU ms per run (all its threads: the machine is shared) and its ratio to the
first engine named FP32 (--ref), (2) each engine's per-op profile (`ctx.profile(..., clock="thread_cpu")`,
summed by op and precision, median of --profile-runs), and (3) whether engines given in pairs (--same A B)
give identical outputs. Usage:
  python benchmarks/mixhs_float_chain.py DATA.npz BATCH NAME=ENGINE.i8rt ... [--runs N] [--ref NAME] [--same A B]
"""
from __future__ import annotations

import argparse
import collections
import time

import numpy as np

import int8rt


def profile_by_op(ctx: int8rt.ExecutionContext, feed: dict, runs: int) -> dict[str, float]:
    """Thread-CPU ms per (op, precision), summed over the engine's layers (the profile's per-layer medians)."""
    rows = ctx.profile(feed, runs, clock="thread_cpu")
    by_op: dict[str, float] = collections.defaultdict(float)
    for r in rows:
        key = r["op"] + (" (" + r["detail"].split(" ")[-1] + ")" if "+chain" in r["detail"] else "")
        by_op[f"{key} [{r['precision']}]"] += r["ms"]
    return dict(by_op)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("batch", type=int)
    ap.add_argument("engines", nargs="+", help="NAME=PATH")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--profile-runs", type=int, default=3)
    ap.add_argument("--ref", default=None, help="NAME whose time the ratios divide by")
    ap.add_argument("--same", nargs=2, action="append", default=[], metavar=("A", "B"))
    args = ap.parse_args()
    z = np.load(args.data)
    feed = {k: np.ascontiguousarray(z[k][:args.batch]) for k in z.files}
    paths = dict(e.split("=", 1) for e in args.engines)
    ctxs = {n: int8rt.Engine.load(p).create_execution_context() for n, p in paths.items()}
    outs = {n: c.run(feed) for n, c in ctxs.items()}
    for a, b in args.same:
        same = all(np.array_equal(outs[a][k], outs[b][k]) for k in outs[a])
        diff = max(float(np.max(np.abs(outs[a][k] - outs[b][k]))) for k in outs[a])
        print(f"outputs {a} vs {b}: {'identical' if same else 'differ'} (max |diff| {diff:.3g})")
    times = {n: [] for n in ctxs}
    for _ in range(args.runs):
        for n, c in ctxs.items():
            t0 = time.process_time()
            c.run(feed)
            times[n].append((time.process_time() - t0) * 1e3)
    ref = float(np.median(times[args.ref])) if args.ref else None
    for n, t in times.items():
        m = float(np.median(t))
        print(f"{n}: {m:.1f} ms process CPU (median of {args.runs}, batch {args.batch})"
              + (f", {m / ref:.2f} x {args.ref}" if ref else ""))
    profiles = {n: profile_by_op(c, feed, args.profile_runs) for n, c in ctxs.items()}
    keys = sorted({k for p in profiles.values() for k in p}, key=lambda k: -max(p.get(k, 0.0) for p in profiles.values()))
    print("op [precision] | " + " | ".join(profiles))
    for k in keys:
        print(f"{k} | " + " | ".join(f"{p.get(k, 0.0):.2f}" for p in profiles.values()))
    print("total | " + " | ".join(f"{sum(p.values()):.2f}" for p in profiles.values()))


if __name__ == "__main__":
    main()
