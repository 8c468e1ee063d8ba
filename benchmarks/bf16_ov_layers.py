"""BF16 per layer kind against OpenVINO bf16 (issue 13 §4): int8rt's FP32 +
bf16 engine (``bf16=True``) of e2e_models.py's network beside OpenVINO with
``INFERENCE_PRECISION_HINT=bf16`` and PERF_COUNT, grouped into the same
layer kinds (realnets/profile_kinds.py), 1 thread. The two profilers
alternate, ROUNDS rounds of RUNS runs each; per layer the median over rounds
(int8rt: the thread-CPU clock of ``ExecutionContext.profile``; OpenVINO's
PERF_COUNT times are wall time, so on a loaded machine its minimum over
rounds is printed too). Then each side's slowest layers.

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16_ov_layers.py \
           [--net mobilenet_v2] [--batch 1] [--rounds 5] [--runs 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_layers_profile import export  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mobilenet_v2")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    path = os.path.join(tempfile.mkdtemp(), f"{args.net}.onnx")
    export(args.net, path)
    x = np.random.default_rng(3).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    ov_model = O.load(path)

    def compile_fn():  # afresh per round: OpenVINO's PERF_COUNT are running means (openvino_engines.run_times)
        return O.compile_model(ov_model, 1, "bf16", x.shape, perf_count=True)
    compiled = compile_fn()
    ours_all, ov_all = [], []
    for _ in range(args.rounds):
        ours_all.append(ctx.profile({"input": x}, args.runs, clock="thread_cpu"))
        ov_all.append(O.profile(compile_fn, x, args.runs))
    print(machine_line())
    print(f"{args.net} batch {args.batch}, 1 thread: int8rt FP32+bf16 (thread CPU) against OpenVINO bf16 "
          f"(PERF_COUNT, wall), {args.rounds} alternating rounds of {args.runs} runs; {load_line()}; "
          f"OV {O.describe(compiled)}")
    print("per layer the median over rounds:")
    print("\n".join(P.compare_table(P.merge_profiles(ours_all), P.merge_profiles(ov_all))))
    print("OpenVINO per layer the minimum over rounds:")
    print("\n".join(P.compare_table(P.merge_profiles(ours_all), P.merge_profiles(ov_all, np.min))))
    ours, ov = P.merge_profiles(ours_all), P.merge_profiles(ov_all)
    print("  int8rt slowest layers:")
    print("\n".join(P.slowest_int8rt(ours, 10, 6)))
    print("  OpenVINO slowest nodes:")
    print("\n".join(P.slowest_openvino(ov, 10, 6)))


if __name__ == "__main__":
    main()
