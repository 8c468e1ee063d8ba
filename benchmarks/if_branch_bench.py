"""Silero VAD unbound: int8rt's INT8 build inside the If branch (RESULTS.md §98).

Silero VAD (the silero-vad wheel) imported as users load it, the sample rate
``sr`` a 0-d int64 input, is one Equal + If whose then-branch (16 kHz) holds
the whole network. int8rt calibrates the branch each batch takes and lowers
it to int8 (csrc/engine/lower_int8_branches.cc). This measures, on
issue11_verify's Silero row (realnets/issue11_rows.py: real speech in
streaming chunks, each fed the state ONNX Runtime FP32 carried there; no
profile: the shapes come from the calibration batches):

- int8 layers: lowered nodes whose op is an int8 layer, over every node of
  the engine (top level and branches, conversions included: engine.layers()'s
  count extended into the subgraphs), and of the then-branch alone;
- accuracy against ORT FP32 (the row's metric: centred cosine of p(speech),
  decision agreement at 0.5) of int8rt minmax and auto (make_calibrator's
  default) unbound, and of ONNX Runtime quant_pre_process + quantize_static
  on the same file and calibration data (wheelnets_bench.ort_int8); with
  ``--bound``, also both built on the graph with ``sr`` bound (§87's row);
- latency at batch 1 and 8: process CPU time per run, every engine
  alternated in this process (bench_util.time_alternating), medians, 1 thread.

    PYTHONPATH=python python benchmarks/if_branch_bench.py [--dir /tmp/if_branch] [--bound] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line, time_alternating  # noqa: E402
from realnets.issue11_rows import ROWS  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402


def int8_layers(net) -> tuple[int, int]:
    """(int8 layers, all layers) of a lowered network and its subgraphs, by int8_coverage's rule."""
    int8, total = 0, 0
    for node in net.nodes():
        total += 1
        int8 += node["op"].startswith("int8rt.Q") and node["op"] != "int8rt.Quantize"
        for value in node["attrs"].values():
            if hasattr(value, "nodes"):
                i, t = int8_layers(value)
                int8, total = int8 + i, total + t
    return int8, total


def then_branch(engine):
    return next(n for n in engine.network().nodes() if n["op"] == "If")["attrs"]["then_branch"]


def main() -> int:
    import onnx

    import int8rt
    import int8rt.onnx
    from int8rt.data_calibrator import make_calibrator
    from wheelnets_bench import ort_int8

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/if_branch_bench")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=2.0, help="CPU seconds each engine runs at least per batch")
    ap.add_argument("--bound", action="store_true", help="also the builds with sr bound at import (§87's row)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    print(machine_line())
    int8rt.set_num_threads(1)
    row = ROWS["silero_vad"](args.dir)
    refs = [ort_session(row.path).run([row.output], f)[0] for f in row.evaluation]
    res: dict = {"int8_layers": {}, "metric": {}, "cpu_ms": {}}
    runs, contexts = {}, {}
    for method in ("minmax", "auto"):
        engine = int8rt.build_engine(row.path, int8rt.BuilderConfig(
            calibrator=make_calibrator(row.calib, algorithm=method), accuracy_check=False))
        res["int8_layers"][f"int8rt {method}"] = {"engine": int8_layers(engine.network()),
                                                  "then_branch": int8_layers(then_branch(engine))}
        ctx = engine.create_execution_context()
        res["metric"][f"int8rt {method}"] = row.metric([ctx.run(f)[row.output] for f in row.evaluation], refs,
                                                       row.evaluation)
        runs[f"int8rt {method}"] = lambda f, c=ctx: c.run(f)
        contexts[f"int8rt {method}"] = ctx
    ort8 = ort_session(ort_int8(row.path, row.calib, 0)[0])
    res["metric"]["ORT INT8"] = row.metric([ort8.run([row.output], f)[0] for f in row.evaluation], refs,
                                           row.evaluation)
    runs["ORT INT8"] = lambda f: ort8.run(None, f)
    ort32 = ort_session(row.path)
    runs["ORT FP32"] = lambda f: ort32.run(None, f)
    fp32 = int8rt.build_engine(row.path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    runs["int8rt FP32"] = lambda f: fp32.run(f)
    free = lambda f: {k: v for k, v in f.items() if k not in row.bound}  # noqa: E731
    if args.bound:
        engine = int8rt.build_engine(int8rt.onnx.import_model(row.path, input_values=row.bound), int8rt.BuilderConfig(
            calibrator=make_calibrator([free(f) for f in row.calib]), accuracy_check=False,
            input_shapes=row.profile))
        res["int8_layers"]["int8rt auto, sr bound, profile"] = {"engine": int8_layers(engine.network())}
        bctx = engine.create_execution_context()
        res["metric"]["int8rt auto, sr bound, profile"] = row.metric(
            [bctx.run(free(f))[row.output] for f in row.evaluation], refs, row.evaluation)
        runs["int8rt auto, sr bound, profile"] = lambda f, c=bctx: c.run(free(f))
        bound = os.path.join(args.dir, "silero_vad_bound.onnx")
        onnx.save(int8rt.onnx.specialize(row.path, input_values=row.bound), bound)
        ort8b = ort_session(ort_int8(bound, [free(f) for f in row.calib], 0)[0])
        res["metric"]["ORT INT8, sr bound"] = row.metric([ort8b.run([row.output], free(f))[0] for f in row.evaluation],
                                                         refs, row.evaluation)
        runs["ORT INT8, sr bound"] = lambda f: ort8b.run(None, free(f))
    # the 8 kHz branch, never taken in calibration: float32 in the INT8 engines, still runs
    # (256-sample chunks with 32 of context: the evaluation chunks' last 288 samples, their state)
    eight = [{**f, "input": f["input"][:, -288:], "sr": np.array(8000, np.int64)} for f in row.evaluation[:40]]
    want = [ort32.run([row.output], f)[0] for f in eight]
    res["8k_max_abs"] = {k: max(float(np.max(np.abs(ctx.run(f)[row.output] - w))) for f, w in zip(eight, want))
                         for k, ctx in contexts.items()}
    for b, feed in row.latency.items():
        t = time_alternating({k: (lambda r=r: r(feed)) for k, r in runs.items()}, args.rounds, args.min_time,
                             warmup=2, clock=__import__("time").process_time)
        res["cpu_ms"][f"b{b}"] = {k: v * 1e3 for k, v in t.items()}
    print(machine_line())
    for k, (i, t) in ((k, v["engine"]) for k, v in res["int8_layers"].items()):
        tb = res["int8_layers"][k].get("then_branch")
        print(f"{k}: int8 layers {i}/{t}" + (f" (then-branch {tb[0]}/{tb[1]})" if tb else ""))
    print("| build | " + " | ".join(next(iter(res["metric"].values()))) + " | b1 CPU ms | b8 CPU ms |")
    for k in runs:
        m = res["metric"].get(k)
        cells = [f"{v:.4f}" for v in m.values()] if m else ["-", "-"]
        cells += [f"{res['cpu_ms'][b][k]:.4f}" for b in ("b1", "b8")]
        print(f"| {k} | " + " | ".join(cells) + " |")
    print(f"8 kHz chunks (the branch no calibration batch took), max |int8rt INT8 - ORT FP32|: "
          f"{res['8k_max_abs']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
