"""acc68's nets20 table (RESULTS_accuracy.md, issue 12): auto before / after a
rule, per network and draw, beside the best single int8rt method and ONNX
Runtime, from newnets_methods.py's JSON lines (nets20_sweep.py --json).
"before" is method ``auto`` and "after" method ``auto_input`` (or
``--after``); a later line for the same (network, draw, method) wins, so the
sweep's recorded lines (benchmarks/results/nets20_sweep.jsonl) can be given
first and a re-run after them. ``--after-jsonl FILE``: a run of the changed
library, whose ``auto`` lines are read as method ``auto (library)`` (then
``--after "auto (library)"``).

Usage: python benchmarks/acc22_nets20_table.py benchmarks/results/nets20_sweep.jsonl /tmp/acc22/s2.jsonl \
           /tmp/acc22/s5.jsonl [--after auto_input]
       python benchmarks/acc22_nets20_table.py benchmarks/results/nets20_sweep.jsonl \
           --after-jsonl /tmp/acc22/s2_final.jsonl --after "auto (library)"
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

OTHERS = ("minmax", "percentile", "mse", "entropy", "ort")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl", nargs="+")
    ap.add_argument("--before", default="auto")
    ap.add_argument("--after", default="auto_input")
    ap.add_argument("--after-jsonl", nargs="*", default=[])
    args = ap.parse_args()
    rows: dict[tuple, dict[str, dict]] = {}
    for p in args.jsonl + args.after_jsonl:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            if p in args.after_jsonl and r["method"] == "auto":
                r["method"] = "auto (library)"
            if "error" not in r:
                rows.setdefault((r["name"], r["calib_seed"], r["eval_seed"]), {})[r["method"]] = r
    print("| network | calib / eval seed | auto before | auto after | after - before | best other (method) | "
          "after - best other |")
    print("|---|---|---|---|---|---|---|")
    total = 0.0
    for (name, cs, es), m in sorted(rows.items()):
        if args.after not in m or args.before not in m:
            continue
        b, a = m[args.before]["ccos"], m[args.after]["ccos"]
        others = [(m[k]["ccos"], k) for k in OTHERS if k in m]
        best = max(others) if others else None
        total += a - b
        print(f"| {name} | {cs} / {es} | {b:.4f} | {a:.4f} | {a - b:+.4f} | "
              + (f"{best[0]:.4f} ({best[1]}) | {a - best[0]:+.4f} |" if best else "- | - |"))
    print(f"\nsum of after - before: {total:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
