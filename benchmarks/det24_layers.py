"""The BF16 blocked convs of 2 output blocks (17-32 channels) under two int8rt
trees (RESULTS.md section 266): the FP32+bf16 engine
(``BuilderConfig(precision="fp32", bf16=True)``) profiled layer by layer
(``ExecutionContext.profile``, thread CPU, medians of ROUNDS profiles of 3
runs, 1 thread) under each tree, the trees' processes alternated (A, B, A,
B, ...). The layers are the same in both trees (a kernel's tile changed, not
the graph): per pass the named layers (default: PP-OCR det's 3x3 96 -> 24
convs), every ``int8rt.ConvBf16x16c`` layer's sum, the whole engine's sum,
each tree's and B / A.

Usage (from the repository root):
  python3 benchmarks/det24_layers.py --trees /tmp/det24/base /work/wt/det24 [--net ppocr_det]
      [--batch 8] [--passes 2] [--rounds 5] [--models-dir /tmp/det24/models] [--layers p2o.Conv.58 ...]
(each tree: a directory whose python/int8rt holds its built extension)
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ocrdet23_layers import one_process, options_or_profile, trees_parser  # noqa: E402

DET_CONVS = ["p2o.Conv.52", "p2o.Conv.55", "p2o.Conv.58", "p2o.Conv.61"]


def main() -> None:
    ap = trees_parser(__doc__, "ppocr_det", "/tmp/det24/models")
    ap.add_argument("--layers", nargs="*", default=DET_CONVS)
    args = options_or_profile(ap)
    if args is None:
        return
    from bench_util import load_line
    a, b = args.trees
    for p in range(args.passes):
        rows = {}
        for t in (a, b):
            rows[t] = one_process(t, args)
            print(f"pass {p + 1}, tree {t} done; {load_line()}")
        ms = {t: {r[0]: r[2] for r in rows[t]} for t in (a, b)}
        ops = {t: {r[0]: r[1] for r in rows[t]} for t in (a, b)}
        if ops[a] != ops[b]:
            print("  the trees' layers or ops differ:",
                  sorted(n for n in set(ops[a]) | set(ops[b]) if ops[a].get(n) != ops[b].get(n)))
        print(f"  {'layer':24s} {'A ms':>9s} {'B ms':>9s} {'B / A':>7s}")
        for name in args.layers:
            if name in ms[a] and name in ms[b]:
                print(f"  {name:24s} {ms[a][name]:9.3f} {ms[b][name]:9.3f} {ms[b][name] / ms[a][name]:7.3f}")
        for label, pick in (("every ConvBf16x16c", lambda r: r[1] == "int8rt.ConvBf16x16c"), ("whole", lambda r: True)):
            sa = sum(r[2] for r in rows[a] if pick(r))
            sb = sum(r[2] for r in rows[b] if pick(r))
            print(f"  {label:24s} {sa:9.3f} {sb:9.3f} {sb / sa:7.3f}")


if __name__ == "__main__":
    main()
