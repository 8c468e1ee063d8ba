"""Packages alternated on a MobileNet-style BF16 engine, per layer kind of
issue 13 §4 (RESULTS.md section 156; kinds as bf16mb_kinds.py gives them).
Each round runs every package's FP32 + bf16 engine in its own process
(PYTHONPATH=<package>, ``ExecutionContext.profile(clock="thread_cpu")``,
RUNS runs, per-layer medians), the order rotated by the round; per kind
the median over rounds of each package's time over the first package's,
with the range. Each process also prints a digest of the logits, so a
change that should keep the bits shows that it does (the same digest for
every package). One thread.

Usage: python3 <tree>/benchmarks/bf16mb_ab.py --packages BASE NEW [NEW2 ...] --onnx FILE \\
           [--batch 1] [--runs 15] [--rounds 5]
           [--layers]
(FILE: bf16_layers_profile.export's network; a package is a folder holding int8rt/.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))


def child(onnx: str, batch: int, runs: int, layers: bool) -> None:
    """In the package's process: kind sums (ms), the logits' digest, the load."""
    import contextlib
    import io

    import numpy as np

    sys.path.insert(0, HERE)
    import int8rt
    from bf16mb_kinds import conv_kinds, kind_ours

    int8rt.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(onnx, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    x = np.random.default_rng(3).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    logits = np.ascontiguousarray(list(ctx.run({"input": x}).values())[0])
    convs = conv_kinds(onnx)
    sums: dict[str, float] = defaultdict(float)
    for la in ctx.profile({"input": x}, runs, clock="thread_cpu"):
        sums[kind_ours(la, convs)] += la["ms"]
        sums["all layers"] += la["ms"]
        if layers:
            sums[f"  {la['name']} ({kind_ours(la, convs)})"] = la["ms"]
    print(json.dumps({"sums": sums, "digest": hashlib.sha1(logits.tobytes()).hexdigest()[:12],
                      "load": os.getloadavg()[0]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", nargs="+", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--layers", action="store_true", help="each layer too, after the kinds")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.onnx, args.batch, args.runs, args.layers)
        return
    pk = args.packages
    results: dict[str, list[dict]] = {p: [] for p in pk}
    loads = []
    for r in range(args.rounds):
        for p in pk[r % len(pk):] + pk[:r % len(pk)]:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--packages", p, "--onnx",
                                  args.onnx, "--batch", str(args.batch), "--runs", str(args.runs)] + (["--layers"] if args.layers else []),
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": p},
                                 check=True).stdout.strip().splitlines()[-1]
            res = json.loads(out)
            results[p].append(res)
            loads.append(res["load"])
    print(f"batch {args.batch}, {args.rounds} rounds of {args.runs} runs, 1 thread, thread-CPU per layer; "
          f"1-minute load {min(loads):.1f}-{max(loads):.1f}")
    for p in pk:
        print(f"  {p}: logits digest {sorted({r['digest'] for r in results[p]})}")
    first = results[pk[0]][0]["sums"]
    kinds = sorted((k for k in first if not k.startswith(" ")), key=lambda k: -first[k])
    kinds += [k for k in first if k.startswith(" ")]  # the layers, in execution order
    head = " | ".join(f"{os.path.basename(p.rstrip('/'))} / base (range)" for p in pk[1:])
    print(f"| kind | base ms | {head} |")
    print("|---|---|" + "---|" * (len(pk) - 1))
    for k in kinds:
        base = [r["sums"].get(k, 0.0) for r in results[pk[0]]]
        cells = []
        for p in pk[1:]:
            ratios = [r["sums"].get(k, 0.0) / b for r, b in zip(results[p], base) if b > 0]
            cells.append(f"{statistics.median(ratios):.3f} ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "-")
        print(f"| {k} | {statistics.median(base):.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
