"""Run-time control flow (ONNX If / Loop): what deciding at run time costs.

1. Silero VAD 6 (silero_vad.onnx from the silero-vad wheel, 25 Ifs on the
   sample rate and on shapes), one streaming step (576 samples, state
   carried) at batch 1 and 8, FP32: int8rt imported unchanged (``sr`` an
   input, the Ifs run per call), int8rt specialised (``input_values={"sr":
   16000}`` and fixed shapes: the Ifs inlined, the graph folded and fused),
   ONNX Runtime on the unchanged model.
2. A Loop whose body is one small recurrence step (Gather, Mul, Add, Tanh on
   [64] floats, a condition from a ReduceSum), 100 iterations: int8rt vs ONNX
   Runtime, i.e. the per-iteration overhead of each runtime's Loop.

Every engine runs on 1 thread; medians of runs alternated in this process
(benchmarks/realnets/timing.py). Outputs are checked against ONNX Runtime
before timing.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/control_flow_bench.py [--rounds 200]
Needs: onnx, onnxruntime; silero-vad for part 1 (pip install --no-deps silero-vad).
"""
from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets.timing import alternating_medians  # noqa: E402


def _ort(model: bytes):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def _fp32(network):
    import int8rt
    return int8rt.build_engine(network, int8rt.BuilderConfig(precision="fp32"))


def silero(rounds: int) -> None:
    import int8rt
    import int8rt.onnx
    path = str(importlib.resources.files("silero_vad") / "data" / "silero_vad.onnx")
    with open(path, "rb") as f:
        model = f.read()
    sess = _ort(model)
    runtime = _fp32(int8rt.onnx.import_model(path)).create_execution_context()
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        special = _fp32(int8rt.onnx.import_model(
            path, input_values={"sr": 16000},
            input_shapes={"input": [batch, 576], "state": [2, batch, 128]})).create_execution_context()
        x = (rng.standard_normal((batch, 576)) * 0.1).astype(np.float32)
        state = (rng.standard_normal((2, batch, 128)) * 0.1).astype(np.float32)
        sr = np.array(16000, np.int64)
        want = sess.run(None, {"input": x, "state": state, "sr": sr})
        for name, got in (("run-time Ifs", runtime.run({"input": x, "state": state, "sr": sr})),
                          ("specialised", special.run({"input": x, "state": state}))):
            err = max(float(np.abs(got[o] - w).max()) for o, w in zip(("output", "stateN"), want))
            print(f"  batch {batch} {name}: max |diff| vs ONNX Runtime {err:.2e}")
        ms = alternating_medians({
            "int8rt run-time Ifs": lambda _: runtime.run({"input": x, "state": state, "sr": sr}),
            "int8rt specialised": lambda _: special.run({"input": x, "state": state}),
            "ONNX Runtime": lambda _: sess.run(None, {"input": x, "state": state, "sr": sr}),
        }, x, rounds=rounds, warmup=10)
        base = ms["ONNX Runtime"]
        print(f"Silero VAD step, batch {batch}, FP32, 1 thread (median ms; ratio to ONNX Runtime):")
        for k, v in ms.items():
            print(f"  {k:22s} {v:8.3f} ms  x{v / base:.2f}")


def loop_model(width: int) -> onnx.ModelProto:
    body = helper.make_graph(
        [helper.make_node("Gather", ["x", "i"], ["xi"], axis=0), helper.make_node("Mul", ["h", "w"], ["hw"]),
         helper.make_node("Add", ["hw", "xi"], ["pre"]), helper.make_node("Tanh", ["pre"], ["h_out"]),
         helper.make_node("ReduceSum", ["h_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["go_on"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("h", TensorProto.FLOAT, [width])],
        [helper.make_tensor_value_info("go_on", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [width])])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "start", "h0"], ["h_last"], body=body)], "loop",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", width]),
         helper.make_tensor_value_info("n", TensorProto.INT64, []),
         helper.make_tensor_value_info("start", TensorProto.BOOL, []),
         helper.make_tensor_value_info("limit", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("h_last", TensorProto.FLOAT, [width])],
        [numpy_helper.from_array(np.random.default_rng(1).standard_normal(width).astype(np.float32) * 0.5, "w"),
         numpy_helper.from_array(np.zeros(width, np.float32), "h0")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def loop(rounds: int, steps: int = 100, width: int = 64) -> None:
    import int8rt.onnx
    m = loop_model(width)
    sess = _ort(m.SerializeToString())
    ctx = _fp32(int8rt.onnx.import_model(m)).create_execution_context()
    feeds = {"x": np.random.default_rng(2).standard_normal((steps, width)).astype(np.float32),
             "n": np.array(steps, np.int64), "start": np.array(True), "limit": np.array(1e9, np.float32)}
    err = float(np.abs(ctx.run(feeds)["h_last"] - sess.run(None, feeds)[0]).max())
    print(f"Loop, {steps} iterations of a [{width}] recurrence step: max |diff| vs ONNX Runtime {err:.2e}")
    ms = alternating_medians({"int8rt": lambda _: ctx.run(feeds), "ONNX Runtime": lambda _: sess.run(None, feeds)},
                             feeds["x"], rounds=rounds, warmup=10)
    for k, v in ms.items():
        print(f"  {k:14s} {v:8.3f} ms  ({1e3 * v / steps:6.2f} us per iteration)  x{v / ms['ONNX Runtime']:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200, help="alternated timing rounds per case")
    args = ap.parse_args()
    import int8rt
    int8rt.set_num_threads(1)
    print(machine_line())
    if importlib.util.find_spec("silero_vad") is not None:
        silero(args.rounds)
    else:
        print("Silero VAD part skipped: pip install --no-deps silero-vad")
    loop(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
