"""Silero VAD unbound on Ray and under the per-tensor views (RESULTS.md §99).

Silero VAD (the silero-vad wheel) imported as users load it, its sample rate
``sr`` a 0-d int64 input, is one Equal + If whose then-branch (16 kHz) holds
the network (§98). On issue11_verify's Silero row (realnets/issue11_rows.py:
real speech in streaming chunks, each fed the state ONNX Runtime FP32
carried there) this checks, counting and comparing, timing nothing:

- Ray-sharded calibration (calib/distributed.py, local cluster of
  ``--workers`` CPUs) against one process, ``policy="power_of_two"``: the
  calibration cache and its channel-ranges sidecar byte for byte, and the
  engines' outputs on the evaluation chunks bit for bit;
- ``int8rt compare`` (accuracy/compare.py) on ``--eval`` evaluation chunks:
  rows at the top level and inside the branch, the lowest SQNR rows, the
  first jump;
- the build's accuracy check (accuracy/check.py): tensors measured at the
  top level and inside the branch, warnings.

    PYTHONPATH=python python benchmarks/if_branch_views.py [--dir /tmp/if_branch] [--workers 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets.issue11_rows import ROWS  # noqa: E402



def main() -> int:
    import int8rt
    from int8rt.accuracy.compare import compare, first_jump
    from int8rt.accuracy.taps import WholeBatch
    from int8rt.calib.distributed import RayCalibration, init_ray
    from int8rt.data_calibrator import make_calibrator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/if_branch_views")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--eval", type=int, default=40, help="evaluation chunks for compare")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    print(machine_line())
    row = ROWS["silero_vad"](args.dir)
    res: dict = {}

    def build(name: str, method: str, distributed: object = None, check: bool = False) -> int8rt.Engine:
        cal = make_calibrator(row.calib, algorithm=method, policy="power_of_two",
                              cache_file=os.path.join(args.dir, name))
        for suffix in ("", ".channels.json"):  # calibrate, not read a cache of an earlier run
            if os.path.exists(os.path.join(args.dir, name + suffix)):
                os.remove(os.path.join(args.dir, name + suffix))
        return int8rt.build_engine(row.path, int8rt.BuilderConfig(calibrator=cal, distributed=distributed,
                                                                  accuracy_check=check))

    def read(name: str) -> bytes:
        with open(os.path.join(args.dir, name), "rb") as f:
            return f.read()

    init_ray(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    for method in ("minmax", "entropy2"):
        single = build(f"{method}_one.cache", method)
        sharded = build(f"{method}_ray.cache", method, RayCalibration(num_workers=args.workers, batches_per_task=2))
        cache = read(f"{method}_one.cache").decode()
        res[f"ray {method}"] = {
            "cache_lines": len(cache.splitlines()) - 1,
            "branch_lines": sum("/then_branch/" in line for line in cache.splitlines()),
            "cache_equal": read(f"{method}_ray.cache") == read(f"{method}_one.cache"),
            "sidecar_equal": read(f"{method}_ray.cache.channels.json") == read(f"{method}_one.cache.channels.json"),
            "outputs_equal": all(np.array_equal(sharded.run(f)[row.output], single.run(f)[row.output])
                                 for f in row.evaluation),
            "int8_layers_in_branch": sum("/then_branch/" in layer.scope for layer in sharded.int8_plan().layers)}
        print(f"ray {method}:", res[f"ray {method}"])

    engine = build("minmax_check.cache", "minmax", check=True)
    data = [WholeBatch(f) for f in row.evaluation[: args.eval]]  # the state [2, N, 128] is not batch-first
    rows = compare(row.path, engine, data)
    inside = [r for r in rows if "/then_branch/" in r.name]
    jump = first_jump(rows)
    res["compare"] = {"rows": len(rows), "rows_in_branch": len(inside),
                      "int8_rows_in_branch": sum(r.precision == "int8" for r in inside),
                      "lowest_sqnr": [(r.name, round(r.sqnr_db, 2), round(r.cosine, 5))
                                      for r in sorted(rows, key=lambda r: r.sqnr_db)[:5]],
                      "first_jump": None if jump is None else (jump.name, round(jump.sqnr_db, 2)),
                      "outputs": [(r.name, round(r.sqnr_db, 2), round(r.cosine, 5)) for r in rows
                                  if r.name in engine.output_names]}
    print("compare:", res["compare"])
    report = engine.build_report()
    res["check"] = {"tensors": len(report.tensors),
                    "tensors_in_branch": sum("/then_branch/" in t.name for t in report.tensors),
                    "check_samples": report.check_samples, "warnings": list(report.warnings),
                    "lowest_sqnr": [(t.name, round(t.sqnr_db, 2), round(t.clipped, 5))
                                    for t in sorted(report.tensors, key=lambda t: t.sqnr_db)[:3]]}
    print("check:", res["check"])
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
