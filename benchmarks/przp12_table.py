"""acc60's before / after table: relative L2 to FP32 per network, method and
draw from benchmarks/calib15_mtcnn.py's --json files, the means, and auto
against the best single method's mean.

Usage: python benchmarks/przp12_table.py --before b_d1.json b_d2.json ... --after a_d1.json a_d2.json ...
(one file per draw, in draw order, each holding the three stages).
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

METHODS = ["minmax", "percentile", "mse", "entropy", "auto"]


def read(paths: list[str]) -> dict[tuple[str, str], list[float]]:
    """(network, method) -> relative L2 per draw, in the files' order."""
    out: dict[tuple[str, str], list[float]] = {}
    for path in paths:
        with open(path) as f:
            for task in json.load(f):
                net = task["task"].split(" ")[0].replace("mtcnn_", "")
                for m in METHODS:
                    row = task["rows"].get(f"int8rt {m}")
                    if row is not None:
                        out.setdefault((net, m), []).append(row["rel_l2"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", nargs="+", required=True)
    ap.add_argument("--after", nargs="+", required=True)
    args = ap.parse_args()
    b, a = read(args.before), read(args.after)
    n = len(args.after)
    print("| network | method | " + " | ".join(f"draw {i + 1}" for i in range(n)) + " | mean |")
    print("|---|---|" + "---|" * (n + 1))
    for net in ("pnet", "rnet", "onet"):
        for m in METHODS:
            if (net, m) not in a:
                continue
            cells = [f"{x:.4f} -> {y:.4f}" for x, y in zip(b[(net, m)], a[(net, m)])]
            mean = f"{np.mean(b[(net, m)]):.4f} -> {np.mean(a[(net, m)]):.4f}"
            print(f"| {net} | {m} | " + " | ".join(cells) + f" | {mean} |")
    for tag, d in (("before", b), ("after", a)):
        for net in ("pnet", "rnet", "onet"):
            singles = {m: np.mean(d[(net, m)]) for m in METHODS[:-1] if (net, m) in d}
            best = min(singles, key=singles.get)
            print(f"{tag} {net}: auto {np.mean(d[(net, 'auto')]):.4f}, best single {best} {singles[best]:.4f}, "
                  f"auto - best {np.mean(d[(net, 'auto')]) - singles[best]:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
