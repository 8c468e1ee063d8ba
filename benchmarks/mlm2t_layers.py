"""Per-layer wall time of int8rt's encoder engines (MiniLM-L6, BERT-base) at
1 and 2 threads, for RESULTS.md section 201 (mlm2t): which layers the second
thread speeds up and which it does not. Engines are built once (INT8 with
IInt8AutoCalibrator, as e2e_bench.py builds them; FP32) and saved under
--engines, so a later run (another build of int8rt on PYTHONPATH) profiles
the same engine bytes. Per layer kind: the sum over layers of each layer's
median ms (ExecutionContext.profile), at 1 and at 2 threads, alternated
--passes times: by the wall clock (the second thread's speed-up, which needs
a quiet machine) and by the calling thread's CPU clock (robust to load: at 2
threads the caller's share of the 1-thread CPU time, 1.00 for a layer that
runs on one thread, about 0.5 for one split evenly).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import int8rt  # noqa: E402
import e2e_bench as B  # noqa: E402
from bench_util import load_line  # noqa: E402


def engine_for(name: str, precision: str, folder: Path, models_dir: Path) -> tuple:
    """The saved engine (built and saved on first use) and the subject."""
    s = B.subject(name, 224, models_dir)
    path = folder / f"{name}.{precision}.i8rt"
    if not path.exists():
        B.build(s, models_dir, [f"int8rt {precision}"], calibrator="auto")
        s.engines[f"int8rt {precision}"].save(path)
    return int8rt.Engine.load(path), s


def kinds(rows: list) -> dict:
    out: dict = defaultdict(float)
    for r in rows:
        out[r["op"]] += r["ms"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", nargs="+", default=["minilm"])
    ap.add_argument("--precisions", nargs="+", default=["int8", "fp32"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--engines", default="/tmp/mlm2t/eng")
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    ap.add_argument("--layers", action="store_true", help="also print every layer's row")
    a = ap.parse_args()
    folder = Path(a.engines)
    folder.mkdir(parents=True, exist_ok=True)
    for name in a.models:
        for prec in a.precisions:
            eng, s = engine_for(name, prec, folder, Path(a.models_dir))
            feed = s.feed(a.batch)
            ctx = eng.create_execution_context()
            acc = defaultdict(list)  # (clock, threads, kind) -> sums per pass
            per_layer = defaultdict(list)  # (clock, threads, layer) -> ms per pass
            loads = [load_line()]
            for _ in range(a.passes):
                for clock in ("wall", "thread_cpu"):
                    for t in (1, 2):
                        int8rt.set_num_threads(t)
                        ctx.run(feed)
                        rows = ctx.profile(feed, a.runs, clock=clock)
                        for k, v in kinds(rows).items():
                            acc[clock, t, k].append(v)
                        for r in rows:
                            per_layer[clock, t, (r["name"], r["op"], r.get("detail", ""))].append(r["ms"])
            loads.append(load_line())
            print(f"\n{name} {prec} b{a.batch}: {loads[0]} -> {loads[-1]}")
            print(f"{'kind':30s} {'wall 1 thr':>10s} {'2 thr':>8s} {'1 / 2':>6s} {'cpu 1 thr':>10s} "
                  f"{'caller 2 thr':>12s} {'share':>6s}")
            med = {key: float(np.median(v)) for key, v in acc.items()}
            tot = defaultdict(float)
            for k in sorted({key[2] for key in acc}, key=lambda k: -med["thread_cpu", 1, k]):
                w1, w2, c1, c2 = (med[c, t, k] for c, t in
                                  (("wall", 1), ("wall", 2), ("thread_cpu", 1), ("thread_cpu", 2)))
                for i, v in enumerate((w1, w2, c1, c2)):
                    tot[i] += v
                print(f"{k[:30]:30s} {w1:10.3f} {w2:8.3f} {w1 / max(w2, 1e-9):6.2f} {c1:10.3f} {c2:12.3f} "
                      f"{c2 / max(c1, 1e-9):6.2f}")
            print(f"{'total':30s} {tot[0]:10.3f} {tot[1]:8.3f} {tot[0] / tot[1]:6.2f} {tot[2]:10.3f} {tot[3]:12.3f} "
                  f"{tot[3] / tot[2]:6.2f}")
            if a.layers:
                for key in sorted({key[2] for key in per_layer}):
                    w1, w2, c1, c2 = (float(np.median(per_layer[c, t, key])) for c, t in
                                      (("wall", 1), ("wall", 2), ("thread_cpu", 1), ("thread_cpu", 2)))
                    print(f"  {key[0][-44:]:44s} {key[1][:18]:18s} {w1:7.3f} {w2:7.3f} {c1:7.3f} {c2:7.3f} "
                          f"{c2 / max(c1, 1e-9):5.2f} {key[2][:40]}")


if __name__ == "__main__":
    main()
