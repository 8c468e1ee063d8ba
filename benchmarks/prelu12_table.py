"""acc50's tables: relative L2 to FP32 per draw, before (the base build) and
after (this branch), from calib15_mtcnn.py / calib15_speech_embedding.py's
JSON files.

Usage: python benchmarks/prelu12_table.py --before b_d1.json b_d2.json ... --after a_d1.json a_d2.json ... [--metric rel_l2]
"""
from __future__ import annotations

import argparse
import json
import re
import sys

import numpy as np


def load(paths: list[str], metric: str) -> dict[str, dict[str, dict[int, float]]]:
    """net -> engine -> draw -> metric."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    for p in paths:
        data = json.load(open(p))
        for r in data if isinstance(data, list) else [data]:
            m = re.match(r"(\S+).*draw (\d+)", r["task"])
            net, draw = m.group(1), int(m.group(2))
            for engine, row in r["rows"].items():
                if metric in row and not engine.startswith("FP32"):
                    out.setdefault(net, {}).setdefault(engine, {})[draw] = row[metric]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", nargs="+", required=True)
    ap.add_argument("--after", nargs="+", required=True)
    ap.add_argument("--metric", default="rel_l2")
    args = ap.parse_args()
    before, after = load(args.before, args.metric), load(args.after, args.metric)
    for net in after:
        draws = sorted({d for e in after[net].values() for d in e})
        print(f"\n### {net}: {args.metric} per draw {draws}, before -> after (mean)\n")
        print("| engine | " + " | ".join(f"draw {d}" for d in draws) + " | mean |")
        print("|---" * (len(draws) + 2) + "|")
        for engine in after[net]:
            a = after[net][engine]
            b = before.get(net, {}).get(engine, {})
            cells = [(f"{b[d]:.4f} -> " if d in b and not engine.startswith("ORT") else "") + f"{a[d]:.4f}" for d in draws]
            mean_a = np.mean([a[d] for d in draws])
            mean = (f"{np.mean([b[d] for d in draws]):.4f} -> " if len(b) == len(draws) and not engine.startswith("ORT")
                    else "") + f"{mean_a:.4f}"
            print(f"| {engine} | " + " | ".join(cells) + f" | {mean} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
