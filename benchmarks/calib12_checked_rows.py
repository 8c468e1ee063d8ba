"""auto with the accuracy check on (BuilderConfig's default) on accuracy_bench.py's
networks, whose int8rt rows are built with the check off: per network, auto's
metrics against FP32 (accuracy_bench.metrics_row), its choice, each set's
held-out error and the build's time. Run it once per tree (the base and a
branch) and compare; acc46 used it for a change that only the check-on path
could move (RESULTS_accuracy.md acc46: the classic calibrators' own engines
as auto's sets, not adopted).

    PYTHONPATH=python:tests:benchmarks python benchmarks/calib12_checked_rows.py --models digits,collapse,cls
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accuracy_bench as A  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import engines as E  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="digits,collapse,cls")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(2)
    print(machine_line(), flush=True)
    for key in args.models.split(","):
        task = {"digits": A.digits_task, "collapse": A.collapse_task}[key]() if key in ("digits", "collapse") else \
            A.ocr_task(key, *{"cls": (256, 1000), "rec": (64, 300)}[key])
        fp32, _ = E.int8rt_engine(task["model"], "fp32", None, None)
        ref = E.run_batched(E.int8rt_runner(fp32), task["eval"])
        engine, secs, cpu = A.int8rt_build(task["model"], task["calib"], "auto", check=True)
        row = A.metrics_row(task, E.run_batched(E.int8rt_runner(engine), task["eval"]), ref)
        choice = engine.build_report().auto_choice or {}
        print(f"{key}: " + ", ".join(f"{k} {v:.5f}" for k, v in row.items()) + f"; chose {choice.get('thresholds')}, "
              f"bias corr. {choice.get('bias_correction')}; build {secs:.1f} s wall, {cpu:.1f} CPU s", flush=True)
        print(f"  errors: {choice.get('errors')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
