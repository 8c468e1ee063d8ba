"""Single INT8 convs through int8rt's kernel registry (int8rt._testing.kernels.
PackedConv2d, the layer's kernel as the engine picks it), 1 thread, thread
CPU time: the ResNet-50 stem and 3x3s and the 3x3/2 C = 3 stem of
MobileNet / EfficientNet, at batch 1 and 8, for a before / after of a
kernel change between two builds (RESULTS.md §191).

One build per process (its own PYTHONPATH); run the builds alternately and
compare medians as ratios (the machine is shared). Prints one JSON line:
shape -> median ms over `rounds` samples of at least `--min-time` s each.

Usage: PYTHONPATH=<build> python benchmarks/r50sp_convs.py --label base --rounds 7
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

import int8rt
from int8rt._testing import kernels as K

# name: C, H (= W), K, R (= S), stride, batch
SHAPES = {
    "stem 7x7/2 3->64 @224": (3, 224, 64, 7, 2),
    "mbv2 stem 3x3/2 3->32 @224": (3, 224, 32, 3, 2),
    "3x3 64->64 @56": (64, 56, 64, 3, 1),
    "3x3/2 128->128 @56": (128, 56, 128, 3, 2),
    "3x3 128->128 @28": (128, 28, 128, 3, 1),
    "3x3/2 256->256 @28": (256, 28, 256, 3, 2),
    "3x3 256->256 @14": (256, 14, 256, 3, 1),
}


def runner(dims, batch, rng):
    c, h, k, r, stride = dims
    x = np.ascontiguousarray(rng.integers(0, 128, (batch, h, h, c), dtype=np.int8))
    w = rng.integers(-128, 128, (k, c, r, r), dtype=np.int8)
    p = r // 2
    packed = K.PackedConv2d(w, h, h, np.full(k, 1e-4, np.float32), np.zeros(k, np.float32), lo=0.0, hi=127.0,
                            stride=(stride, stride), pads=(p, p, p, p))
    return (lambda: packed.run(x)), packed.kernel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    out = {"label": args.label, "load": round(os.getloadavg()[0], 1)}
    for name in args.shapes:
        for b in args.batches:
            run, kernel = runner(SHAPES[name], b, rng)
            run()
            samples = []
            for _ in range(args.rounds):
                n, t0 = 0, time.thread_time()
                while True:
                    run()
                    n += 1
                    dt = time.thread_time() - t0
                    if dt >= args.min_time:
                        break
                samples.append(dt / n * 1e3)
            out[f"{name} b{b}"] = round(statistics.median(samples), 4)
            out.setdefault("kernels", {})[name] = kernel
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
