"""acc52: what auto's float stem ending at a Log costs Basic Pitch at run time.

Engines (draw 1's calibration windows, as calib16_basic_pitch.py): FP32,
INT8 mse (every layer int8 where it lowers), INT8 auto (the CQT front end and
its Log in float32: accuracy/log_stems.py). Each runs the 42 evaluation
windows one at a time, one thread; the three alternate (a, b, c, a, b, c,
...) in one process, and the process CPU time per window is reported
(median over the rounds) with the ratios, as the machine is shared; then
each INT8 engine's per-layer profile (thread CPU time): the front end's
share and its slowest layers.

Usage: PYTHONPATH=python python benchmarks/logstem12_bp_speed.py --wheel /tmp/calib16/dl/basic_pitch-0.4.0-py2.py3-none-any.whl
       --archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz /tmp/calib16/dl/amfm_decompy-1.0.12.2-py3-none-any.whl [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib16_basic_pitch as B  # noqa: E402
from realnets import engines as E  # noqa: E402


# the layers of the CQT front end and the normalised log (their ONNX names)
FRONT_END = ("cq_t2010", "normalized_log", "Transpose__553")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--archives", nargs="*", default=[])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    model = B.wheel_model(args.wheel)
    x = B.windows(tuple(args.archives))
    idx = np.arange(len(x))
    calib, evaluation = x[idx[idx % 4 == 0][:16]], x[idx % 2 == 1]
    engines = {"fp32": E.int8rt_engine(model, "fp32", None, None)[0],
               "int8 mse": E.int8rt_engine(model, "int8", calib, "mse")[0],
               "int8 auto": E.int8rt_engine(model, "int8", calib, "auto")[0]}
    print("auto float_stem:", (engines["int8 auto"].build_report().auto_choice or {}).get("float_stem"))
    runners = {k: E.int8rt_runner(e) for k, e in engines.items()}
    for run in runners.values():
        run(evaluation[:1])  # warm
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(args.rounds):
        for k, run in runners.items():
            t0 = time.process_time()
            for i in range(len(evaluation)):
                run(evaluation[i:i + 1])
            times[k].append((time.process_time() - t0) / len(evaluation) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    with open("/proc/loadavg") as f:
        print(f"load average: {f.read().split()[:3]}")
    print(f"| engine | CPU ms per window (median of {args.rounds}) | ÷ int8 mse |")
    print("|---|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:.1f} | {v / med['int8 mse']:.2f} |")
    # where the time goes: per-layer thread CPU time, the front end (the CQT
    # and the normalised log) against the rest, by op and precision
    for k in ("int8 mse", "int8 auto"):
        ctx = engines[k].create_execution_context()
        rows = ctx.profile({engines[k].input_names[0]: evaluation[:1]}, 7, clock="thread_cpu")
        front = [r for r in rows if any(s in r["name"] for s in FRONT_END)]
        ops: dict[tuple[str, str], float] = {}
        for r in front:
            ops[(r["op"], r["precision"])] = ops.get((r["op"], r["precision"]), 0.0) + r["ms"]
        top = sorted(ops.items(), key=lambda kv: -kv[1])[:3]
        print(f"{k}: profile {sum(r['ms'] for r in rows):.1f} ms, front end {sum(r['ms'] for r in front):.1f} ms "
              f"({', '.join(f'{op} {p} {ms:.1f}' for (op, p), ms in top)}); slowest front-end layer: "
              + max(((r["ms"], r["op"], r["detail"], r["name"][:40]) for r in front), default=None).__repr__())
    return 0


if __name__ == "__main__":
    sys.exit(main())
