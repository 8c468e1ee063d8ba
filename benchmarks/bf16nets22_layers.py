"""BF16 per layer kind against OpenVINO bf16 on e2e_bench.py's networks
(issue 13 §4, RESULTS.md section 255): bf16_ov_layers.py's comparison (the
two profilers alternated, ROUNDS rounds of RUNS runs; int8rt's thread-CPU
``ExecutionContext.profile``, OpenVINO's PERF_COUNT wall times, grouped by
realnets/profile_kinds.py) on any e2e_subjects.subject network (PP-OCR
det / rec at their own input shapes too), plus int8rt's layers grouped by
op and kernel (layer detail), so a layer left in FP32 or NCHW shows. 1
thread.

Usage: PYTHONPATH=python python benchmarks/bf16nets22_layers.py --net mobilenet_v3 \
           [--batch 8] [--rounds 5] [--runs 3] [--models-dir /tmp/bf16nets22/models]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
import e2e_feeds as F  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from e2e_subjects import subject  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def by_op_and_kernel(layers: list[dict]) -> list[str]:
    """int8rt's layers summed per (op, precision, kernel), largest first."""
    sums: dict = defaultdict(lambda: [0.0, 0])
    for la in layers:
        kernel = re.sub(r"group=\d+", "group=g", la.get("detail", ""))
        key = f"{la['op']} [{la['precision']}] {kernel[:90]}"
        sums[key][0] += la["ms"]
        sums[key][1] += 1
    total = sum(v[0] for v in sums.values())
    rows = sorted(sums.items(), key=lambda kv: -kv[1][0])
    return [f"  {ms:8.3f} ms {ms / total * 100:5.1f} %  x{n:<3d} {k}" for k, (ms, n) in rows] + \
        [f"  {total:8.3f} ms total"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="mobilenet_v3")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models-dir", default=None)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    s = subject(args.net, 224, Path(args.models_dir or tempfile.mkdtemp()))
    feed = s.feed(args.batch)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(str(s.onnx_path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    ov_model = F.ov_static(O.load(s.onnx_path), feed)
    x = feed[s.input_name]

    def compile_fn():  # afresh per round: OpenVINO's PERF_COUNT are running means (openvino_engines.run_times)
        return O.compile_model(ov_model, 1, "bf16", perf_count=True)
    ours_all, ov_all = [], []
    for _ in range(args.rounds):
        ours_all.append(ctx.profile(feed, args.runs, clock="thread_cpu"))
        ov_all.append(O.profile(compile_fn, x, args.runs))
    print(machine_line())
    print(f"{args.net} batch {args.batch}, 1 thread: int8rt FP32+bf16 (thread CPU) against OpenVINO bf16 "
          f"(PERF_COUNT, wall), {args.rounds} alternating rounds of {args.runs} runs; {load_line()}")
    ours, ov = P.merge_profiles(ours_all), P.merge_profiles(ov_all)
    print("per layer kind, the median over rounds:")
    print("\n".join(P.compare_table(ours, ov)))
    print("OpenVINO per layer kind, the minimum over rounds:")
    print("\n".join(P.compare_table(ours, P.merge_profiles(ov_all, np.min))))
    print("int8rt per op and kernel (medians):")
    print("\n".join(by_op_and_kernel(ours)))
    print("  OpenVINO slowest nodes:")
    print("\n".join(P.slowest_openvino(ov, 12, 6)))


if __name__ == "__main__":
    main()
