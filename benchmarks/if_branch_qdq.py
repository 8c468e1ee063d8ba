"""Silero VAD unbound, exported as Q/DQ with int8 inside its If branch, run
in ONNX Runtime (RESULTS.md §106).

int8rt's INT8 build of Silero VAD with ``sr`` an input lowers the If branch
calibration takes (the 16 kHz one) to int8 (§98); ``int8rt.export_qdq(model,
engine, path)`` now writes that branch's QuantizeLinear / DequantizeLinear
pairs and int8 weights inside the branch subgraph. This measures, on
issue11_verify's Silero row (realnets/issue11_rows.py: real speech in
streaming chunks, each fed the state ONNX Runtime FP32 carried; 27
calibration steps of 8 streams, 125 evaluation steps of 4):

- what the export wrote: Q/DQ pairs and int8 weights inside the then-branch,
  and what ONNX Runtime makes of them with its optimizations on (its saved
  optimized model: QLinearConv and the other int8 ops inside the branch);
- agreement of p(speech): ORT on the Q/DQ model (optimizations on, as users
  run it, and off: the Q/DQ graph run literally) against ORT FP32 (centred
  cosine, decisions at 0.5) and against int8rt's own engine (the same, and
  max |difference|); on 8 kHz chunks (the branch no calibration batch took,
  left float32) the largest |difference| to ORT FP32;
- latency at batch 1 and 8: process CPU time per run, ORT Q/DQ, ORT FP32 and
  int8rt INT8 alternated in this process (bench_util.time_alternating),
  medians, 1 thread.

    PYTHONPATH=python python benchmarks/if_branch_qdq.py [--dir /tmp/if_branch_qdq] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line, time_alternating  # noqa: E402
from realnets.issue11_rows import ROWS  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402

INT8_ORT_OPS = ("QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM",
                "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QGemm")


def branch_ops(graph, path: str) -> Counter:
    """Op counts of the subgraph at "If_0/then_branch" of ``graph``."""
    node, attr = path.split("/")
    g = next(a.g for n in graph.node if n.name == node for a in n.attribute if a.name == attr)
    return Counter(n.op_type for n in g.node)


def ort_optimized(path: str, out: str):
    """The model as ONNX Runtime optimizes it (its optimizations on, 1 thread)."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = 1, 1, 3
    so.optimized_model_filepath = out
    ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return onnx.load(out)


def spec_session(path: str):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = 1, 1, 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main() -> int:
    import onnx

    import int8rt
    from int8rt.data_calibrator import make_calibrator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/if_branch_qdq")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=2.0, help="CPU seconds each engine runs at least per batch")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    print(machine_line())
    int8rt.set_num_threads(1)
    row = ROWS["silero_vad"](args.dir)
    ort32 = ort_session(row.path)
    refs = [ort32.run([row.output], f)[0] for f in row.evaluation]
    eight = [{**f, "input": f["input"][:, -288:], "sr": np.array(8000, np.int64)} for f in row.evaluation[:40]]
    want8 = [ort32.run([row.output], f)[0] for f in eight]
    res: dict = {"export": {}, "ort_branch_ops": {}, "agreement": {}, "8k_max_abs": {}, "cpu_ms": {}}
    runs = {"ORT FP32": lambda f: ort32.run(None, f)}
    for method in ("minmax", "auto"):
        engine = int8rt.build_engine(row.path, int8rt.BuilderConfig(
            calibrator=make_calibrator(row.calib, algorithm=method), accuracy_check=False))
        path = os.path.join(args.dir, f"silero_vad_qdq_{method}.onnx")
        t0 = time.perf_counter()
        int8rt.export_qdq(row.path, engine, path)
        seconds = time.perf_counter() - t0
        qdq = onnx.load(path)
        res["export"][method] = {"seconds": seconds, "top_level": dict(Counter(n.op_type for n in qdq.graph.node)),
                                 "then_branch": dict(branch_ops(qdq.graph, "If_0/then_branch")),
                                 "else_branch_qdq": branch_ops(qdq.graph, "If_0/else_branch")["QuantizeLinear"]}
        opt = ort_optimized(path, os.path.join(args.dir, f"silero_vad_qdq_{method}_ort_optimized.onnx"))
        res["ort_branch_ops"][method] = {op: c for op, c in branch_ops(opt.graph, "If_0/then_branch").items()
                                         if op in INT8_ORT_OPS or op in ("QuantizeLinear", "DequantizeLinear")}
        ctx = engine.create_execution_context()
        ours = [ctx.run(f)[row.output] for f in row.evaluation]
        res["agreement"][f"int8rt {method} vs ORT FP32"] = row.metric(ours, refs, row.evaluation)
        for how, session in (("ORT Q/DQ", ort_session(path)), ("ORT Q/DQ, optimizations off", spec_session(path))):
            outs = [session.run([row.output], f)[0] for f in row.evaluation]
            key = f"{how} ({method})"
            res["agreement"][f"{key} vs ORT FP32"] = row.metric(outs, refs, row.evaluation)
            res["agreement"][f"{key} vs int8rt"] = {
                **row.metric(outs, ours, row.evaluation),
                "max_abs": max(float(np.abs(a - b).max()) for a, b in zip(outs, ours))}
            res["8k_max_abs"][key] = max(float(np.abs(session.run([row.output], f)[0] - w).max())
                                         for f, w in zip(eight, want8))
        session = ort_session(path)
        runs[f"ORT Q/DQ ({method})"] = lambda f, s=session: s.run(None, f)
        runs[f"int8rt INT8 {method}"] = lambda f, c=ctx: c.run(f)
    for b, feed in row.latency.items():
        t = time_alternating({k: (lambda r=r: r(feed)) for k, r in runs.items()}, args.rounds, args.min_time,
                             warmup=2, clock=time.process_time)
        res["cpu_ms"][f"b{b}"] = {k: v * 1e3 for k, v in t.items()}
    print(machine_line())
    for method, e in res["export"].items():
        print(f"export ({method}, {e['seconds']:.2f} s): top level {e['top_level']}; then-branch "
              f"{e['then_branch'].get('QuantizeLinear', 0)} QuantizeLinear, {e['then_branch'].get('DequantizeLinear', 0)}"
              f" DequantizeLinear; else-branch {e['else_branch_qdq']} QuantizeLinear")
        print(f"  ORT optimized then-branch: {res['ort_branch_ops'][method]}")
    for k, v in res["agreement"].items():
        print(f"{k}: " + ", ".join(f"{m} {x:.6f}" for m, x in v.items()))
    print(f"8 kHz chunks (branch left float32), max |ORT Q/DQ - ORT FP32|: {res['8k_max_abs']}")
    print("| engine | b1 CPU ms | b8 CPU ms |")
    for k in runs:
        print(f"| {k} | {res['cpu_ms']['b1'][k]:.4f} | {res['cpu_ms']['b8'][k]:.4f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
