"""ResNet-50's int8 convolutions one at a time through int8rt's conv kernels,
in process CPU time, 1 thread; optionally against another int8rt tree (a
before/after A/B of a kernel change).

Each layer (the 23 distinct conv shapes of torchvision's ResNet-50 at 224x224,
the stride on the 3x3 conv; the last 1x1 of a bottleneck with its residual)
runs through `int8rt._testing.kernels.PackedConv2d` (the kernel the engine
would choose) on NHWC int8 input in [0, 127] (a ReLU output), ReLU epilogue.
Weights (--weights): "bell" (default) as a per-channel quantizer makes them
from normal weights, a seeded normal per output channel scaled so that its
largest magnitude is 127 (the AVX2 tier's pair-sum u8 tile takes such
weights, RESULTS.md section 68); "uniform" draws every int8 value alike
(sections 56-63 measured with those; that tier keeps its plain u8 tile).
Per layer: the minimum over rounds of CPU ms per call (each round repeats
the call for at least --min-time CPU seconds), GOPS (2 x multiply-adds / s)
and the kernel; the last row weights each layer by how often ResNet-50 has
it. With one thread the process CPU time of a call is its own cost whatever
the machine's load (cache contention from other processes still enters).

--promise-ab packs every layer twice in this process, without and with the
engine's promise that the input holds no negative value (ConvShape::
nonneg_input: what the engine gives every conv after a ReLU, i.e. all but
the stem; AVX512-VNNI then runs its tile without the sign shift), alternates
the two within each round and prints both minima and their ratio.

--promised packs every layer but the stem with that promise, as the engine
does (RESULTS.md section 121: the pointwise strips run only under it).

--against DIR runs the same measurement with PYTHONPATH=DIR (another
checkout's python/ folder, e.g. a copy of main's) in a subprocess,
alternating with this tree --alternations times, and prints both minima and
their ratio (this tree / DIR: < 1 means this tree is faster).

Usage: cd /tmp && PYTHONPATH=<tree>/python python3 <tree>/benchmarks/resnet50_convs_bench.py
       [--batch 8] [--rounds 5] [--min-time 0.05] [--only SUBSTRING ...]
       [--against DIR --alternations 3] [--promise-ab]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, NamedTuple, Optional

import numpy as np


class ConvLayer(NamedTuple):
    name: str
    c: int
    h: int  # input height = width
    k: int
    r: int  # kernel height = width, padding r // 2
    stride: int
    residual: bool
    count: int  # how many ResNet-50 has

    def out_h(self) -> int:
        return (self.h + 2 * (self.r // 2) - self.r) // self.stride + 1

    def macs(self, batch: int) -> int:
        return batch * self.out_h() ** 2 * self.k * self.c * self.r * self.r


LAYERS = [ConvLayer("stem 3->64 7x7 s2 @224", 3, 224, 64, 7, 2, False, 1),
          ConvLayer("64->64 1x1 @56", 64, 56, 64, 1, 1, False, 1),
          ConvLayer("256->64 1x1 @56", 256, 56, 64, 1, 1, False, 2),
          ConvLayer("64 3x3 @56", 64, 56, 64, 3, 1, False, 3),
          ConvLayer("64->256 1x1 @56 +res", 64, 56, 256, 1, 1, True, 4),
          ConvLayer("256->128 1x1 @56", 256, 56, 128, 1, 1, False, 1),
          ConvLayer("128 3x3 s2 @56", 128, 56, 128, 3, 2, False, 1),
          ConvLayer("256->512 1x1 s2 @56", 256, 56, 512, 1, 2, False, 1),
          ConvLayer("512->128 1x1 @28", 512, 28, 128, 1, 1, False, 3),
          ConvLayer("128 3x3 @28", 128, 28, 128, 3, 1, False, 3),
          ConvLayer("128->512 1x1 @28 +res", 128, 28, 512, 1, 1, True, 4),
          ConvLayer("512->256 1x1 @28", 512, 28, 256, 1, 1, False, 1),
          ConvLayer("256 3x3 s2 @28", 256, 28, 256, 3, 2, False, 1),
          ConvLayer("512->1024 1x1 s2 @28", 512, 28, 1024, 1, 2, False, 1),
          ConvLayer("1024->256 1x1 @14", 1024, 14, 256, 1, 1, False, 5),
          ConvLayer("256 3x3 @14", 256, 14, 256, 3, 1, False, 5),
          ConvLayer("256->1024 1x1 @14 +res", 256, 14, 1024, 1, 1, True, 6),
          ConvLayer("1024->512 1x1 @14", 1024, 14, 512, 1, 1, False, 1),
          ConvLayer("512 3x3 s2 @14", 512, 14, 512, 3, 2, False, 1),
          ConvLayer("1024->2048 1x1 s2 @14", 1024, 14, 2048, 1, 2, False, 1),
          ConvLayer("2048->512 1x1 @7", 2048, 7, 512, 1, 1, False, 2),
          ConvLayer("512 3x3 @7", 512, 7, 512, 3, 1, False, 2),
          ConvLayer("512->2048 1x1 @7 +res", 512, 7, 2048, 1, 1, True, 3)]


def conv_weights(rng: np.random.Generator, shape: tuple, kind: str) -> np.ndarray:
    """int8 OIHW weights: "bell" (a normal per output channel scaled to a
    largest magnitude of 127, rounded) or "uniform" (every int8 value)."""
    if kind == "uniform":
        return rng.integers(-128, 128, shape, dtype=np.int8)
    w = rng.standard_normal(shape)
    amax = np.abs(w.reshape(shape[0], -1)).max(axis=1).reshape(-1, 1, 1, 1)
    return np.rint(w / amax * 127).astype(np.int8)


def measure(layers: List[ConvLayer], batch: int, rounds: int, min_time: float,
            weights: str = "bell", promise_ab: bool = False, promised: bool = False) -> Dict[str, dict]:
    """Per layer name: {"ms": minimum CPU ms per call, "kernel": name}, and
    with promise_ab "ms_promised", the same conv packed with nonneg_input,
    timed alternately with the other in each round."""
    import int8rt
    from int8rt._testing import kernels as K

    int8rt.set_num_threads(1)
    rng = np.random.default_rng(0)
    out: Dict[str, dict] = {}
    for layer in layers:
        p = layer.r // 2
        oh = layer.out_h()
        x = rng.integers(0, 128, (batch, layer.h, layer.h, layer.c), dtype=np.int8)
        w = conv_weights(rng, (layer.k, layer.c, layer.r, layer.r), weights)
        res = rng.integers(-128, 128, (batch, oh, oh, layer.k), dtype=np.int8) if layer.residual else None
        convs = {}
        # --promised: "ms" with the promise, as the engine packs every conv but the stem.
        plain = promised and not layer.name.startswith("stem")
        for key, promise in (("ms", plain), ("ms_promised", True))[:2 if promise_ab else 1]:
            kw = {"nonneg_input": True} if promise else {}  # a tree without the option runs without it
            conv = K.PackedConv2d(w, layer.h, layer.h, np.full(layer.k, 1e-4, np.float32),
                                  np.zeros(layer.k, np.float32), lo=0.0, hi=127.0,
                                  stride=(layer.stride, layer.stride), pads=(p, p, p, p), **kw)
            convs[key] = (lambda c=conv: c.run(x, res, 0.5)) if res is not None else (lambda c=conv: c.run(x))
            convs[key]()
        best = {key: float("inf") for key in convs}
        for _ in range(rounds):
            for key, call in convs.items():
                n, c0 = 0, time.process_time()
                while True:
                    call()
                    n += 1
                    c = time.process_time() - c0
                    if c >= min_time:
                        break
                best[key] = min(best[key], c / n)
        out[layer.name] = {**{key: v * 1e3 for key, v in best.items()}, "kernel": conv.kernel}
    return out


def run_against(tree: str, args: argparse.Namespace) -> Dict[str, dict]:
    """measure() in a subprocess whose int8rt comes from `tree`."""
    cmd = [sys.executable, os.path.abspath(__file__), "--json", "--batch", str(args.batch), "--rounds",
           str(args.rounds), "--min-time", str(args.min_time), "--weights", args.weights] + (
               ["--only", *args.only] if args.only else []) + (["--promised"] if args.promised else [])
    env = dict(os.environ, PYTHONPATH=tree)
    return json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.05, help="CPU seconds per layer per round")
    ap.add_argument("--only", nargs="+", default=[], help="layers whose name contains any of these")
    ap.add_argument("--against", metavar="DIR", help="another tree's python/ folder to compare with")
    ap.add_argument("--alternations", type=int, default=3, help="with --against: runs of each tree")
    ap.add_argument("--weights", choices=["bell", "uniform"], default="bell",
                    help="quantizer-like weights (default) or uniform int8 values")
    ap.add_argument("--promise-ab", action="store_true",
                    help="each layer also packed with the non-negative input promise, alternating, in this process")
    ap.add_argument("--promised", action="store_true",
                    help="pack every layer but the stem with the non-negative input promise, as the engine does")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the subprocess form
    args = ap.parse_args()
    layers = [l for l in LAYERS if not args.only or any(s in l.name for s in args.only)]
    if args.json:
        print(json.dumps(measure(layers, args.batch, args.rounds, args.min_time, args.weights,
                                 promised=args.promised)))
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_util import load_line, machine_line

    print(machine_line())
    print(f"batch {args.batch}, 1 thread, {args.weights} weights, minimum CPU ms per call over {args.rounds} rounds; "
          f"{load_line()}")
    here: Optional[Dict[str, dict]] = None
    there: Optional[Dict[str, dict]] = None

    def keep_min(acc: Optional[Dict[str, dict]], new: Dict[str, dict]) -> Dict[str, dict]:
        if acc is None:
            return new
        return {k: {**acc[k], **{m: min(acc[k][m], new[k][m]) for m in acc[k] if m.startswith("ms")}} for k in acc}

    for _ in range(args.alternations if args.against else 1):
        here = keep_min(here, measure(layers, args.batch, args.rounds, args.min_time, args.weights, args.promise_ab,
                                      args.promised))
        if args.against:
            there = keep_min(there, run_against(args.against, args))
    assert here is not None
    head = ("| layer | x in net | ms | GOPS |" + (" ms (against) | GOPS | this / against |" if there else "") +
            (" ms promised | promised / not |" if args.promise_ab else "") + " kernel |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    tot_here = tot_there = tot_promised = 0.0
    for l in layers:
        a = here[l.name]["ms"]
        tot_here += a * l.count
        gops = 2 * l.macs(args.batch) / a / 1e6
        cells = f"| {l.name} | {l.count} | {a:.3f} | {gops:.0f} |"
        if there:
            b = there[l.name]["ms"]
            tot_there += b * l.count
            cells += f" {b:.3f} | {2 * l.macs(args.batch) / b / 1e6:.0f} | {a / b:.3f} |"
        if args.promise_ab:
            pm = here[l.name]["ms_promised"]
            tot_promised += pm * l.count
            cells += f" {pm:.3f} | {pm / a:.3f} |"
        print(cells + f" {here[l.name]['kernel']} |")
    tail = f"| **weighted by count** | | {tot_here:.2f} | |"
    if there:
        tail += f" {tot_there:.2f} | | {tot_here / tot_there:.3f} |"
    if args.promise_ab:
        tail += f" {tot_promised:.2f} | {tot_promised / tot_here:.3f} |"
    print(tail + " |")
    print(f"end: {load_line()}")


if __name__ == "__main__":
    main()
