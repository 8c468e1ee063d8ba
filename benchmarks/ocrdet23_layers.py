"""PP-OCR det's BF16 layers under two int8rt trees (RESULTS.md section 265):
the FP32+bf16 engine (``BuilderConfig(precision="fp32", bf16=True)``, the
channel-blocked regions as built by default) profiled layer by layer
(``ExecutionContext.profile``, thread CPU, medians of ROUNDS profiles of 3
runs, 1 thread) under each tree, the trees' processes alternated (A, B, A, B,
...). Per pass: the layers whose op differs between the trees or that one
tree has and the other not (the span: what the change moved), each tree's
sum of them and of the whole engine, B / A of both, and the per-op sums of
the span. bf16v3_chain_span.py's method, for any change of the layers.

Usage (from the repository root):
  python3 benchmarks/ocrdet23_layers.py --trees /tmp/ocrdet23/base /work/wt/ocrdet23 [--net ppocr_det]
      [--batch 8] [--passes 2] [--rounds 5] [--models-dir /tmp/ocrdet23/models]
(each tree: a directory whose python/int8rt holds its built extension)
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The per-process profile and its runner are bf16v3_chain_span.py's (same engine, same clock).
from bf16v3_chain_span import one_process, options_or_profile, trees_parser  # noqa: E402


def main() -> None:
    ap = trees_parser(__doc__, "ppocr_det", "/tmp/ocrdet23/models")
    args = options_or_profile(ap)
    if args is None:
        return
    from bench_util import load_line
    a, b = args.trees
    for p in range(args.passes):
        rows = {t: one_process(t, args) for t in (a, b)}
        ops = {t: {r[0]: r[1] for r in rows[t]} for t in (a, b)}
        span, whole = {}, {}
        for t, other in ((a, b), (b, a)):
            own = [r for r in rows[t] if ops[other].get(r[0]) != r[1]]
            span[t], whole[t] = sum(r[2] for r in own), sum(r[2] for r in rows[t])
            print(f"\npass {p + 1}, tree {t}: span {span[t]:.3f} ms of {whole[t]:.3f} ms ({len(own)} layers); "
                  f"{load_line()}")
            per_op: dict = defaultdict(lambda: [0.0, 0])
            for _, op, ms in own:
                per_op[op][0] += ms
                per_op[op][1] += 1
            for op, (ms, n) in sorted(per_op.items(), key=lambda kv: -kv[1][0]):
                print(f"  {ms:8.3f} ms  x{n:<3d} {op}")
            print("  the span's 14 slowest layers:")
            for name, op, ms in sorted(own, key=lambda r: -r[2])[:14]:
                print(f"  {ms:8.3f}  {op}  {name}")
        span_ratio = f"{span[b] / span[a]:.3f}" if span[a] > 0 else "- (no layer differs)"
        print(f"\npass {p + 1}: B / A span {span_ratio}, whole {whole[b] / whole[a]:.3f}")


if __name__ == "__main__":
    main()
