"""One BF16 convolution as a network of its own (issue 13 §4): Conv (+ a
residual Add, the second input) + Relu, built with ``bf16=True`` so the
builder fuses the Add and Relu into the BF16 conv's tile epilogue, then the
conv layer's thread-CPU time (``ExecutionContext.profile(clock=
"thread_cpu")``), median over REPS profiled runs, 1 thread. The input and
residual are fresh arrays of the whole batch (at batch 8 they come from
memory, as a residual stream between blocks does), so the figure shows the
store path: what the conv pays for its FP32 output and residual beyond the
product.

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16_conv_one.py \
           C M H K STRIDE BATCH RESIDUAL(0|1) [REPS]
e.g. 64 256 56 1 1 8 1: ResNet-50's first-stage 1x1 expansion with its residual, batch 8.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import int8rt


def model(c: int, m: int, h: int, k: int, s: int, batch: int, residual: bool) -> tuple[onnx.ModelProto, int]:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((m, c, k, k)) * 0.05).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "B")
    oh = (h + 2 * (k // 2) - k) // s + 1
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[k // 2] * 4, strides=[s, s])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c, h, h])]
    if residual:
        nodes += [helper.make_node("Add", ["c", "r"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
        inputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [batch, m, oh, oh]))
    else:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, m, oh, oh])
    graph = helper.make_graph(nodes, "conv", inputs, [out], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), oh


def main() -> None:
    c, m, h, k, s, batch, res = map(int, sys.argv[1:8])
    reps = int(sys.argv[8]) if len(sys.argv) > 8 else 7
    proto, oh = model(c, m, h, k, s, batch, bool(res))
    path = os.path.join(tempfile.mkdtemp(), "conv.onnx")
    onnx.save(proto, path)
    int8rt.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((batch, c, h, h), dtype=np.float32)}
    if res:
        feeds["r"] = rng.standard_normal((batch, m, oh, oh), dtype=np.float32)
    ctx.profile(feeds, 3, clock="thread_cpu")
    times = [sum(l["ms"] for l in ctx.profile(feeds, 1, clock="thread_cpu") if l["op"] == "Conv") for _ in range(reps)]
    layers = ctx.profile(feeds, 1, clock="thread_cpu")
    print(f"{c}->{m} {k}x{k} s{s} @{h} batch {batch} residual {res}: conv ms median {np.median(times):.3f} "
          f"({reps} runs; layers: {', '.join(l['op'] + ' ' + l.get('detail', '') for l in layers)})")


if __name__ == "__main__":
    main()
