"""Why ``auto`` picks worse thresholds than its own ``minmax`` on a new
network (RESULTS_accuracy.md, acc41): builds the network with ``auto`` and
the accuracy check on, prints the build report's ``auto_choice`` (each
set's held-out error, the fold scores, the choice), then scores each single
method's engine on the evaluation feeds (newnets_bench.py's metrics, as
newnets4_algorithms.py) and prints the build report's warnings of each
(is ``entropy`` silent where it collapses the output?).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc41_choice_probe.py shufflenet_v2 --dir D
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402  (registers newnets4_families' nets)
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--algorithms", default="auto,minmax,mse,entropy")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    evals, calib = net.feeds(args.eval, 1), net.feeds(args.calib, 2)
    sess = M.ort_session(str(path))
    ref = B.run_all(lambda f: sess.run(None, f)[0], evals, 4)
    for algorithm in args.algorithms.split(","):
        config = int8rt.BuilderConfig(precision="int8")
        config.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=8)
        engine = int8rt.build_engine(str(path), config)
        ctx = engine.create_execution_context()
        report = engine.build_report()
        print(f"== {algorithm}: evaluation", B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], evals, 4), ref))
        if report.auto_choice:
            print("auto_choice", json.dumps(report.auto_choice, indent=1, default=str))
        print("outputs", [(o.name, o.__dict__) for o in report.outputs] if report.outputs else "none")
        print(f"warnings ({len(report.warnings)}):")
        for w in report.warnings:
            print("  ", w[:300])
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
