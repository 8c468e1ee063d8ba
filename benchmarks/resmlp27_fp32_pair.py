"""resmlp27: resmlp_12's FP32 engine before / after fold_input_affine, alternated in one process (RESULTS.md §286).

``--build OUT``: builds --model's FP32 engine under whichever tree PYTHONPATH names and saves it (main's tree for
"before", this branch's for "after"). ``--pair BEFORE AFTER``: loads both (kernels chosen again at load), one
thread, and at batch 1 and 8 runs them in turn (before, after, before, ...) on the same input (realnets' feeds,
seed 1) after two warm-up runs each; per engine the median process CPU and wall ms per run and after ÷ before.

Usage (repo root): PYTHONPATH=/tmp/main_copy/python python benchmarks/resmlp27_fp32_pair.py --model M.onnx --build B.i8rt
       PYTHONPATH=python python benchmarks/resmlp27_fp32_pair.py --model M.onnx --build A.i8rt
       PYTHONPATH=python python benchmarks/resmlp27_fp32_pair.py --pair B.i8rt A.i8rt [--rounds 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--build")
    ap.add_argument("--pair", nargs=2, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    import onnxruntime  # noqa: F401 - before int8rt, as the other sweeps do

    import int8rt
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    if args.build:
        int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32")).save(args.build)
        return 0
    int8rt.set_num_threads(1)
    print(machine_line())
    engines = {"fp32 before": int8rt.Engine.load(args.pair[0]), "fp32 after": int8rt.Engine.load(args.pair[1])}
    for label, e in engines.items():
        print(f"{label}: {len(e.layers())} layers")
    for batch in (1, 8):
        feed = M.NETS["resmlp_12"].feeds(batch, 1)
        ctx = {k: e.create_execution_context() for k, e in engines.items()}
        outs = {}
        for k, c in ctx.items():
            outs[k] = next(iter(c.run(feed).values()))
            c.run(feed)
        cpu: dict = {k: [] for k in ctx}
        wall: dict = {k: [] for k in ctx}
        for _ in range(args.rounds):
            for k, c in ctx.items():
                t0, c0 = time.perf_counter(), time.process_time()
                c.run(feed)
                wall[k].append((time.perf_counter() - t0) * 1e3)
                cpu[k].append((time.process_time() - c0) * 1e3)
        med = {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in ctx}
        diff = float(np.abs(outs["fp32 after"] - outs["fp32 before"]).max() / np.abs(outs["fp32 before"]).max())
        print(f"b{batch}: " + ", ".join(f"{k} cpu {c:.2f} ms wall {w:.2f} ms" for k, (c, w) in med.items()) +
              f"; after ÷ before cpu {med['fp32 after'][0] / med['fp32 before'][0]:.3f}"
              f"; max |after - before| / max |before| {diff:.2e} ({args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
