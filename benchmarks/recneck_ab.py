"""PP-OCR rec INT8, this tree's build against another build of int8rt, in one
process, alternating (RESULTS.md section 124): the engines are built by each
build in a process of its own (e2e_bench.py's calibrators on its feeds,
`save`), then loaded by both builds side by side (`time`: the other build
imported with before_build.import_before) and timed alternately per
calibrator and batch, 1 thread, process CPU time, medians; each pair's
outputs are compared too (largest difference and relative L2 between the
builds' engines). A third engine, the other build's file loaded by this
build (its lowering, this build's kernels), splits the two kinds of change,
and its output must be == the other build's, byte for byte.

    PYTHONPATH=<before tree>/python python benchmarks/recneck_ab.py save /tmp/ab/before
    PYTHONPATH=python python benchmarks/recneck_ab.py save /tmp/ab/after
    python benchmarks/before_build.py <before tree>/python/int8rt /tmp/ab/lib
    PYTHONPATH=python python benchmarks/recneck_ab.py time /tmp/ab/after --before /tmp/ab/before --lib /tmp/ab/lib
    (--profile: also each kernel's time in 'after' and 'kernels', what the lowering moved)
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import e2e_bench as B  # first: sets the thread environment and sys.path
from bench_util import load_line, machine_line, time_alternating
import e2e_feeds as F
from recneck_profile import kernel_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["save", "time"])
    ap.add_argument("folder", type=Path, help="save: where this build's engines go; time: this build's engines")
    ap.add_argument("--before", type=Path, help="time: the other build's engines")
    ap.add_argument("--lib", help="time: before_build.make_before's folder of the other build")
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/e2eall/models"))
    ap.add_argument("--calibrators", nargs="+", default=["auto", "entropy"], choices=sorted(B.CALIBRATORS))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--profile", action="store_true",
                    help="time: also profile 'after' against 'kernels' (this build, both lowerings) by kernel")
    args = ap.parse_args()
    B.set_threads(1)
    print(machine_line())
    s = B.subject("ppocr_rec", 224, args.models_dir)
    if args.mode == "save":
        args.folder.mkdir(parents=True, exist_ok=True)
        for c in args.calibrators:
            engine = B.int8rt.build_engine(s.onnx_path, B.int8rt.BuilderConfig(
                precision="int8", calibrator=B.CALIBRATORS[c](s.calib_feeds)))
            engine.save(args.folder / f"rec_{c}.i8rt")
            print(f"saved {args.folder / f'rec_{c}.i8rt'} ({B.int8rt.__file__})")
        return
    from before_build import import_before

    old = import_before(args.lib)
    old.set_num_threads(1)  # a library of its own: its own thread pool (2 threads would count their CPU time twice)
    for c in args.calibrators:
        # "kernels": the other build's engine file loaded by this build (its
        # lowering, this build's kernels), so the two changes part.
        engines = {"after": B.int8rt.Engine.load(args.folder / f"rec_{c}.i8rt"),
                   "kernels": B.int8rt.Engine.load(args.before / f"rec_{c}.i8rt"),
                   "before": old.Engine.load(args.before / f"rec_{c}.i8rt")}
        runs = {k: F.int8rt_runner(e) for k, e in engines.items()}
        for batch in args.batches:
            x = s.feed(batch)
            med = time_alternating({k: (lambda f=f: f(x)) for k, f in runs.items()}, args.rounds, args.min_time,
                                   clock=time.process_time)
            a, k, b = runs["after"](x), runs["kernels"](x), runs["before"](x)
            assert k.tobytes() == b.tobytes(), "the kernels changed an output byte"
            print(f"rec {c} batch {batch} ({load_line()}): after {med['after'] * 1e3:.3f} ms, kernels "
                  f"{med['kernels'] * 1e3:.3f} ms, before {med['before'] * 1e3:.3f} ms; after / before "
                  f"{med['after'] / med['before']:.3f}, kernels / before {med['kernels'] / med['before']:.3f}, after / "
                  f"kernels {med['after'] / med['kernels']:.3f}; outputs after vs before: max |diff| "
                  f"{float(np.abs(a - b).max()):.3g}, rel L2 {float(np.linalg.norm(a - b) / np.linalg.norm(b)):.3g}")
            if args.profile:
                profile_lowerings({k: engines[k] for k in ("after", "kernels")}, x, args.rounds)


def profile_lowerings(engines: dict, x, rounds: int) -> None:
    """Thread CPU ms by kernel of two engines of this build, profiled alternately (5 runs a round), medians."""
    ctxs = {k: e.create_execution_context() for k, e in engines.items()}
    per = {k: defaultdict(list) for k in engines}
    for _ in range(rounds):
        for k, ctx in ctxs.items():
            sums = defaultdict(float)
            for layer in ctx.profile(x, 5, clock="thread_cpu"):
                sums[kernel_of(layer)] += layer["ms"]
            sums["(layer sum)"] = sum(sums.values())
            for kind, ms in sums.items():
                per[k][kind].append(ms)
    med = {k: {kind: statistics.median(v) for kind, v in d.items()} for k, d in per.items()}
    kinds = sorted(set(med["after"]) | set(med["kernels"]),
                   key=lambda q: -abs(med["after"].get(q, 0.0) - med["kernels"].get(q, 0.0)))
    for kind in kinds:
        a, b = med["after"].get(kind, 0.0), med["kernels"].get(kind, 0.0)
        print(f"    {kind:48s} after {a:7.3f} ms  kernels {b:7.3f} ms  {a - b:+.3f}")


if __name__ == "__main__":
    main()
