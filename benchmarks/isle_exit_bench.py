"""isle: a float island's exit written in int8 by its float conv, and the BF16 conv's chain per image.

Both changes act at build time (the fold: lower_int8_float_exit.cc) or inside the layer (the per-image
chain: conv_f32.cc), so base and branch cannot share one process: this driver alternates processes, one per
side and round, each timing its engines alternated in-process with benchmarks/mixhs_float_chain.py (process
CPU per run, all the engine's threads, median of --runs), and prints every round's figures and the median
over rounds per engine, plus the branch ÷ base ratio per round for the pairs given with --pair.
Usage:
  python benchmarks/isle_exit_bench.py DATA.npz BATCH --side base=PYTHONPATH NAME=ENGINE ... \
      --side branch=PYTHONPATH NAME=ENGINE ... [--rounds R] [--runs N] [--pair BASE_NAME BRANCH_NAME]
(engine NAMEs are unique over all sides; each side's engines load in that side's process).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_sides(argv: list[str]) -> list[tuple[str, str, list[str]]]:
    sides, cur = [], None
    for a in argv:
        if a == "--side":
            cur = None
            continue
        if cur is None:
            name, path = a.split("=", 1)
            cur = (name, path, [])
            sides.append(cur)
        else:
            cur[2].append(a)
    return sides


def run_side(pythonpath: str, data: str, batch: int, engines: list[str], runs: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=pythonpath)
    cmd = [sys.executable, str(HERE / "mixhs_float_chain.py"), data, str(batch), *engines, "--runs", str(runs),
           "--profile-runs", "1"]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+): ([0-9.]+) ms process CPU", out, re.M)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("batch", type=int)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--pair", nargs=2, action="append", default=[], metavar=("BASE", "BRANCH"))
    args, rest = ap.parse_known_args()
    sides = parse_sides(rest)
    times: dict[str, list[float]] = {}
    for r in range(args.rounds):
        order = sides if r % 2 == 0 else sides[::-1]
        row = {}
        for name, path, engines in order:
            row.update(run_side(path, args.data, args.batch, engines, args.runs))
        for k, v in row.items():
            times.setdefault(k, []).append(v)
        ratios = "  ".join(f"{b}/{a} {row[b] / row[a]:.3f}" for a, b in args.pair)
        print(f"round {r + 1}: " + "  ".join(f"{k} {v:.1f}" for k, v in row.items()) + ("  |  " + ratios if ratios else ""),
              flush=True)
    print(f"medians over {args.rounds} rounds (batch {args.batch}, ms process CPU):")
    for k, v in times.items():
        print(f"  {k}: {statistics.median(v):.1f}")
    for a, b in args.pair:
        rs = [y / x for x, y in zip(times[a], times[b])]
        print(f"  {b} / {a}: median {statistics.median(rs):.3f} (rounds {min(rs):.3f}-{max(rs):.3f})")


if __name__ == "__main__":
    main()
