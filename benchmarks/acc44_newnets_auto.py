"""int8rt ``auto`` on networks of benchmarks/realnets (random weights), as
newnets_bench.py scores them: 32 calibration feeds (seed 2), 32 evaluation
feeds (seed 1), batches of 4, centred cosine of the output ("out") against
ONNX Runtime FP32; with the build report's chosen set and its unsigned
activations, to re-measure rows auto's set "mse unsigned" could move
(benchmarks/RESULTS_accuracy.md, acc44).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc44_newnets_auto.py hubert dinov2 --dir D
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from newnets_probe import int8rt_engine  # noqa: E402
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/acc44/nn")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    for name in args.names:
        net, model = M.exported(name, args.dir)
        path, calib, ev = str(model), net.feeds(32, 2), net.feeds(32, 1)
        fp32 = M.ort_session(path)
        engine = int8rt_engine(path, calib, "auto")
        ctx = engine.create_execution_context()
        a = engine.build_report().auto_choice
        outs = [ctx.run(b)["out"] for b in B._batches(ev, 4)]
        refs = [fp32.run(None, b)[0] for b in B._batches(ev, 4)]
        print(f"{name} auto: centred cosine {B.centred_cosine(np.concatenate(outs), np.concatenate(refs)):.5f}; "
              f"chose {a.get('thresholds')} (held-out slice {a.get('held_out_choice')}), unsigned "
              f"{a.get('unsigned_activations')}, mse unsigned scored: {'mse unsigned' in a.get('errors', {})}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
