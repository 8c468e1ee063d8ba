"""Issue 14's verification table from passes of e2e_bench.py (its --json files):
per network and batch (and thread count), int8rt INT8's and FP32's medians
and the goal ratios of every pass, then each goal met or not on every row.

Ratios (as the RESULTS.md goals table writes them):
  OV INT8 / int8rt INT8 and ORT INT8 / int8rt INT8  > 1: int8rt faster (goal: > 1)
  int8rt FP32 / ORT FP32 and int8rt FP32 / OV FP32  < 1: int8rt faster (goal vs ORT: <= 1.1)
A cell gives the passes' values, lowest-highest when they differ; a goal is
met on a row when every pass meets it. Then batch scaling (issue 14 §4: batch 8
costs at most about 8x batch 1 per thread): per implementation and pass,
median(batch 8) / (8 x median(batch 1)).

Usage: python benchmarks/e2e_summary.py pass1.json pass2.json [...]
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Dict, List, Tuple

# (column, numerator, denominator, goal test on the ratio, goal text)
RATIOS = [
    ("OV INT8 ÷ int8rt INT8", "OV int8", "int8rt int8", lambda r: r > 1.0, "int8rt INT8 faster than OpenVINO INT8"),
    ("ORT INT8 ÷ int8rt INT8", "ORT int8", "int8rt int8", lambda r: r > 1.0, "int8rt INT8 faster than ORT INT8"),
    ("int8rt FP32 ÷ ORT FP32", "int8rt fp32", "ORT fp32", lambda r: r <= 1.1, "int8rt FP32 within 1.1x of ORT FP32"),
    ("int8rt FP32 ÷ OV FP32", "int8rt fp32", "OV fp32", None, ""),
]
Key = Tuple[str, int, int]


def span(values: List[float], fmt: str) -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else f"{lo:{fmt}}-{hi:{fmt}}"


def load(paths: List[str]) -> Tuple[Dict[Key, List[dict]], List[dict]]:
    rows: Dict[Key, List[dict]] = defaultdict(list)
    runs = []
    for p in paths:
        with open(p) as f:
            run = json.load(f)
        runs.append(run)
        for r in run["rows"]:
            rows[(r["network"], r["batch"], r["threads"])].append(r)
    return rows, runs


def print_scaling(rows: Dict[Key, List[dict]]) -> None:
    impls = ["int8rt int8", "int8rt fp32", "ORT int8", "ORT fp32", "OV int8", "OV fp32"]
    print("\n| network | threads | " + " | ".join(f"{n} b8 ÷ 8 b1" for n in impls) + " |")
    print("|---|---|" + "---|" * len(impls))
    for (net, batch, threads), b8 in rows.items():
        b1 = rows.get((net, 1, threads))
        if batch != 8 or not b1:
            continue
        cells = [span([r8["median_s"][n] / (8 * r1["median_s"][n]) for r1, r8 in zip(b1, b8)
                       if n in r1["median_s"] and n in r8["median_s"]], ".2f") for n in impls]
        print(f"| {net} | {threads} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("passes", nargs="+", help="e2e_bench.py --json files")
    args = ap.parse_args()
    rows, runs = load(args.passes)
    for i, run in enumerate(runs, 1):
        print(f"pass {i}: {run['machine']}; {'CPU' if run['cpu_time'] else 'wall'} time; {' '.join(run['argv'][1:])}")
    print("\n| network | batch | threads | passes | int8rt INT8 ms | int8rt FP32 ms | "
          + " | ".join(c for c, *_ in RATIOS) + " | 1-min load |")
    print("|---|---|---|---|---|---|" + "---|" * len(RATIOS) + "---|")
    misses: Dict[str, List[str]] = defaultdict(list)
    untimed: Dict[str, List[str]] = defaultdict(list)  # a ratio's implementations absent (not built, or not asked for)
    for (net, batch, threads), rs in rows.items():
        meds = [r["median_s"] for r in rs]
        cells = []
        for col, num, den, goal, text in RATIOS:
            vals = [m[num] / m[den] for m in meds if num in m and den in m]
            cells.append(span(vals, ".2f"))
            if goal is not None and not vals:
                untimed[text].append(f"{net} b{batch} t{threads}")
            elif goal is not None and not all(goal(v) for v in vals):
                misses[text].append(f"{net} b{batch} t{threads} ({span(vals, '.2f')})")
        ms = {k: span([m[k] * 1e3 for m in meds if k in m], ".4g") for k in ("int8rt int8", "int8rt fp32")}
        loads = "; ".join(r.get("load", "").replace("load average ", "").split(",")[0] for r in rs)
        print(f"| {net} | {batch} | {threads} | {len(rs)} | {ms['int8rt int8']} | {ms['int8rt fp32']} | "
              + " | ".join(cells) + f" | {loads} |")
    print_scaling(rows)
    print()
    for _, _, _, goal, text in RATIOS:
        if goal is None:
            continue
        miss, absent = misses.get(text, []), untimed.get(text, [])
        timed = len(rows) - len(absent)
        if not timed:
            print(f"- {text}: not timed (an implementation absent on every row)")
            continue
        print(f"- {text}: {'met on every timed row' if not miss else 'NOT met on ' + ', '.join(miss)}"
              f" ({timed - len(miss)} of {timed} timed rows"
              + (f"; not timed on {', '.join(absent)})" if absent else ")"))


if __name__ == "__main__":
    main()
