"""What asymmetric activations (BuilderConfig(asymmetric_activations=True),
docs/numerics.md) cost in speed: the same calibration (the same symmetric
scales), built with and without, timed alternately in one process on
1 thread by the process's CPU time (bench_util.alternating_samples), so
load from other jobs falls on both alike; unsigned_speed.py's method. Also
counts the tensors held over [lo, T] with lo < 0 (zero point neither 0 nor
-128) and the layers of each engine.

Networks: e2e_bench.py's (random-weight architectures, BatchNorm statistics
from data), 224x224, calibrated with minmax on its 4 batches of 8 Gaussian
images; those with SiLU / HardSwish tables: mobilenet_v3, efficientnet_b0.

    cd /tmp && PYTHONPATH=$REPO/python python $REPO/benchmarks/asym_speed.py \\
        [--models mobilenet_v3,efficientnet_b0] [--batches 1 8] [--rounds 11]
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


def main() -> None:
    from e2e_bench import export

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mobilenet_v3,efficientnet_b0")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--min-time", type=float, default=2.0)
    args = ap.parse_args()
    print(machine_line())
    int8rt.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    for name in args.models.split(","):
        s = export(name, 224, tmp)
        calib = {"input": np.concatenate(s.calib)}
        engines = {}
        for label, asym in (("symmetric", False), ("asymmetric", True)):
            cal = int8rt.make_calibrator(calib, algorithm="minmax", batch_size=8)
            engines[label] = int8rt.build_engine(str(s.onnx_path), int8rt.BuilderConfig(
                calibrator=cal, accuracy_check=False, asymmetric_activations=asym))
        plan = engines["asymmetric"].int8_plan()
        held = sum(t.zero_point not in (0, -128) for t in plan.tensors)
        ops = {k: [layer["op"] for layer in e.layers()] for k, e in engines.items()}
        print(f"\n### {name}: {held} of {len(plan.tensors)} int8 tensors over [lo, T]; "
              f"layers {len(ops['symmetric'])} -> {len(ops['asymmetric'])}\n")
        print("| batch | symmetric ms (CPU) | asymmetric ms (CPU) | asymmetric / symmetric (median of per-round "
              "ratios) | load |")
        print("|---|---|---|---|---|")
        for batch in args.batches:
            x = {"input": np.random.default_rng(2).standard_normal((batch, 3, 224, 224), dtype=np.float32)}
            ctx = {k: e.create_execution_context() for k, e in engines.items()}
            runs = {k: (lambda c=c: c.run(x)) for k, c in ctx.items()}
            t = alternating_samples(runs, args.rounds, args.min_time, clock=time.process_time)
            ratios = [a / s for s, a in zip(t["symmetric"], t["asymmetric"])]
            print(f"| {batch} | {1e3 * statistics.median(t['symmetric']):.1f} | "
                  f"{1e3 * statistics.median(t['asymmetric']):.1f} | {statistics.median(ratios):.3f} "
                  f"({len(ratios)} rounds) | {os.getloadavg()[0]:.1f} |", flush=True)
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
