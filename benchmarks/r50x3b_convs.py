"""The AMX direct conv's magic-number epilogue (RESULTS.md section 207)
against its plain epilogue, in one process on one build: the same layer, weights
and input, packed twice, once with ConvShape::nonneg_input (the packer proves
|acc| <= 2^22 for every pair: magic) and once without it (the bound over
inputs of any sign fails for every pair: plain); everything else about the
two packs is the same kernel and data. Alternated round by round, 1 thread,
thread CPU time, medians; the two outputs are checked byte for byte.

Weights are uniform in [-wmax, wmax] (wmax per shape so that the input >= 0
bound holds and the any-sign one does not: 127 * max(P, N) <= 2^22 <
128 * P + 127 * N), the input in [0, 127].

Usage: PYTHONPATH=python python benchmarks/r50x3b_convs.py [--rounds 9]
    [--batches 1 8] [--shapes ...] [--aa]
(--aa: both packs plain, the same comparison's A/A noise.)
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

LIMIT = 1 << 22
# name: C, H (= W), K, R (= S), stride, wmax
SHAPES = {
    "3x3 64->64 @56": (64, 56, 64, 3, 1, 127),
    "3x3 128->128 @28": (128, 28, 128, 3, 1, 100),
    "3x3/2 128->128 @56": (128, 56, 128, 3, 2, 100),
    "3x3 256->256 @14": (256, 14, 256, 3, 1, 50),
}


def pack(dims, w, nonneg):
    c, h, k, r, stride, _ = dims
    p = r // 2
    rng = np.random.default_rng(1)
    scale = rng.uniform(40.0, 120.0, k).astype(np.float32) / np.float32(64 * 127 * c * r * r / 4)
    bias = rng.uniform(-3.0, 3.0, k).astype(np.float32)
    return K.PackedConv2d(w, h, h, scale, bias, lo=0.0, hi=127.0, stride=(stride, stride), pads=(p, p, p, p),
                          nonneg_input=nonneg)


def weights(dims, rng):
    c, _, k, r, _, wmax = dims
    w = rng.integers(-wmax, wmax + 1, (k, c, r, r), dtype=np.int8)
    q = w.reshape(k, -1).astype(np.int64)
    pos, neg = np.where(q > 0, q, 0).sum(1), np.where(q < 0, -q, 0).sum(1)
    assert (127 * np.maximum(pos, neg) <= LIMIT).all(), "input >= 0 bound fails: no magic pack"
    assert (np.maximum(128 * pos + 127 * neg, 127 * pos + 128 * neg) > LIMIT).all(), "plain pack not plain"
    return w


def timed(fn, min_time):
    n, t0 = 0, time.thread_time()
    while True:
        fn()
        n += 1
        dt = time.thread_time() - t0
        if dt >= min_time:
            return dt / n * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--shapes", nargs="*", default=list(SHAPES)[:2], choices=list(SHAPES))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--aa", action="store_true", help="both packs plain (the placement noise, A/A)")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    out = {"load": round(os.getloadavg()[0], 1), "aa": args.aa}
    for name in args.shapes:
        dims = SHAPES[name]
        w = weights(dims, rng)
        magic, plain = pack(dims, w, not args.aa), pack(dims, w, False)
        for b in args.batches:
            x = np.ascontiguousarray(rng.integers(0, 128, (b, dims[1], dims[1], dims[0]), dtype=np.int8))
            ym, yp = magic.run(x), plain.run(x)
            assert np.array_equal(np.asarray(ym), np.asarray(yp)), f"{name} b{b}: magic and plain outputs differ"
            tm, tp = [], []
            for _ in range(args.rounds):
                tp.append(timed(lambda: plain.run(x), args.min_time))
                tm.append(timed(lambda: magic.run(x), args.min_time))
            mp, mm = statistics.median(tp), statistics.median(tm)
            out[f"{name} b{b}"] = {"plain_ms": round(mp, 4), "magic_ms": round(mm, 4),
                                   "magic/plain": round(mm / mp, 3)}
        out.setdefault("kernels", {})[name] = magic.kernel
    out["load_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
