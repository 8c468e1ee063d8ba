"""RESULTS.md section 156's per-kind table from bf16mb_kinds.py outputs of
two packages (base and branch), each run several times alternately: per
layer kind OpenVINO bf16's minimum over every profile (its PERF_COUNT is a
wall time: on a loaded machine preemptions only add, so the minimum is the
better estimate), int8rt's median per package (thread CPU), and the ratios.

Usage: python3 bf16mb_kinds_table.py --base F1 [F2 ...] --branch G1 [G2 ...]
"""
from __future__ import annotations

import argparse
import re
import statistics

ROW = re.compile(r"\| (\*\*all layers\*\*|[a-zA-Z][^|]*?) \| ([\d.]+)(?: \(\d+\))? \| ([\d.]+)(?: \(\d+\))? \|")


def kinds(path: str) -> dict[str, tuple[float, float]]:
    """kind -> (int8rt ms, OpenVINO ms) of one bf16mb_kinds.py output (the kinds table only)."""
    out = {}
    for line in open(path):
        m = ROW.match(line)
        if m and m.group(1) != "kind" and "all layers" not in m.group(1):
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", nargs="+", required=True)
    ap.add_argument("--branch", nargs="+", required=True)
    args = ap.parse_args()
    base, branch = [kinds(f) for f in args.base], [kinds(f) for f in args.branch]
    rows = []
    for k in base[0]:
        ov = min(p[k][1] for p in base + branch if k in p)
        a = statistics.median(p[k][0] for p in base if k in p)
        b = statistics.median(p[k][0] for p in branch if k in p)
        rows.append((k, ov, a, b))
    print(f"| kind | OV bf16 ms (min of {len(base) + len(branch)}) | int8rt base ms | base / OV | "
          "int8rt branch ms | branch / OV |")
    print("|---|---|---|---|---|---|")
    for k, ov, a, b in sorted(rows, key=lambda r: r[1] - r[2]):
        print(f"| {k} | {ov:.3f} | {a:.3f} | {a / ov:.2f} | {b:.3f} | {b / ov:.2f} |")
    ov, a, b = (sum(r[i] for r in rows) for i in (1, 2, 3))
    print(f"| **sum of kinds** | {ov:.3f} | {a:.3f} | {a / ov:.2f} | {b:.3f} | {b / ov:.2f} |")


if __name__ == "__main__":
    main()
