"""ResNet-50's stem in a BF16 channel-blocked region against the NCHW BF16
engine (issue 13 §4, RESULTS.md section 149): a probe network of ResNet-50's
stem (3 -> 64, 7x7 / 2, pads 3, + Relu), its MaxPool (3x3 / 2, pads 1), two
1x1 convs (64 -> 64, + Relu) and the global average pool (the region's
exit), random weights, 224 x 224; its BF16 engine built with
``channel_blocked`` False (NCHW bfloat16) and True (one region: the input's
ToBf16x16c, the dense stem, the blocked MaxPool), thread-CPU profiles
(``ExecutionContext.profile(clock="thread_cpu")``) alternated in one
process, ROUNDS rounds of RUNS runs, order swapped every round; per layer
the median over rounds of the per-layer medians.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16r50_stem.py [--batch 8] [--rounds 5] [--runs 5]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402


def stem_model() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    inits = {"ws": rng.standard_normal((64, 3, 7, 7)) * 0.1, "bs": rng.standard_normal(64) * 0.1,
             "w1": rng.standard_normal((64, 64, 1, 1)) * 0.1, "w2": rng.standard_normal((64, 64, 1, 1)) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "ws", "bs"], ["s0"], kernel_shape=[7, 7], strides=[2, 2], pads=[3] * 4),
             helper.make_node("Relu", ["s0"], ["s"]),
             helper.make_node("MaxPool", ["s"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
             helper.make_node("Conv", ["m", "w1"], ["a0"]), helper.make_node("Relu", ["a0"], ["a"]),
             helper.make_node("Conv", ["a", "w2"], ["b"]), helper.make_node("GlobalAveragePool", ["b"], ["g"])]
    graph = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 224, 224])],
                              [helper.make_tensor_value_info("g", TensorProto.FLOAT, [None, 64, 1, 1])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    x = np.random.default_rng(3).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)
    ctxs = {}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "stem.onnx")
        with open(path, "wb") as f:
            f.write(stem_model())
        for label, blocked in (("NCHW", False), ("blocked", True)):
            with contextlib.redirect_stdout(io.StringIO()):
                e = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True,
                                                                   channel_blocked=blocked))
            ctxs[label] = e.create_execution_context()
            ctxs[label].profile({"x": x}, 1, clock="thread_cpu")
            if blocked:
                print("\n".join(line for line in e.report() if "blocked" in line))
    per = {k: defaultdict(list) for k in ctxs}
    for r in range(args.rounds):
        for label in (list(ctxs) if r % 2 == 0 else list(ctxs)[::-1]):
            for layer in ctxs[label].profile({"x": x}, args.runs, clock="thread_cpu"):
                per[label][f'{layer["name"]} ({layer["op"]})'].append(layer["ms"])
    print(machine_line())
    print(f"stem probe batch {args.batch}, 1 thread, thread-CPU ms, median of {args.rounds} rounds x {args.runs} runs; "
          f"{load_line()}")
    for label in ctxs:
        print(f"| {label} layer | ms |\n|---|---|")
        for name, v in per[label].items():
            print(f"| {name} | {statistics.median(v):.3f} |")
        print(f"| sum | {sum(statistics.median(v) for v in per[label].values()):.3f} |")


if __name__ == "__main__":
    main()
