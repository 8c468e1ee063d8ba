"""Before / after table of ResNet-50 INT8 layers against OpenVINO INT8 from
saved outputs of `r50i8_layers.py` (RESULTS.md section 121): per layer the
median over the runs of each tree of int8rt's wall-time minimum, OpenVINO's
(measured in the same processes) and their ratio, and the sums of minima.

Usage: python benchmarks/r50k3_layers_table.py --before B1.txt B2.txt ... --after A1.txt A2.txt ...
(each file the stdout of one `r50i8_layers.py --dir DIR --batch 8` process).
"""
from __future__ import annotations

import argparse
import re
import statistics
from typing import Dict, List, Tuple

ROW = re.compile(r"^\| (?P<name>[^|]+?) \| (?P<n>\d+) \| (?P<wall>[\d.]+) \| [\d.]+ \| (?P<ov>[\d.]+) \|")


def read(path: str) -> Dict[str, Tuple[int, float, float]]:
    """layer -> (count, int8rt wall ms, OpenVINO ms) of one run."""
    rows: Dict[str, Tuple[int, float, float]] = {}
    with open(path) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                name = m.group("name").strip("* ")
                rows["sum of minima" if name == "sum of minima" else name] = (
                    int(m.group("n")), float(m.group("wall")), float(m.group("ov")))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", nargs="+", required=True)
    ap.add_argument("--after", nargs="+", required=True)
    args = ap.parse_args()
    before: List[Dict[str, Tuple[int, float, float]]] = [read(p) for p in args.before]
    after: List[Dict[str, Tuple[int, float, float]]] = [read(p) for p in args.after]
    med = statistics.median
    names = [n for n in before[0] if n != "sum of minima"] + ["sum of minima"]
    table = []
    for name in names:
        n = before[0][name][0]
        b = med(r[name][1] for r in before)
        a = med(r[name][1] for r in after)
        ov = med([r[name][2] for r in before] + [r[name][2] for r in after])
        rb = med(r[name][2] / r[name][1] for r in before if r[name][1] > 0)
        ra = med(r[name][2] / r[name][1] for r in after if r[name][1] > 0)
        table.append((name, n, b, a, ov, rb, ra))
    table[:-1] = sorted(table[:-1], key=lambda t: t[3] - t[4], reverse=True)
    print("| layer (shape) | n | before: int8rt ms | after: int8rt ms | after / before | OpenVINO ms "
          "| before: OV / int8rt | after: OV / int8rt |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, b, a, ov, rb, ra in table:
        bold = "**" if name == "sum of minima" else ""
        print(f"| {bold}{name}{bold} | {n} | {b:.3f} | {a:.3f} | {a / b:.3f} | {ov:.3f} | {rb:.3f} | {ra:.3f} |")


if __name__ == "__main__":
    main()
