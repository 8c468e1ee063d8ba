"""ResNet-50's dense BF16 convs one at a time on the channel-blocked path
(issue 13 §4, RESULTS.md §157): per shape a two-conv network (the measured
KxK conv + Relu, a 1x1 M -> M conv and a GlobalAveragePool, so that the
convs form one channel-blocked bfloat16 region with one conversion, the
input's), built with ``bf16=True``; the measured
conv's thread-CPU time (``ExecutionContext.profile(clock="thread_cpu")``),
median over ROUNDS profiles of RUNS runs, 1 thread, and its rate in
VDPBF16PS per ns (taps * ceil(C / 2) pairs * output pixels * M / 16, the
instructions the kernel issues). Run it once per package (PYTHONPATH) and
compare the lines; alternate the packages between invocations.

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16r50b_convs.py [--batch 1] [--rounds 7] [--runs 5]
           [--planes 7 14]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import int8rt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_util import load_line, machine_line  # noqa: E402

# (C, M, input plane, kernel, stride): ResNet-50's dense convs (stem, 3x3s, strided 1x1 projections)
SHAPES = [(3, 64, 224, 7, 2), (64, 64, 56, 3, 1), (128, 128, 56, 3, 2), (128, 128, 28, 3, 1),
          (256, 256, 28, 3, 2), (256, 256, 14, 3, 1), (512, 512, 14, 3, 2), (512, 512, 7, 3, 1),
          (256, 512, 56, 1, 2), (512, 1024, 28, 1, 2), (1024, 2048, 14, 1, 2)]


def network(c: int, m: int, h: int, k: int, s: int) -> onnx.ModelProto:
    rng = np.random.default_rng(5)
    w1 = (rng.standard_normal((m, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    w2 = (rng.standard_normal((m, m, 1, 1)) / np.sqrt(m)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) * 0.1
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="measured", kernel_shape=[k, k],
                              strides=[s, s], pads=[k // 2] * 4),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="after", kernel_shape=[1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, h])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", m, 1, 1])],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b, "b1"),
                           numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b, "b2")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--planes", type=int, nargs="*", help="only the convs with these output planes")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(f"batch {args.batch}, 1 thread, {load_line()}, int8rt {os.path.dirname(int8rt.__file__)}")
    for c, m, h, k, s in SHAPES:
        if args.planes and (h + 2 * (k // 2) - k) // s + 1 not in args.planes:
            continue
        path = os.path.join(tempfile.mkdtemp(), "conv.onnx")
        onnx.save(network(c, m, h, k, s), path)
        with contextlib.redirect_stdout(io.StringIO()):
            engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
        ctx = engine.create_execution_context()
        x = np.random.default_rng(1).standard_normal((args.batch, c, h, h), dtype=np.float32)
        times = []
        for _ in range(args.rounds):
            prof = ctx.profile({"x": x}, args.runs, clock="thread_cpu")
            measured = [p for p in prof if p["name"].startswith("measured")]
            assert "layout=nchw16c" in measured[0]["detail"], measured[0]["detail"]  # the blocked dense kernel
            times.append(sum(p["ms"] for p in measured))
        ms = float(np.median(times))
        o = (h + 2 * (k // 2) - k) // s + 1
        instrs = k * k * ((c + 1) // 2) * o * o * ((m + 15) // 16) * args.batch
        print(f"{k}x{k}/{s} {c}->{m} @{o}: {ms:.3f} ms ({min(times):.3f}-{max(times):.3f}), "
              f"{instrs / ms / 1e6:.2f} VDPBF16PS/ns", flush=True)


if __name__ == "__main__":
    main()
