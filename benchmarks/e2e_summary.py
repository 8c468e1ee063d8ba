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

Beside each row, the accuracy of the engines timed there (e2e_bench.py's
accuracy(): relative L2 / centred cosine against ORT FP32 on the network's
evaluation inputs, the same in every pass of a deterministic build), and
after the tables the thread sweeps of the passes (sweep_summary).

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
ACCURACY = ["int8rt int8", "OV int8", "ORT int8"]  # the accuracy columns, in this order


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


def accuracy_cell(runs: List[dict], net: str) -> str:
    """'rel L2 / centred cos' of each ACCURACY implementation over the passes (lowest-highest)."""
    acc = [run.get("accuracy", {}).get(net, {}) for run in runs]
    cells = []
    for n in ACCURACY:
        vals = [a[n] for a in acc if n in a]
        cells.append(f"{span([v['rel_l2'] for v in vals], '.3f')} / {span([v['centred_cos'] for v in vals], '.4f')}"
                     if vals else "-")
    return " ; ".join(cells)


def _load1(line: str) -> str:
    """The 1-minute figure of a load_line()."""
    return line.replace("load average ", "").split(",")[0]


def sweep_summary(sweeps: List[dict]) -> List[str]:
    """Markdown lines merging sweeps (e2e_bench.bench_sweep's records, one
    per pass and network): per network, batch and implementation the wall and
    CPU medians at every thread count (lowest-highest over the passes), the
    wall speed-up and CPU cost of each thread count over the first, per pass,
    and each pass's 1-minute load before -> after."""
    groups: Dict[Tuple[str, int], List[dict]] = {}
    for sw in sweeps:
        groups.setdefault((sw["network"], sw["batch"]), []).append(sw)
    threads = sorted({int(t) for sw in sweeps for per in sw["medians"].values() for t in per}) or [1]
    t0, rest = str(threads[0]), [str(t) for t in threads[1:]]
    head = (["network", "batch", "implementation"] + [f"wall ms {t} thr" for t in threads]
            + [f"wall {t0} ÷ {t} thr" for t in rest] + [f"CPU ms {t} thr" for t in threads]
            + [f"CPU {t} ÷ {t0} thr" for t in rest] + ["1-min load before -> after (passes)"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (net, batch), sws in groups.items():
        loads = "; ".join(f"{_load1(sw['load_before'])} -> {_load1(sw['load_after'])}" for sw in sws)
        for name in dict.fromkeys(n for sw in sws for n in sw["medians"]):
            per = [sw["medians"][name] for sw in sws if name in sw["medians"]]

            def col(t: str, clock: str) -> List[float]:
                return [p[t][clock] * 1e3 for p in per if t in p]

            def ratio(num: str, den: str, clock: str) -> str:
                vals = [p[num][clock] / p[den][clock] for p in per if num in p and den in p and p[den][clock] > 0]
                return span(vals, ".2f") if vals else "-"
            cells = ([span(col(str(t), "wall_s"), ".4g") if col(str(t), "wall_s") else "-" for t in threads]
                     + [ratio(t0, t, "wall_s") for t in rest]
                     + [span(col(str(t), "cpu_s"), ".4g") if col(str(t), "cpu_s") else "-" for t in threads]
                     + [ratio(t, t0, "cpu_s") for t in rest])
            lines.append(f"| {net} | {batch} | {name} | " + " | ".join(cells) + f" | {loads} |")
    return lines

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
          + " | ".join(c for c, *_ in RATIOS) + f" | rel L2 / centred cos vs FP32: {' ; '.join(ACCURACY)} | 1-min load |")
    print("|---|---|---|---|---|---|" + "---|" * len(RATIOS) + "---|---|")
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
              + " | ".join(cells) + f" | {accuracy_cell(runs, net)} | {loads} |")
    print_scaling(rows)
    sweeps = [sw for run in runs for sw in run.get("sweeps", [])]
    if sweeps:
        print()
        print("\n".join(sweep_summary(sweeps)))
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
