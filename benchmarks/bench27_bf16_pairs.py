"""bench27: the before / after table of bf16n24_nets20.py runs (RESULTS_realnets.md, the bench27 section; issue 13).

bf16n24_nets20.py times int8rt bf16 against OpenVINO bf16 in one process; run once with PYTHONPATH=<base tree>/python
("before") and once with PYTHONPATH=python ("after"), alternated, its printed rows are this script's input. Per
network and batch: int8rt bf16 CPU ms before and after, OpenVINO bf16 CPU ms (every run), OV ÷ int8rt before -> after
(the range over the runs: each run's own OpenVINO figure over its own int8rt figure), and the count of rows and of
networks at b8 behind OpenVINO (ratio < 0.97) before and after (a row counts as behind when its median ratio is).

Usage (repo root): python benchmarks/bench27_bf16_pairs.py --before base1.txt base2.txt --after new1.txt new2.txt
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

BEHIND = 0.97


def rows(paths: list) -> dict:
    """(network, batch) -> list of (int8rt bf16 ms, OV bf16 ms, OV / int8rt), one per run, from the printed rows."""
    out: dict = {}
    for p in paths:
        seen = set()
        for line in Path(p).read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("| ") or len(cells) < 6 or not cells[1].isdigit():
                continue
            key = (cells[0], int(cells[1]))
            if key in seen:  # the script prints its rows twice (as they come, then together)
                continue
            seen.add(key)
            out.setdefault(key, []).append((float(cells[2]), float(cells[3]), float(cells[5])))
    return out


def span(values: list, fmt: str) -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else f"{format(lo, fmt)}-{format(hi, fmt)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", nargs="+", required=True)
    ap.add_argument("--after", nargs="+", required=True)
    args = ap.parse_args()
    before, after = rows(args.before), rows(args.after)
    print("| network | batch | int8rt bf16 CPU ms: base -> new | OV bf16 CPU ms | OV ÷ int8rt: before -> after | runs |")
    print("|---|---|---|---|---|---|")
    behind = {"before": set(), "after": set()}
    nets_b8 = {"before": set(), "after": set()}
    for key in sorted(set(before) & set(after), key=lambda k: (list(before).index(k))):
        b, a = before[key], after[key]
        ov = [r[1] for r in b + a]
        rb, ra = statistics.median(r[2] for r in b), statistics.median(r[2] for r in a)
        for when, r in (("before", rb), ("after", ra)):
            if r < BEHIND:
                behind[when].add(key)
                if key[1] == 8:
                    nets_b8[when].add(key[0])
        print(f"| {key[0]} | {key[1]} | {span([r[0] for r in b], '.2f')} -> {span([r[0] for r in a], '.2f')} | "
              f"{span(ov, '.2f')} | {span([r[2] for r in b], '.3f')} -> {span([r[2] for r in a], '.3f')} | "
              f"{len(b)} + {len(a)} |")
    n = len(set(before) & set(after))
    for when in ("before", "after"):
        print(f"\n{when}: rows behind OpenVINO bf16 (median OV ÷ int8rt < {BEHIND}): {len(behind[when])} of {n}; "
              f"networks behind at b8: {len(nets_b8[when])} ({', '.join(sorted(nets_b8[when]))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
