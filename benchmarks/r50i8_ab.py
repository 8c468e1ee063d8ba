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


def alternate(envs: dict[str, dict[str, str]], d: Path, batch: int, rounds: int,
              pairs: int) -> dict[str, list[dict[str, float]]]:
    """`pairs` pairs of child processes (this script's --json form), one per
    environment of `envs` (two), the order swapped every pair: per
    environment the list of each process's per-label minima."""
    res: dict[str, list[dict[str, float]]] = {k: [] for k in envs}
    for i in range(pairs):
        for k in (list(envs) if i % 2 == 0 else list(envs)[::-1]):
            cmd = [sys.executable, str(HERE), "--json", "--dir", str(d), "--batch", str(batch), "--rounds", str(rounds)]
            out = subprocess.run(cmd, env=envs[k], capture_output=True, text=True, check=True).stdout
            res[k].append(json.loads(out.strip().splitlines()[-1]))
    return res


def print_ab_table(res: dict[str, list[dict[str, float]]], a: tuple[str, str], b: tuple[str, str],
                   ratio: str) -> None:
    """Per label the medians over the processes of environments a and b
    ((key, column title) each) and b / a, slowest first, then the sums."""
    print(f"| layer (shape) | {a[1]} | {b[1]} | {ratio} |")
    print("|---|---:|---:|---:|")

    def med(k: str, key: str) -> float:
        return float(np.median([r.get(key, 0.0) for r in res[k]]))

    for key in sorted(set(res[a[0]][0]) | set(res[b[0]][0]), key=lambda k: -med(a[0], k)):
        x, y = med(a[0], key), med(b[0], key)
        print(f"| {key} | {x:.3f} | {y:.3f} | {f'{y / x:.3f}' if x > 0 else '-'} |")
    x, y = (float(np.median([sum(r.values()) for r in res[k]])) for k in (a[0], b[0]))
    print(f"| **sum** | {x:.2f} | {y:.2f} | {y / x:.3f} |")


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
    this = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    res = alternate({"this": this, "other": {**os.environ, "PYTHONPATH": args.against}}, args.dir, args.batch,
                    args.rounds, args.pairs)
    print(f"batch {args.batch}, {args.pairs} pairs of {args.rounds} profiled runs; load {os.getloadavg()[0]:.1f}")
    print_ab_table(res, ("other", "other tree ms"), ("this", "this tree ms"), "this / other")

if __name__ == "__main__":
    main()
