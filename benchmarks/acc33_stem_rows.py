"""Where auto's float stem rule (python/int8rt/accuracy/quiet_positions.py)
looks on RESULTS.md section 133's networks: for each named network, the
int8rt ``auto`` engine (32 calibration feeds, seed 2) and what its build
report says of the float stem (the stems found, their share of positions
below one int8 step, kept or not), with the centred cosine against ONNX
Runtime FP32 on 32 evaluation feeds (seed 1), as newnets_bench.py measures.
Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc33_stem_rows.py ast,dinov2 --dir D
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from realnets import new_models as M  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", type=lambda s: s.split(","))
    ap.add_argument("--dir", default="/tmp/newnets3/models2")
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    for name in args.names:
        net, path = M.exported(name, args.dir)
        calib, ev = net.feeds(32, 2), net.feeds(32, 1)
        fp32 = M.ort_session(str(path))
        ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 4)
        cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        cfg.calibrator = make_calibrator(calib, algorithm="auto", batch_size=8)
        engine = int8rt.build_engine(str(path), cfg)
        ctx = engine.create_execution_context()
        got = B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], ev, 4), ref)
        print(f"{name}: float stem {engine.build_report().auto_choice.get('float_stem', '- (no stem)')}; "
              f"int8rt auto {got}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
