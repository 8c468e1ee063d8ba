"""§230: the float32 Convs of Basic Pitch's CQT front end, per layer.

Builds Basic Pitch's FP32 engine (no calibration: its front end is the same
float32 Convs that auto keeps in float, acc52) and prints each front-end
Conv's shape class, its kernel description and its thread CPU time
(ExecutionContext.profile, median of --reps runs of one window), then the
front end's Conv total. Run it once with each build (PYTHONPATH) and
alternate the runs: the two builds cannot share a process.

Usage: PYTHONPATH=python python benchmarks/f32cqt_bp_layers.py --wheel /tmp/calib16/dl/basic_pitch-0.4.0-py2.py3-none-any.whl
       --archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz /tmp/calib16/dl/amfm_decompy-1.0.12.2-py3-none-any.whl [--reps 9]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib16_basic_pitch as B  # noqa: E402
from realnets import engines as E  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--archives", nargs="*", default=[])
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    model = B.wheel_model(args.wheel)
    x = B.windows(tuple(args.archives))
    eng = E.int8rt_engine(model, "fp32", None, None)[0]
    ctx = eng.create_execution_context()
    rows = ctx.profile({eng.input_names[0]: x[1:2]}, args.reps, clock="thread_cpu")
    conv = [r for r in rows if r["op"] == "Conv" and "cq_t2010" in r["name"]]
    with open("/proc/loadavg") as f:
        print(f"load average: {f.read().split()[:3]}; int8rt from {os.path.dirname(int8rt.__file__)}")
    for r in conv:
        print(f"{r['ms']:8.3f} ms  {r['detail']:<40} {r['name'][:60]}")
    print(f"front-end Convs: {len(conv)}, {sum(r['ms'] for r in conv):.2f} ms; the slowest "
          f"{max(r['ms'] for r in conv):.3f} ms; whole profile {sum(r['ms'] for r in rows):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
