"""int8rt's profiler inside Silero VAD unbound's If branch (RESULTS.md §106).

Silero VAD with ``sr`` an input is one Equal + If whose then-branch holds
the network (§98). ``ExecutionContext.profile`` now lists the layers of the
branch each run takes, scoped (``If_0/then_branch/...``), before the If,
whose own row keeps only the If's work. This prints, for the INT8 (auto)
and FP32 engines at batch 1 and 8 (issue11_verify's Silero row, the
latency feeds of realnets/issue11_rows.py), the row count, the If's own
time, the sum of the rows against a plain run's median time, the time per
layer kind and precision (realnets/profile_kinds.by_kind) and the slowest
branch layers. Thread CPU clock (and the If's own row and the sum on the
wall clock: a thread CPU clock read is a system call, and the reads around
each branch layer fall in the If's own time), 1 thread, medians over
``--runs`` runs.

    PYTHONPATH=python python benchmarks/if_branch_profile.py [--dir /tmp/if_branch_profile] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line, time_alternating  # noqa: E402
from realnets.issue11_rows import ROWS  # noqa: E402
from realnets.profile_kinds import by_kind, kind_int8rt, slowest_int8rt  # noqa: E402


def main() -> int:
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/if_branch_profile")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    print(machine_line())
    int8rt.set_num_threads(1)
    row = ROWS["silero_vad"](args.dir)
    engines = {"INT8 auto": int8rt.build_engine(row.path, int8rt.BuilderConfig(
                   calibrator=make_calibrator(row.calib), accuracy_check=False)),
               "FP32": int8rt.build_engine(row.path, int8rt.BuilderConfig(precision="fp32"))}
    res: dict = {}
    for name, engine in engines.items():
        for b, feed in row.latency.items():
            ctx = engine.create_execution_context()
            rows = ctx.profile(feed, runs=args.runs, clock="thread_cpu")
            run_ms = time_alternating({"run": lambda: ctx.run(feed)}, 5, 0.5, warmup=2,
                                      clock=time.thread_time)["run"] * 1e3
            branch = [r for r in rows if "/then_branch/" in r["name"]]
            kinds = {k: {"ms": v["ms"], "n": v["n"], "precisions": sorted(v["precisions"])}
                     for k, v in sorted(by_kind(rows, kind_int8rt).items(), key=lambda kv: -kv[1]["ms"])}
            wall = ctx.profile(feed, runs=args.runs, clock="wall")
            res[f"{name} b{b}"] = {"rows": len(rows), "branch_rows": len(branch),
                                   "wall_if_own_ms": next(r["ms"] for r in wall if r["name"] == "If_0"),
                                   "wall_sum_ms": sum(r["ms"] for r in wall),
                                   "if_own_ms": next(r["ms"] for r in rows if r["name"] == "If_0"),
                                   "sum_ms": sum(r["ms"] for r in rows), "run_ms": run_ms, "kinds": kinds,
                                   "slowest": slowest_int8rt(branch, 8, 8)}
    print(machine_line())
    for key, r in res.items():
        print(f"{key}: {r['rows']} rows ({r['branch_rows']} in If_0/then_branch), If_0's own {r['if_own_ms']:.4f} "
              f"ms, sum of rows {r['sum_ms']:.4f} ms, run {r['run_ms']:.4f} ms (thread CPU); wall clock: If_0's own "
              f"{r['wall_if_own_ms']:.4f} ms, sum {r['wall_sum_ms']:.4f} ms")
        for k, v in list(r["kinds"].items())[:6]:
            print(f"    {v['ms']:8.4f} ms  {k} x{v['n']} ({'/'.join(v['precisions'])})")
        print("  slowest branch layers:")
        print("\n".join(r["slowest"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
