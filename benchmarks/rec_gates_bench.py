"""int8_gates on the real PP-OCRv4 recogniser (PP-LCNetV3: hardswish and
squeeze-and-excitation gates): decoded-text agreement with int8rt FP32, line
and character accuracy against the rendered labels, layers by precision and
CPU time per run, int8_gates off against on, in one process.

Data as accuracy_bench.py's `rec` (text lines rendered from matplotlib's
fonts; calibration seed 1, evaluation seed 2), calibrated with each method
given (default entropy2, the builder's default, and minmax). Time: process
CPU time per run (1 thread, so other jobs' share of the core does not
count), medians of `--rounds` runs alternating between the engines, batch
1 and 8. Run it with two trees' PYTHONPATH to compare builds of int8rt.

Usage: cd /tmp && PYTHONPATH=<tree>/python python3 <tree>/benchmarks/rec_gates_bench.py
       [--calib 64] [--eval 300] [--methods entropy2 minmax] [--rounds 9]
Needs: pip install --no-deps rapidocr-onnxruntime==1.4.4; pillow, matplotlib.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
import accuracy_bench as A  # noqa: E402
from realnets import engines as E  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--eval", type=int, default=300)
    ap.add_argument("--methods", nargs="+", default=["entropy2", "minmax"])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    int8rt.set_num_threads(1)
    task = A.ocr_task("rec", args.calib, args.eval)
    if task is None:
        sys.exit("rapidocr-onnxruntime's models are not installed")
    from int8rt.data_calibrator import make_calibrator

    name = E._input_name(task["model"])
    fp32, _ = E.int8rt_engine(task["model"], "fp32", None, None)
    ref = E.run_batched(E.int8rt_runner(fp32), task["eval"])
    engines = {}
    for method in args.methods:
        for gates in (False, True):
            config = int8rt.BuilderConfig(calibrator=make_calibrator({name: task["calib"]}, algorithm=method,
                                                                     batch_size=16),
                                          accuracy_check=False, int8_gates=gates)
            engine = int8rt.build_engine(task["model"], config)
            kinds: dict = {}
            for layer in engine.layers():
                kinds[layer.get("precision", "?")] = kinds.get(layer.get("precision", "?"), 0) + 1
            row = A.metrics_row(task, E.run_batched(E.int8rt_runner(engine), task["eval"]), ref)
            print(f"rec {method} int8_gates={gates}: agree {row['agree']:.4f} line_acc {row['line_acc']:.4f} "
                  f"char_acc {row['char_acc']:.4f} centred_cos {row['centred_cos']:.4f} rel_l2 {row['rel_l2']:.4f} "
                  f"layers {kinds}", flush=True)
            engines[(method, gates)] = engine
    fp_row = A.metrics_row(task, ref, ref)
    print(f"rec FP32: line_acc {fp_row['line_acc']:.4f} char_acc {fp_row['char_acc']:.4f}")
    method = args.methods[0]
    for b in (1, 8):
        x = np.ascontiguousarray(task["eval"][:b])
        ctx = {g: engines[(method, g)].create_execution_context() for g in (False, True)}
        samples: dict = {g: [] for g in ctx}
        for g in ctx:
            ctx[g].run({name: x})
        for _ in range(args.rounds):
            for g in ctx:
                c0 = time.process_time()
                ctx[g].run({name: x})
                samples[g].append(time.process_time() - c0)
        print(f"rec {method} batch {b}: CPU ms per run, int8_gates False {statistics.median(samples[False]) * 1e3:.2f}, "
              f"True {statistics.median(samples[True]) * 1e3:.2f}", flush=True)


if __name__ == "__main__":
    main()
