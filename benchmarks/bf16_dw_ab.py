"""BF16 depthwise convs one by one, packages alternated (issue 13 §4): per
round, each package (a folder holding int8rt/, PYTHONPATH=<package>) builds
the network's FP32 + bf16 engine in its own process and profiles it (thread
CPU, 1 thread, the median of RUNS runs per layer); round r runs the
packages in an order rotated by r. Then per depthwise conv (group == C, by
its ONNX shape) each package's median ms over rounds and its time over the
first package's, the median (range) of the per-round ratios; the summed
depthwise convs and the summed other layers (unchanged code: the
yardstick of the load) last.

Usage: python3 <tree>/benchmarks/bf16_dw_ab.py --packages BASE NEW [...] --onnx DIR/mobilenet_v2.onnx \\
           [--batch 1] [--runs 15] [--rounds 6]
(the ONNX file as bf16_layers_profile.export writes it.)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys

import numpy as np


def child(onnx_path: str, batch: int, runs: int) -> None:
    """Prints {layer name: ms} of one engine's profile as JSON (in the package's process)."""
    import int8rt

    int8rt.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(onnx_path, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    x = np.random.default_rng(3).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    ctx.profile({"input": x}, 1, clock="thread_cpu")
    prof = ctx.profile({"input": x}, runs, clock="thread_cpu")
    print(json.dumps({"load": os.getloadavg()[0], "ms": {la["name"]: la["ms"] for la in prof}}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", nargs="+")
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.onnx, args.batch, args.runs)
        return
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), args.packages[0]]  # it imports int8rt
    from bf16_layers_profile import conv_macs

    dw = {name: shape for name, (_, shape) in conv_macs(args.onnx, args.batch).items() if shape.startswith("1->")}
    n = len(args.packages)
    got: list[list[dict]] = []
    loads: list[float] = []
    for r in range(args.rounds):
        row: list[dict] = [{}] * n
        for j in [(r + i) % n for i in range(n)]:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--onnx", args.onnx,
                                  "--batch", str(args.batch), "--runs", str(args.runs)], capture_output=True,
                                 text=True, env={**os.environ, "PYTHONPATH": args.packages[j]}, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            row[j] = res["ms"]
            loads.append(res["load"])
        got.append(row)
    names = [os.path.basename(p.rstrip("/")) for p in args.packages]

    def line(label: str, pick) -> str:
        per = [[pick(r[j]) for r in got] for j in range(n)]
        ratios = []
        for j in range(1, n):
            rs = [a / b for a, b in zip(per[j], per[0])]
            ratios.append(f"{statistics.median(rs):.2f} ({min(rs):.2f}-{max(rs):.2f})")
        return f"| {label} | " + " | ".join(f"{statistics.median(p):.3f}" for p in per) + " | " + \
            " | ".join(ratios) + " |"

    print(f"{os.path.basename(args.onnx)} batch {args.batch}, 1 thread, {args.rounds} rounds of {args.runs} runs, "
          f"load {min(loads):.1f}-{max(loads):.1f}")
    print("| conv | " + " | ".join(f"{m} ms" for m in names) + " | " +
          " | ".join(f"{m} / {names[0]}" for m in names[1:]) + " |")
    print("|---" * (2 * n) + "|")
    for name, shape in dw.items():
        print(line(f"{name.replace('/features/', '').replace('/Conv', '')} {shape}", lambda ms, k=name: ms[k]))
    print(line("all depthwise", lambda ms: sum(ms[k] for k in dw)))
    print(line("all other layers", lambda ms: sum(v for k, v in ms.items() if k not in dw)))


if __name__ == "__main__":
    main()
