"""The RESULTS.md section 141 table from e2e_bench.py outputs: per file
(benchmarks/results/f32r50b_resnet50_<tree>_pass<N>.txt), int8rt FP32 and ORT
FP32 median CPU ms at batch 1 and 8 and their ratio, then the median ratio per
tree.

Usage: python3 benchmarks/f32r50b_e2e_table.py benchmarks/results/f32r50b_resnet50_*_pass*.txt
"""
from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path


def rows(path: Path) -> dict:
    """batch -> (int8rt ms, ORT ms) from one e2e_bench.py output."""
    out, batch = {}, None
    for line in path.read_text().splitlines():
        m = re.match(r"resnet50\s+batch (\d+)", line)
        if m:
            batch = int(m.group(1))
        m = re.match(r"\s+(int8rt fp32|ORT fp32)\s+([\d.]+)", line)
        if m and batch is not None:
            out.setdefault(batch, {})[m.group(1)] = float(m.group(2))
    return {b: (v["int8rt fp32"], v["ORT fp32"]) for b, v in out.items()}


def main() -> int:
    ratios: dict = {}
    print("| file | b1 int8rt / ORT ms | ratio | b8 int8rt / ORT ms | ratio |\n|---|---|---:|---|---:|")
    for name in sys.argv[1:]:
        path = Path(name)
        tree = re.search(r"resnet50_(\w+)_pass", path.name).group(1)
        r = rows(path)
        cells = []
        for b in (1, 8):
            i, o = r[b]
            ratios.setdefault((tree, b), []).append(i / o)
            cells += [f"{i:.1f} / {o:.1f}", f"{i / o:.3f}"]
        print(f"| {path.stem} | " + " | ".join(cells) + " |")
    for (tree, b), v in sorted(ratios.items()):
        print(f"{tree} b{b}: median ratio {statistics.median(v):.3f} over {len(v)} ({min(v):.3f}-{max(v):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
