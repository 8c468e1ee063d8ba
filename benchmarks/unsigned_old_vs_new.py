"""The same unsigned-activation engine before and after a lowering change, in
one process: `save` (run with the OLD tree on PYTHONPATH) exports each
network (e2e_bench.py's), builds it with BuilderConfig(unsigned_activations=
True) and minmax calibration, and saves the ONNX file, the calibration data
and the engine under DIR; `compare` (run with the NEW tree) builds the same
ONNX file from the same data with the new tree, loads the old engine file
(engine files outlive lowering changes, DESIGN.md), checks that both give
the same outputs bit for bit on the timing input, and times both alternately
on 1 thread by process CPU time (bench_util.alternating_samples; median of
the per-round ratios).

    cd /tmp && PYTHONPATH=$OLD/python python $REPO/benchmarks/unsigned_old_vs_new.py save DIR [--models ...]
    cd /tmp && PYTHONPATH=$NEW/python python $REPO/benchmarks/unsigned_old_vs_new.py compare DIR [--batches 1 8]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import alternating_samples, load_line, machine_line  # noqa: E402


def build(onnx_path: Path, calib: np.ndarray) -> int8rt.Engine:
    cal = int8rt.make_calibrator({"input": calib}, algorithm="minmax", batch_size=8)
    return int8rt.build_engine(str(onnx_path), int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                                     unsigned_activations=True))


def save(out: Path, models: list[str]) -> None:
    from e2e_bench import export

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    for name in models:
        s = export(name, 224, tmp)
        calib = np.concatenate(s.calib)
        shutil.copy(s.onnx_path, out / f"{name}.onnx")
        np.save(out / f"{name}_calib.npy", calib)
        build(out / f"{name}.onnx", calib).save(str(out / f"{name}_old.i8rt"))
        print(f"saved {name}", flush=True)


def compare(out: Path, models: list[str], batches: list[int], rounds: int, min_time: float) -> None:
    print(machine_line())
    int8rt.set_num_threads(1)
    for name in models:
        old = int8rt.Engine.load(out / f"{name}_old.i8rt")
        new = build(out / f"{name}.onnx", np.load(out / f"{name}_calib.npy"))
        ops = {k: [layer["op"] for layer in e.layers()] for k, e in (("old", old), ("new", new))}
        print(f"\n### {name}: int8rt.QPad layers {ops['old'].count('int8rt.QPad')} (old) -> "
              f"{ops['new'].count('int8rt.QPad')} (new)\n")
        print("| batch | old unsigned ms (CPU) | new unsigned ms (CPU) | new / old (median of per-round ratios) "
              "| outputs equal | load |")
        print("|---|---|---|---|---|---|")
        for batch in batches:
            x = {"input": np.random.default_rng(2).standard_normal((batch, 3, 224, 224), dtype=np.float32)}
            ctx = {"old": old.create_execution_context(), "new": new.create_execution_context()}
            outs = {k: c.run(x) for k, c in ctx.items()}
            same = all(np.array_equal(outs["old"][o].view(np.uint32), outs["new"][o].view(np.uint32))
                       for o in outs["old"])
            runs = {k: (lambda c=c: c.run(x)) for k, c in ctx.items()}
            t = alternating_samples(runs, rounds, min_time, clock=time.process_time)
            ratios = [n / o for o, n in zip(t["old"], t["new"])]
            print(f"| {batch} | {1e3 * statistics.median(t['old']):.1f} | {1e3 * statistics.median(t['new']):.1f} | "
                  f"{statistics.median(ratios):.3f} ({len(ratios)} rounds) | {'yes' if same else 'NO'} | "
                  f"{os.getloadavg()[0]:.1f} |", flush=True)
    print(f"\nend: {load_line()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["save", "compare"])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--models", default="mobilenet_v2,efficientnet_lite0")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--min-time", type=float, default=2.0)
    args = ap.parse_args()
    models = args.models.split(",")
    if args.mode == "save":
        save(args.dir, models)
    else:
        compare(args.dir, models, args.batches, args.rounds, args.min_time)


if __name__ == "__main__":
    main()
