"""Before/after a kernel change on ResNet-50 INT8, layer by layer: two int8rt
trees' profiles of the same saved engine, in processes run in turn (RESULTS.md §112).

Each process (`--json`) loads the engine with its tree's kernels (chosen at
load, so both time the same engine bytes), 1 thread, and prints per layer
label (benchmarks/r50i8_layers.py's shape labels; layers of one shape summed)
the minimum thread-CPU ms over `--rounds` profiled runs. The parent runs
`--pairs` pairs of processes, the order swapped every pair, and prints the
medians over the pairs of each tree and their ratio (this tree / the other:
< 1, this tree faster). Layers whose code did not change show the noise of
the moment (a process-wide bias of a few percent either way at load 10-20).

Usage:
    PYTHONPATH=python python benchmarks/r50i8_ab.py --against /tmp/base/python --dir /tmp/r50i8/resnet50 \\
        --pairs 6 --rounds 8 --batch 8
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def profile_minima(d: Path, batch: int, rounds: int) -> dict[str, float]:
    import int8rt
    sys.path.insert(0, str(HERE.parent))
    from r50i8_layers import labels
    x = np.ascontiguousarray(np.load(d / "x8.npy")[:batch])
    name = (d / "input_name").read_text()
    int8rt.set_num_threads(1)
    ctx = int8rt.Engine.deserialize((d / "engine.i8rt").read_bytes()).create_execution_context()
    lab = labels(d / "fp32.onnx", batch)
    ctx.run({name: x})
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for layer in ctx.profile({name: x}, 1, clock="thread_cpu"):
            times.setdefault(layer["name"], []).append(layer["ms"])
    out: dict[str, float] = {}
    for layer, t in times.items():
        key = lab.get(layer, layer)
        out[key] = out.get(key, 0.0) + min(t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/r50i8/resnet50"))
    ap.add_argument("--against", help="the other tree's python/ folder")
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the subprocess form
    args = ap.parse_args()
    if args.json:
        print(json.dumps(profile_minima(args.dir, args.batch, args.rounds)))
        return
    trees = {"this": os.environ.get("PYTHONPATH", ""), "other": args.against}
    res: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for i in range(args.pairs):
        for k in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            cmd = [sys.executable, str(HERE), "--json", "--dir", str(args.dir), "--batch", str(args.batch),
                   "--rounds", str(args.rounds)]
            out = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": trees[k]}, capture_output=True, text=True,
                                 check=True).stdout
            res[k].append(json.loads(out.strip().splitlines()[-1]))
    print(f"batch {args.batch}, {args.pairs} pairs of {args.rounds} profiled runs; load {os.getloadavg()[0]:.1f}")
    print("| layer (shape) | other tree ms | this tree ms | this / other |")
    print("|---|---:|---:|---:|")

    def med(k: str, key: str) -> float:
        return float(np.median([r.get(key, 0.0) for r in res[k]]))

    for key in sorted(set(res["other"][0]) | set(res["this"][0]), key=lambda k: -med("other", k)):
        a, b = med("other", key), med("this", key)
        print(f"| {key} | {a:.3f} | {b:.3f} | {f'{b / a:.3f}' if a > 0 else '-'} |")
    a, b = (float(np.median([sum(r.values()) for r in res[k]])) for k in ("other", "this"))
    print(f"| **sum** | {a:.2f} | {b:.2f} | {b / a:.3f} |")


if __name__ == "__main__":
    main()
