"""Is the ranking of two calibration methods on a new network a property
of the methods or of the images they are scored on (RESULTS_accuracy.md,
acc41)? Builds one engine per method on each calibration seed (32 images,
accuracy check off, as newnets4_algorithms.py) and scores every engine on
every evaluation seed with newnets_bench.py's centred cosine against ONNX
Runtime FP32; a seed that is also the calibration seed is marked
(in-sample).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc41_seed_swap.py shufflenet_v2 --dir D
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
    ap.add_argument("--algorithms", default="minmax,mse")
    ap.add_argument("--calib-seeds", default="2,3")
    ap.add_argument("--eval-seeds", default="1,2,3,4")
    ap.add_argument("--n", type=int, default=32)
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    sess = M.ort_session(str(path))
    evals = {s: net.feeds(args.n, s) for s in map(int, args.eval_seeds.split(","))}
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in evals.items()}
    for cs in map(int, args.calib_seeds.split(",")):
        calib = net.feeds(args.n, cs)
        for algorithm in args.algorithms.split(","):
            config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
            config.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=8)
            ctx = int8rt.build_engine(str(path), config).create_execution_context()
            row = []
            for s, e in evals.items():
                m = B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], e, 4), refs[s])
                row.append(f"eval {s}{'*' if s == cs else ''} {m['ccos']:.4f}")
            print(f"calib {cs} {algorithm:8s}", "  ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
