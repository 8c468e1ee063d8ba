"""Build CPU time of the auto calibrator with and without deciding unsigned
activations again at the chosen thresholds (accuracy/run.py,
``CalibrationRun._redecide_unsigned``), in one process, alternated: "without"
replaces that step by what main did (the chosen set's engine kept as it was
scored), so the two builds differ by that step only. accuracy_bench.py's
networks and data (digits, det: the ones where auto chooses a set other than
mse, so that the step runs); prints per round the CPU seconds of each build,
the decisions, and the median ratio.

    PYTHONPATH=python python benchmarks/auto_redecide_time.py --models digits,det --rounds 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy_bench as A  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="digits,det")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from int8rt.accuracy.run import CalibrationRun

    redecide = CalibrationRun._redecide_unsigned

    def kept_as_scored(self, choice, decided_at):  # main's behaviour
        current = choice.engines.get(choice.label)
        return (current, choice.errors[choice.label]) if current is not None else None

    for key in args.models.split(","):
        task = A.digits_task() if key == "digits" else A.ocr_task(key, 32, 8)
        ratios = []
        for r in range(args.rounds):
            cpu = {}
            for label, step in (("with", redecide), ("without", kept_as_scored)):
                CalibrationRun._redecide_unsigned = step
                engine, wall, cpu[label] = A.int8rt_build(task["model"], task["calib"], "auto", False)
                choice = engine.build_report().auto_choice
                print(f"{task['name']} round {r} {label}: CPU {cpu[label]:.2f} s (wall {wall:.1f}); thresholds "
                      f"{choice['thresholds']}, unsigned {choice['unsigned_activations']}; load "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
            ratios.append(cpu["with"] / cpu["without"])
        CalibrationRun._redecide_unsigned = redecide
        print(f"{task['name']}: CPU with / without, median of {args.rounds} rounds: {statistics.median(ratios):.3f} "
              f"({', '.join(f'{x:.3f}' for x in ratios)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
