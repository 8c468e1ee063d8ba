"""acc49's tables: the JSON files calib15_mtcnn.py / calib15_speech_embedding.py
wrote (one per calibration draw) -> per network and engine, a figure per draw,
its mean, and auto's paired difference from the best single int8rt method
and from the best peer on each draw (the figure: relative L2 to FP32, lower
is better; ``--metric centred_cos``: higher is better).

Usage: python benchmarks/calib15_table.py /tmp/calib15/mtcnn_d1.json /tmp/calib15/mtcnn_d2.json ... [--metric rel_l2]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict

SINGLE = ("int8rt entropy", "int8rt entropy_legacy", "int8rt minmax", "int8rt percentile", "int8rt mse")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--metric", default="rel_l2")
    args = ap.parse_args()
    lower = args.metric == "rel_l2"
    best = min if lower else max
    table: dict = defaultdict(lambda: defaultdict(dict))  # net -> engine -> draw -> figure
    for path in args.files:
        data = json.load(open(path))
        for result in data if isinstance(data, list) else [data]:
            net, draw = re.match(r"(.*), draw (\d+)", result["task"]).groups()
            for engine, row in result["rows"].items():
                if args.metric in row and not engine.startswith("FP32"):
                    table[net][engine][int(draw)] = row[args.metric]
    for net, engines in table.items():
        draws = sorted({d for e in engines.values() for d in e})
        print(f"\n### {net}: {args.metric} per calibration draw\n")
        print("| engine | " + " | ".join(f"draw {d}" for d in draws) + " | mean |")
        print("|---|" + "---|" * (len(draws) + 1))
        for engine, figures in engines.items():
            cells = [f"{figures[d]:.4f}" if d in figures else "-" for d in draws]
            mean = sum(figures.values()) / len(figures)
            print(f"| {engine} | " + " | ".join(cells) + f" | {mean:.4f} |")
        auto = engines.get("int8rt auto", {})
        peers = [e for e in engines if e.startswith(("ORT", "NNCF default, OpenVINO f32"))]
        for label, group in (("best single int8rt method", SINGLE), ("best peer", peers)):
            diffs = [auto[d] - best(engines[e][d] for e in group if d in engines.get(e, {})) for d in draws if d in auto]
            print(f"| auto - {label} (per draw) | " + " | ".join(f"{x:+.4f}" for x in diffs)
                  + f" | {sum(diffs) / len(diffs):+.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
