"""One tree, two environments, layer by layer (RESULTS.md section 206): the
saved ResNet-50 engine of r50i8_ab.py's --dir profiled in child processes
run in turn under environment A (as this process has it) and environment B
(A plus the --b-env settings, e.g. INT8RT_U8_CODES=0: every int8 tensor
int8-coded, so the AMX 1x1s take tdpbssd with no -128 * sum(w) and store no
xor), the order swapped every pair. Per shape label (r50i8_layers.py's) the
medians over the pairs of each environment's per-process minima and B / A
(< 1: B faster), then the layer sums.

Usage:
    PYTHONPATH=python python benchmarks/r50x1b_env_ab.py --dir /tmp/r50x1b/r50auto --b-env INT8RT_U8_CODES=0 \\
        --pairs 4 --rounds 5 --batch 8
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
AB = HERE.parent / "r50i8_ab.py"  # its --json child form: per-label minima of one process


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--b-env", nargs="+", required=True, help="NAME=VALUE settings of environment B")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    envs = {"A": dict(os.environ), "B": dict(os.environ, **dict(s.split("=", 1) for s in args.b_env))}
    res: dict[str, list[dict[str, float]]] = {k: [] for k in envs}
    for i in range(args.pairs):
        for k in ("A", "B") if i % 2 == 0 else ("B", "A"):
            cmd = [sys.executable, str(AB), "--json", "--dir", str(args.dir), "--batch", str(args.batch),
                   "--rounds", str(args.rounds)]
            out = subprocess.run(cmd, env=envs[k], capture_output=True, text=True, check=True).stdout
            res[k].append(json.loads(out.strip().splitlines()[-1]))
    print(f"batch {args.batch}, {args.pairs} pairs of {args.rounds} profiled runs; B = A + {' '.join(args.b_env)}; "
          f"load {os.getloadavg()[0]:.1f}")
    print("| layer (shape) | A ms | B ms | B / A |\n|---|---:|---:|---:|")

    def med(k: str, key: str) -> float:
        return float(np.median([r.get(key, 0.0) for r in res[k]]))

    for key in sorted(set(res["A"][0]) | set(res["B"][0]), key=lambda k: -med("A", k)):
        a, b = med("A", key), med("B", key)
        print(f"| {key} | {a:.3f} | {b:.3f} | {f'{b / a:.3f}' if a > 0 else '-'} |")
    a, b = (float(np.median([sum(r.values()) for r in res[k]])) for k in ("A", "B"))
    print(f"| **sum** | {a:.2f} | {b:.2f} | {b / a:.3f} |")


if __name__ == "__main__":
    main()
