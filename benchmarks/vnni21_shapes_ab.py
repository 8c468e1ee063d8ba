"""Convs of 24 output channels on the AVX512-VNNI tier per int8rt tree
(RESULTS.md section 251): which reductions the 6 x 24 ymm tile
(avx512vnni/igemm_6x24c4.cc) pays on against the 6 x 64 tile. For each shape,
signed int8 inputs, batch 1, one thread: the thread CPU time of one
dispatched call of the test hook (int8rt._testing.kernels.conv2d_s8, the
weights packed per call: 0.6-83 KB, a few microseconds), the median and
minimum over --runs calls, with the kernel the dispatch log names and a
CRC of the output (every tree must print the same). The trees alternate as
worker processes (--trees: python/ folders, order reversed every other
pass), --passes times; at the end per shape each tree's median over passes
and its ratio to the first tree's.

Usage: python benchmarks/vnni21_shapes_ab.py --trees /tmp/vnni21/base/python /tmp/vnni21/br/python \
           [/tmp/vnni21/br0/python] [--passes 3 --runs 30]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import zlib

# (name, C, H, W, K, R): reductions 24 .. 864; det's FPN conv first.
SHAPES = [
    ("3x3 96->24 @80", 96, 80, 80, 24, 3),
    ("3x3 32->24 @40", 32, 40, 40, 24, 3),
    ("1x1 256->24 @40", 256, 40, 40, 24, 1),
    ("3x3 16->24 @80", 16, 80, 80, 24, 3),
    ("1x1 144->24 @56", 144, 56, 56, 24, 1),
    ("1x1 96->24 @56", 96, 56, 56, 24, 1),
    ("1x1 24->24 @80", 24, 80, 80, 24, 1),
]


def worker(runs: int) -> dict:
    """{shape: [median ms, min ms, crc]} on this tree, plus each shape's wide-tile log line."""
    import numpy as np

    import int8rt
    from int8rt._testing import kernels as K
    int8rt.set_num_threads(1)
    out: dict = {}
    rng = np.random.default_rng(0)
    for name, c, h, w, k, r in SHAPES:
        x = rng.integers(-128, 128, (1, h, w, c), dtype=np.int8)
        wt = rng.integers(-127, 128, (k, c, r, r), dtype=np.int8)
        scale = np.full(k, 1.0 / (c * r * r * 64), np.float32)
        bias = rng.uniform(-5, 5, k).astype(np.float32)
        p = r // 2

        def call():
            return K.conv2d_s8(x, wt, scale, bias, pads=(p, p, p, p))
        y = call()
        ts = []
        for _ in range(runs):
            t0 = time.thread_time()
            call()
            ts.append((time.thread_time() - t0) * 1e3)
        out[name] = [statistics.median(ts), min(ts), zlib.crc32(y.tobytes())]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trees", nargs="+", default=[])
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.runs)))
        return
    print("load", open("/proc/loadavg").read().split()[:3], flush=True)
    med: dict = {t: {s[0]: [] for s in SHAPES} for t in args.trees}
    crcs: dict = {t: {} for t in args.trees}
    for p in range(args.passes):
        for tree in (args.trees if p % 2 == 0 else args.trees[::-1]):
            env = {**os.environ, "PYTHONPATH": tree}
            if p == 0:  # the dispatch log once per tree
                env["INT8RT_LOG"] = "dispatch"
            r = subprocess.run([sys.executable, __file__, "--worker", "--runs", str(args.runs)], env=env,
                               capture_output=True, text=True, check=True)
            o = json.loads(r.stdout.strip().splitlines()[-1])
            if p == 0:
                wide = [ln for ln in r.stderr.splitlines() if "runs 24 channels per group as" in ln]
                print(f"{tree}: {len(wide)} calls of {len(SHAPES) * (args.runs + 1)} on the wide tile: {sorted(set(wide))}")
            for name, (m, lo, crc) in o.items():
                med[tree][name].append(m)
                crcs[tree][name] = crc
            print(f"pass {p} {tree}: " + ", ".join(f"{k} {v[0]:.4f}" for k, v in o.items()), flush=True)
    first = args.trees[0]
    for name, *_ in SHAPES:
        a = statistics.median(med[first][name])
        cells = [f"{statistics.median(med[t][name]):.4f} ms (x{statistics.median(med[t][name]) / a:.3f})"
                 for t in args.trees[1:]]
        same = all(crcs[t][name] == crcs[first][name] for t in args.trees)
        print(f"{name:18s} {a:.4f} ms -> " + " | ".join(cells) + ("" if same else "  OUTPUTS DIFFER"), flush=True)
    print("load", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
