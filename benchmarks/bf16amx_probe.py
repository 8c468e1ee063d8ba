"""ResNet-50's two slowest BF16 layers on AMX against OpenVINO bf16 (RESULTS.md
section 181): a probe network of ResNet-50's stem (3 -> 64, 7x7 / 2, pads 3,
+ Relu), its MaxPool, a 1x1 conv 64 -> 2048 (+ Relu), the global average
pool and the fc Gemm (2048 -> 1000, ResNet-50's logits); random weights,
224 x 224. int8rt's FP32 + bf16 engine (the channel-blocked region) per
layer with the thread-CPU clock of ``ExecutionContext.profile``, OpenVINO
(``INFERENCE_PRECISION_HINT=bf16``, compiled afresh per round) per node with
PERF_COUNT (wall time), alternated ROUNDS rounds of RUNS runs, 1 thread;
per layer the median over rounds. Run it once per tree to compare builds.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16amx_probe.py [--batch 1] [--rounds 5] [--runs 5]
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
from realnets import openvino_engines as O  # noqa: E402


def probe_model() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    inits = {"ws": rng.standard_normal((64, 3, 7, 7)) * 0.1, "bs": rng.standard_normal(64) * 0.1,
             "w1": rng.standard_normal((2048, 64, 1, 1)) * 0.1,
             "wf": rng.standard_normal((1000, 2048)) * 0.02, "bf": rng.standard_normal(1000) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "ws", "bs"], ["s0"], kernel_shape=[7, 7], strides=[2, 2], pads=[3] * 4),
             helper.make_node("Relu", ["s0"], ["s"]),
             helper.make_node("MaxPool", ["s"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
             helper.make_node("Conv", ["m", "w1"], ["a0"]), helper.make_node("Relu", ["a0"], ["a"]),
             helper.make_node("GlobalAveragePool", ["a"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1000])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    x = np.random.default_rng(3).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)
    model = probe_model()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "probe.onnx")
        with open(path, "wb") as f:
            f.write(model)
        with contextlib.redirect_stdout(io.StringIO()):
            engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    ov_model = O.load(model)
    ours, theirs, kinds = defaultdict(list), defaultdict(list), {}
    for r in range(args.rounds):
        sides = ["int8rt", "OV"] if r % 2 == 0 else ["OV", "int8rt"]
        for side in sides:
            if side == "int8rt":
                per = defaultdict(float)
                for layer in ctx.profile({"x": x}, args.runs, clock="thread_cpu"):
                    per[f'{layer["name"]} ({layer["op"]})'] += layer["ms"]
                    kinds[f'{layer["name"]} ({layer["op"]})'] = layer.get("detail", "")
                for k, v in per.items():
                    ours[k].append(v)
            else:
                request = O.compile_model(ov_model, 1, "bf16", x.shape, perf_count=True).create_infer_request()
                times, types = O.run_times(request, x, args.runs)
                for k, v in times.items():
                    theirs[f"{k} [{types[k][1]}]"].append(statistics.median(v))
    print(machine_line())
    print(f"bf16amx probe batch {args.batch}, 1 thread, median of {args.rounds} rounds x {args.runs} runs; {load_line()}")
    print("| int8rt layer (thread CPU) | ms |\n|---|---:|")
    for k, v in ours.items():
        print(f"| {k} {kinds[k]} | {statistics.median(v):.3f} |")
    print(f"| sum | {sum(statistics.median(v) for v in ours.values()):.3f} |")
    print("| OpenVINO node (PERF_COUNT wall) | ms |\n|---|---:|")
    for k, v in theirs.items():
        if statistics.median(v) >= 0.001:
            print(f"| {k} | {statistics.median(v):.3f} |")
    print(f"| sum | {sum(statistics.median(v) for v in theirs.values()):.3f} |")


if __name__ == "__main__":
    main()
