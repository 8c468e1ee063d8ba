"""One FP32 MatMul (+ bias Add) node, int8rt's FP32 engine against ONNX
Runtime FP32 (MLAS's SGEMM), 1 thread each, alternating in one process,
process CPU time, medians and the ratio, with GFLOPS (2 M N K / s) beside the
machine's FMA peak (benchmarks/fma_peak.cc, 242 GFLOPS per core on the AMX
Xeon). Shapes: the BERT-class encoders' Linears at sequence 128 (batch 1: M =
128; batch 8: M = 1024) and their attention products (per head: [128, 64] x
[64, 128] and [128, 128] x [128, 64], 12 heads x batch), and the CNN
classifiers' FC layers (M = batch).

Usage: PYTHONPATH=python python benchmarks/f32amx_matmul_bench.py [--rounds 7] [--min-time 0.2] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import int8rt

# name -> (batch dims of A, M, K, N, constant B, bias)
SHAPES = {
    "bert qkv b1": ((), 128, 768, 768, True, True),
    "bert ffn1 b1": ((), 128, 768, 3072, True, True),
    "bert ffn2 b1": ((), 128, 3072, 768, True, True),
    "bert ffn1 b8": ((), 1024, 768, 3072, True, True),
    "bert ffn2 b8": ((), 1024, 3072, 768, True, True),
    "minilm ffn1 b1": ((), 128, 384, 1536, True, True),
    "minilm qkv b1": ((), 128, 384, 384, True, True),
    "attn qk b1": ((1, 12), 128, 64, 128, False, False),
    "attn pv b1": ((1, 12), 128, 128, 64, False, False),
    "attn qk b8": ((8, 12), 128, 64, 128, False, False),
    "fc r50 b1": ((), 1, 2048, 1000, True, True),
    "fc r50 b8": ((), 8, 2048, 1000, True, True),
}


def model(bdims: tuple, M: int, K: int, N: int, const_b: bool, bias: bool) -> bytes:
    rng = np.random.default_rng(0)
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, list(bdims) + [M, K])
    inputs, inits = [a], []
    if const_b:
        inits.append(numpy_helper.from_array((rng.standard_normal((K, N)) * 0.05).astype(np.float32), "b"))
    else:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, list(bdims) + [K, N]))
    nodes = [helper.make_node("MatMul", ["a", "b"], ["p" if bias else "y"])]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(N).astype(np.float32), "c"))
        nodes.append(helper.make_node("Add", ["p", "c"], ["y"]))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(bdims) + [M, N])
    g = helper.make_graph(nodes, "mm", inputs, [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def time_alternating(fns: dict, rounds: int, min_time: float) -> dict:
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            n, t0 = 0, time.process_time()
            while True:
                f()
                n += 1
                el = time.process_time() - t0
                if el >= min_time:
                    break
            times[k].append(el / n)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--env", default=None, help="also time int8rt with this environment variable set (A/B)")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    print(f"load {os.getloadavg()[0]:.2f}; process CPU ms, medians of {args.rounds} alternating rounds")
    print(f"{'shape':16s} {'M x K x N (x batch)':>22s} {'int8rt ms':>10s} {'ORT ms':>9s} {'int8rt/ORT':>10s} "
          f"{'int8rt GF':>9s} {'ORT GF':>7s} {'max|diff|':>9s}")
    for name, (bdims, M, K, N, const_b, bias) in SHAPES.items():
        if args.only and name not in args.only:
            continue
        m = model(bdims, M, K, N, const_b, bias)
        rng = np.random.default_rng(1)
        feed = {"a": rng.standard_normal(tuple(bdims) + (M, K)).astype(np.float32)}
        if not const_b:
            feed["b"] = rng.standard_normal(tuple(bdims) + (K, N)).astype(np.float32)
        ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
        sess = ort.InferenceSession(m, so, providers=["CPUExecutionProvider"])
        ya, yb = ctx.run(feed)["y"], sess.run(None, feed)[0]
        fns = {"i": lambda: ctx.run(feed), "o": lambda: sess.run(None, feed)}
        if args.env:
            def with_env(on: bool):
                def f():
                    if on:
                        os.environ[args.env] = "1"
                    else:
                        os.environ.pop(args.env, None)
                    ctx.run(feed)
                return f
            fns = {"i": with_env(False), "x": with_env(True), "o": fns["o"]}
        med = time_alternating(fns, args.rounds, args.min_time)
        os.environ.pop(args.env or "_", None)
        flops = 2.0 * M * K * N * int(np.prod(bdims) if bdims else 1)
        print(f"{name:16s} {f'{M}x{K}x{N} x{int(np.prod(bdims)) if bdims else 1}':>22s} {med['i'] * 1e3:10.3f} "
              f"{med['o'] * 1e3:9.3f} {med['i'] / med['o']:10.3f} {flops / med['i'] / 1e9:9.1f} "
              f"{flops / med['o'] / 1e9:7.1f} {float(np.max(np.abs(ya - yb))):9.2e}"
              + (f"  with {args.env}: {med['x'] * 1e3:.3f} ms, x{med['x'] / med['i']:.3f}" if args.env else ""))
    print(f"end load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
