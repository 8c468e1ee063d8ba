"""What auto's folds (python/int8rt/accuracy/crossval.py) cost: an auto build
of a network of benchmarks/realnets/new_models.py with and without them,
alternated in one process, same calibration data (newnets_methods.py's: 32
inputs in batches of 8), one thread; prints each build's seconds and the
medians' ratio, and whether the two engines' choices differ.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/auto_folds_time.py squeezenet1_0 \
    [--rounds 2] [--calib-seed 2] [--dir /tmp/newnets/models]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from newnets_methods import _without_folds  # noqa: E402
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--dir", default="/tmp/newnets/models")
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print(machine_line())
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(32, args.calib_seed)
    seconds: dict[str, list[float]] = {"with folds": [], "without": []}
    for _ in range(args.rounds):
        for label in seconds:
            config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
            config.calibrator = make_calibrator(calib, algorithm="auto", batch_size=8)
            t0 = time.perf_counter()
            with _without_folds(label == "without"):
                engine = int8rt.build_engine(str(path), config)
            seconds[label].append(time.perf_counter() - t0)
            choice = engine.build_report().auto_choice
            print(f"{args.name} auto {label}: {seconds[label][-1]:.1f} s, thresholds {choice['thresholds']}"
                  + (f" (held-out slice alone: {choice['held_out_choice']})" if "held_out_choice" in choice else ""),
                  flush=True)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"{args.name}: median build {med['with folds']:.1f} s with folds, {med['without']:.1f} s without, "
          f"ratio {med['with folds'] / med['without']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
