"""Whole-network FP32 ResNet-50, two int8rt builds (a base tree and a branch
tree) against ONNX Runtime FP32, one thread, process CPU time: e2e_bench.py
run from each tree's python/ in turn (two builds of int8rt cannot share a
process), --passes times, base and branch alternating; each run alternates
int8rt and ORT in its own process, so the figure compared across builds is
the ratio int8rt ÷ ORT of one run (RESULTS.md section 151, issue 14 §3).

Usage: cd /tmp && python3 <repo>/benchmarks/f32r50c_ab.py --base /tmp/base --branch <repo> [--passes 2]
(each tree built by tools/dev_build.sh; the e2e_bench.py ResNet-50 export in --models-dir)
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROW = re.compile(r"^\| resnet50 \| (\d+) \| 1 \| ([\d.]+) \| ([\d.]+) \|$", re.M)


def run(tree: Path, args: argparse.Namespace) -> dict[int, tuple[float, float]]:
    """{batch: (int8rt ms, ORT ms)} of one e2e_bench.py run with tree's build."""
    cmd = [sys.executable, str(Path(__file__).with_name("e2e_bench.py")), "--models", "resnet50",
           "--impls", "int8rt fp32", "ORT fp32", "--batches", *map(str, args.batches), "--threads", "1",
           "--rounds", str(args.rounds), "--min-time", str(args.min_time), "--cpu-time", "--no-threads-alone",
           "--models-dir", str(args.models_dir)]
    env = dict(os.environ, PYTHONPATH=str(tree / "python"), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return {int(b): (float(i), float(o)) for b, i, o in ROW.findall(out)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True)
    ap.add_argument("--branch", type=Path, required=True)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/e2eall/models"))
    args = ap.parse_args()
    print("| pass | tree | load | " + " | ".join(f"b{b} int8rt / ORT ms | int8rt ÷ ORT" for b in args.batches) + " |")
    print("|---|---|---|" + "---|---|" * len(args.batches))
    for p in range(args.passes):
        for name in (("base", "branch") if p % 2 == 0 else ("branch", "base")):
            load = os.getloadavg()[0]
            got = run(getattr(args, name), args)
            cells = " | ".join(f"{got[b][0]:.2f} / {got[b][1]:.2f} | {got[b][0] / got[b][1]:.3f}" for b in args.batches)
            print(f"| {p + 1} | {name} | {load:.1f} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
