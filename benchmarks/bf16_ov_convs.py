"""BF16 convolutions paired one by one against OpenVINO bf16 (issue 13 §4):
int8rt's FP32 + bf16 engine (``bf16=True``) of e2e_models.py's network and
OpenVINO with ``INFERENCE_PRECISION_HINT=bf16`` and PERF_COUNT, 1 thread.
The two profilers alternate, ROUNDS rounds of RUNS runs (OpenVINO compiled
afresh per round: its PERF_COUNT are running means, openvino_engines.run_times);
per conv the median over rounds, paired by the ONNX node name (OpenVINO's
node is "<name>/WithoutBiases"). int8rt's side is thread-CPU time, OpenVINO's
a wall time: on a loaded machine the OpenVINO column is inflated, so read it
at a quiet load (the load line says). Prints every conv with both GFLOPS and
the gap, then the gap summed by conv kind, largest first.

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16_ov_convs.py \
           [--net resnet50] [--batch 1] [--rounds 3] [--runs 3] [--top 15]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_layers_profile import exported  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def profiled_pair(path: str, batch: int, rounds: int, runs: int) -> tuple[list[dict], list[dict]]:
    """int8rt's FP32 + bf16 engine of ``path`` (thread CPU) and OpenVINO bf16
    (PERF_COUNT, compiled afresh per round), ROUNDS alternating rounds of RUNS
    runs at ``batch``, 1 thread: each side's layers with the median over rounds."""
    x = np.random.default_rng(3).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    ov_model = O.load(path)
    ctx.profile({"input": x}, 1, clock="thread_cpu")
    ours_all, ov_all = [], []
    for _ in range(rounds):
        ours_all.append(ctx.profile({"input": x}, runs, clock="thread_cpu"))
        ov_all.append(O.profile(lambda: O.compile_model(ov_model, 1, "bf16", x.shape, perf_count=True), x, runs))
    return P.merge_profiles(ours_all), P.merge_profiles(ov_all)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="resnet50")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    path, macs = exported(args.net, args.batch)
    ours_list, ov_list = profiled_pair(path, args.batch, args.rounds, args.runs)
    ours = {la["name"]: la for la in ours_list}
    ov = {n["name"]: n for n in ov_list}
    print(machine_line())
    print(f"{args.net} batch {args.batch}, 1 thread: int8rt bf16 convs (thread CPU) against OpenVINO bf16 "
          f"(PERF_COUNT, wall), medians of {args.rounds} alternating rounds of {args.runs} runs; {load_line()}")
    rows = []
    for name, (mac, shape) in macs.items():
        a, b = ours.get(name), ov.get(name + "/WithoutBiases")
        if a is None or b is None:
            continue
        rows.append((name, shape, a["ms"], b["ms"], mac, a.get("detail", ""), b["exec"]))
    print("| conv | shape | int8rt ms | OV ms | int8rt / OV | int8rt GFLOPS | OV GFLOPS | OV kernel |")
    print("|---|---|---|---|---|---|---|---|")
    for name, shape, a, b, mac, _, kern in sorted(rows, key=lambda r: r[3] - r[2])[: args.top]:
        print(f"| {name} | {shape} | {a:.3f} | {b:.3f} | {a / b:.2f} | {2 * mac / a / 1e6:.0f} | "
              f"{2 * mac / b / 1e6:.0f} | {kern} |")
    kinds: dict[str, list[float]] = {}
    for _, shape, a, b, _, _, _ in rows:
        k = kinds.setdefault(" ".join(shape.split(" ")[1:2]) + (" dw" if "->" in shape and
                                                               shape.split("->")[0] == "1" else ""), [0.0, 0.0, 0])
        k[0] += a
        k[1] += b
        k[2] += 1
    print("by window: int8rt ms, OV ms, gap ms (n convs), largest gap first")
    for k, (a, b, n) in sorted(kinds.items(), key=lambda kv: kv[1][1] - kv[1][0]):
        print(f"  {k}: {a:.2f} {b:.2f} {a - b:+.2f} ({n})")
    print(f"  all paired convs: {sum(r[2] for r in rows):.2f} {sum(r[3] for r in rows):.2f} "
          f"({len(rows)} of {len(macs)})")


if __name__ == "__main__":
    main()
