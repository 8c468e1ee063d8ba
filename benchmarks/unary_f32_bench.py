"""FP32 element-wise layers against ONNX Runtime: Erf, Gelu (exact and
tanh), Tanh, Sigmoid, Exp, Clip, and Add / Mul with a constant operand of
the same shape, over 1M float32 values, as one-node engines, one thread,
one process, the two alternating (bench_util), medians. The transcendental
ones run the vectorisable polynomials of csrc/kernels/ref/math_f32.h (the
unary_f32 family), Add and Mul the binary_f32 family. Each figure includes
the engine's copies of its input and output (4 MiB each way).

Usage: PYTHONPATH=python python3 benchmarks/unary_f32_bench.py [--min-time 0.5]
"""
from __future__ import annotations

import argparse

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

import int8rt
from bench_util import machine_line, time_alternating

OPS = [("Erf", {}, 13), ("Gelu", {}, 20), ("Gelu", {"approximate": "tanh"}, 20), ("Tanh", {}, 13),
       ("Sigmoid", {}, 13), ("Exp", {}, 13), ("Clip", {}, 13), ("Add", {}, 14), ("Mul", {}, 14)]
N = 1 << 20


def model(op: str, attrs: dict, opset: int) -> bytes:
    inputs = ["x", "lo", "hi"] if op == "Clip" else ["x", "b"] if op in ("Add", "Mul") else ["x"]
    inits = [helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0])] if op == "Clip" else []
    if op in ("Add", "Mul"):  # a constant second operand of the same shape (a residual-sized operand)
        b = np.random.default_rng(1).uniform(0.5, 1.5, N).astype(np.float32)
        inits = [helper.make_tensor("b", TensorProto.FLOAT, [1, N], b)]
    graph = helper.make_graph([helper.make_node(op, inputs, ["y"], **attrs)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, N])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, N])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per implementation and op")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    x = np.random.default_rng(0).uniform(-6, 6, (1, N)).astype(np.float32)
    print(machine_line())
    print(f"{'op':22s} {'int8rt ms':>10s} {'ORT ms':>8s} {'int8rt/ORT':>11s}")
    for op, attrs, opset in OPS:
        m = model(op, attrs, opset)
        ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
        sess = ort.InferenceSession(m, so, providers=["CPUExecutionProvider"])
        t = time_alternating({"int8rt": lambda: ctx.run({"x": x}), "ort": lambda: sess.run(None, {"x": x})},
                             rounds=10, min_time=args.min_time)
        label = op + (f" {attrs['approximate']}" if attrs else "")
        print(f"{label:22s} {1e3 * t['int8rt']:10.3f} {1e3 * t['ort']:8.3f} {t['int8rt'] / t['ort']:11.2f}")


if __name__ == "__main__":
    main()
