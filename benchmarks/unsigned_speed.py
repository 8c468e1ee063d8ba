"""What unsigned activations (BuilderConfig(unsigned_activations=True),
docs/numerics.md) cost in speed: the same calibration (the same symmetric
scales), built with and without, timed alternately in one process on
1 thread by the process's CPU time (bench_util.alternating_samples), so
load from other jobs falls on both alike. Also counts the tensors held
unsigned and the int8rt.QPad layers the lowering added (until RESULTS.md
§46 a padded conv whose input has a zero point read it through one; since,
the conv kernels pad with the zero point and the count is 0).

Networks: e2e_bench.py's (random-weight torchvision architectures,
BatchNorm statistics from data), 224x224, calibrated with minmax on its
4 batches of 8 Gaussian images.

    cd /tmp && PYTHONPATH=$REPO/python python $REPO/benchmarks/unsigned_speed.py \\
        [--models resnet50,mobilenet_v2] [--batches 1 8] [--rounds 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import alternating_samples, load_line, machine_line  # noqa: E402


# Per grid: the BuilderConfig option it switches, the label of the engine with
# it on, which int8 tensors it holds, and the defaults of the command line.
GRIDS = {
    "unsigned": dict(option="unsigned_activations", held=lambda zp: zp != 0, what="unsigned",
                     models="resnet50,mobilenet_v2", rounds=15, min_time=3.0),
    "asymmetric": dict(option="asymmetric_activations", held=lambda zp: zp not in (0, -128),
                       what="over [lo, T]", models="mobilenet_v3,efficientnet_b0", rounds=11, min_time=2.0),
}


def main(grid: str = "unsigned") -> None:
    from e2e_bench import export

    g = GRIDS[grid]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=g["models"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=g["rounds"])
    ap.add_argument("--min-time", type=float, default=g["min_time"])
    args = ap.parse_args()
    print(machine_line())
    int8rt.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    for name in args.models.split(","):
        s = export(name, 224, tmp)
        calib = {"input": np.concatenate(s.calib)}
        engines = {}
        for label, on in (("symmetric", False), (grid, True)):
            cal = int8rt.make_calibrator(calib, algorithm="minmax", batch_size=8)
            engines[label] = int8rt.build_engine(str(s.onnx_path), int8rt.BuilderConfig(
                calibrator=cal, accuracy_check=False, **{g["option"]: on}))
        plan = engines[grid].int8_plan()
        held = sum(g["held"](t.zero_point) for t in plan.tensors)
        ops = {k: [layer["op"] for layer in e.layers()] for k, e in engines.items()}
        print(f"\n### {name}: {held} of {len(plan.tensors)} int8 tensors {g['what']}; QPad layers "
              f"{ops['symmetric'].count('int8rt.QPad')} -> {ops[grid].count('int8rt.QPad')}; "
              f"layers {len(ops['symmetric'])} -> {len(ops[grid])}\n")
        print(f"| batch | symmetric ms (CPU) | {grid} ms (CPU) | {grid} / symmetric (median of per-round ratios) | load |")
        print("|---|---|---|---|---|")
        for batch in args.batches:
            x = {"input": np.random.default_rng(2).standard_normal((batch, 3, 224, 224), dtype=np.float32)}
            ctx = {k: e.create_execution_context() for k, e in engines.items()}
            runs = {k: (lambda c=c: c.run(x)) for k, c in ctx.items()}
            t = alternating_samples(runs, args.rounds, args.min_time, clock=time.process_time)
            ratios = [u / s for s, u in zip(t["symmetric"], t[grid])]
            print(f"| {batch} | {1e3 * statistics.median(t['symmetric']):.1f} | "
                  f"{1e3 * statistics.median(t[grid]):.1f} | {statistics.median(ratios):.3f} "
                  f"({len(ratios)} rounds) | {os.getloadavg()[0]:.1f} |", flush=True)
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
