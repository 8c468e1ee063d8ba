"""FP32 networks, two int8rt builds (a base tree and a branch tree) against
ONNX Runtime FP32, process CPU time: e2e_bench.py run from each tree's
python/ in turn (two builds of int8rt cannot share a process), --passes
times, base and branch alternating; each run alternates int8rt and ORT in
its own process, so the figure compared across builds is one run's ratio
int8rt ÷ ORT. f32r50c_ab.py (RESULTS.md section 151) for several networks
and a thread count (RESULTS.md section 200, issue 14 §3).

Usage: cd /tmp && python3 <repo>/benchmarks/fp32r50_ab.py --base /tmp/base --branch <repo> \
           [--models resnet50 mobilenet_v2] [--batches 1 8] [--threads 1] [--passes 2]
(each tree built by tools/dev_build.sh; e2e_bench.py's exports in --models-dir)
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROW = re.compile(r"^\| (\w+) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|$", re.M)


def run(tree: Path, args: argparse.Namespace) -> dict:
    """{(model, batch): (int8rt ms, ORT ms)} of one e2e_bench.py run with tree's build."""
    cmd = [sys.executable, str(Path(__file__).with_name("e2e_bench.py")), "--models", *args.models,
           "--impls", "int8rt fp32", "ORT fp32", "--batches", *map(str, args.batches),
           "--threads", str(args.threads), "--rounds", str(args.rounds), "--min-time", str(args.min_time),
           "--no-threads-alone", "--models-dir", str(args.models_dir)]
    if args.cpu_time:
        cmd.append("--cpu-time")
    env = dict(os.environ, PYTHONPATH=str(tree / "python"), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return {(m, int(b)): (float(i), float(o)) for m, b, t, i, o in ROW.findall(out) if int(t) == args.threads}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True)
    ap.add_argument("--branch", type=Path, required=True)
    ap.add_argument("--models", nargs="+", default=["resnet50"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--wall", dest="cpu_time", action="store_false", help="wall time (default: process CPU time)")
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/e2eamx/models"))
    args = ap.parse_args()
    print(f"threads {args.threads}, {'process CPU' if args.cpu_time else 'wall'} ms, medians of {args.rounds} rounds")
    print("| pass | tree | load | network | batch | int8rt / ORT ms | int8rt ÷ ORT |\n|---|---|---|---|---|---|---|")
    for p in range(args.passes):
        for name in (("base", "branch") if p % 2 == 0 else ("branch", "base")):
            load = os.getloadavg()[0]
            got = run(getattr(args, name), args)
            for (m, b), (i, o) in sorted(got.items()):
                print(f"| {p + 1} | {name} | {load:.1f} | {m} | {b} | {i:.2f} / {o:.2f} | {i / o:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
