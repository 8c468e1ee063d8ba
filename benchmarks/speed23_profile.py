"""speed23: per-layer profile of one nets20 network, int8rt INT8 against OpenVINO INT8, grouped by layer kind
(realnets/profile_kinds.py), to find where int8rt loses (RESULTS_realnets.md, the speed23 section).

Reads the engines speed23_nets20_latency.py saved (``--save``: ``<name>.i8rt``, ``<name>.ov.xml``). int8rt:
``ExecutionContext.profile`` with the thread CPU clock (one thread: a layer's own work on a loaded machine), the
minimum over ``--repeats`` profiles; OpenVINO: each run's own per-node time (openvino_engines.profile, wall), the
minimum over as many profiles, taken alternately with int8rt's. Prints the per-kind table, the slowest layers of
each, and int8rt's time per (op, precision, kernel).

Usage (repo root): PYTHONPATH=python python benchmarks/speed23_profile.py botnet26t --batch 1 \
    [--save /tmp/speed23/engines] [--top 25]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--save", default="/tmp/speed23/engines")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-ov", action="store_true")
    args = ap.parse_args()
    import openvino as ov

    import int8rt
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M
    from realnets import openvino_engines as OV
    from realnets import profile_kinds as K

    print(machine_line())
    print(f"{args.name} batch {args.batch}, one thread")
    int8rt.set_num_threads(1)
    feed = {k: np.ascontiguousarray(v) for k, v in M.NETS[args.name].feeds(args.batch, 3).items()}
    ctx = int8rt.Engine.load(os.path.join(args.save, f"{args.name}.i8rt")).create_execution_context()
    ov_model = None if args.no_ov else ov.Core().read_model(os.path.join(args.save, f"{args.name}.ov.xml"))

    def ov_compile():
        m = ov_model.clone()
        m.reshape({i.get_any_name(): ov.PartialShape(list(feed[i.get_any_name()].shape)) for i in m.inputs})
        return ov.Core().compile_model(m, "CPU", {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY",
                                                  "PERF_COUNT": True})

    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(ctx.profile(feed, args.runs, clock="thread_cpu"))
        if ov_model is not None:
            theirs.append(OV.profile(ov_compile, feed, args.runs))
    a = K.merge_profiles(ours, np.min)
    if theirs:
        b = K.merge_profiles(theirs, np.min)
        print("\n".join(K.compare_table(a, b)))
    print(f"\nint8rt INT8, slowest {args.top} layers (thread CPU ms):")
    print("\n".join(K.slowest_int8rt(a, args.top, 8)))
    if theirs:
        print(f"\nOpenVINO INT8, slowest {args.top} nodes (wall ms):")
        print("\n".join(K.slowest_openvino(b, args.top, 8)))
    per = collections.defaultdict(lambda: [0.0, 0])
    for layer in a:
        k = (layer["op"], layer["precision"], layer["detail"].split(" ")[0])
        per[k][0] += layer["ms"]
        per[k][1] += 1
    print("\nint8rt INT8 per (op, precision, kernel): ms (layers)")
    for (op, prec, det), (ms, n) in sorted(per.items(), key=lambda kv: -kv[1][0]):
        print(f"  {ms:8.3f} ({n:3d})  {op:22s} {prec:8s} {det}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
