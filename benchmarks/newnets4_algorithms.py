"""One new network's INT8 engine under each int8rt calibration algorithm
(RESULTS.md section 160 §4): int8rt ``auto``, ``minmax``, ``entropy`` and
``percentile`` on the same calibration feeds as newnets_bench.py (seed 2),
scored against ONNX Runtime FP32 on its evaluation feeds (seed 1) with
newnets_bench.py's metrics (centred cosine / top-1 on varying inputs).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/newnets4_algorithms.py crepe_tiny --dir D
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402  (registers newnets4_families' nets)
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--algorithms", default="auto,minmax,entropy,percentile")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    evals, calib = net.feeds(args.eval, 1), net.feeds(args.calib, 2)
    sess = M.ort_session(str(path))
    ref = B.run_all(lambda f: sess.run(None, f)[0], evals, 4)
    for algorithm in args.algorithms.split(","):
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=8)
        ctx = int8rt.build_engine(str(path), config).create_execution_context()
        print(algorithm, B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], evals, 4), ref), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
