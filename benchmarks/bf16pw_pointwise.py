"""ResNet-50's BF16 1x1 bottleneck convs one at a time on the channel-blocked
pointwise kernel (issue 13 §4, RESULTS.md §163): per shape a network
x -> 1x1 M -> C + Relu ("before") -> 1x1 C -> M ("measured") + Add(x) + Relu
-> GlobalAveragePool, so the measured conv is an expansion with its residual
fused, as in a bottleneck, inside one channel-blocked bfloat16 region
(built with ``bf16=True``); the reduce convs M -> C are measured as
"before". Thread-CPU time (``ExecutionContext.profile(clock="thread_cpu")``),
median over ROUNDS profiles of RUNS runs, 1 thread, and the rate in
VDPBF16PS per ns (ceil(C / 2) pairs * pixels * ceil(M / 16) blocks). Run it
once per package (PYTHONPATH) and alternate the packages between
invocations (after bf16r50b_convs.py, RESULTS.md §157).

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16pw_pointwise.py [--batch 1] [--rounds 7] [--runs 5]
           [--planes 56 28]
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

# (C, M, plane): ResNet-50's bottleneck 1x1 pairs, reduce M -> C and expand C -> M (+ residual)
SHAPES = [(64, 256, 56), (128, 512, 28), (256, 1024, 14), (512, 2048, 7)]


def network(c: int, m: int, h: int) -> onnx.ModelProto:
    rng = np.random.default_rng(5)
    weights = {"w1": rng.standard_normal((c, m, 1, 1)) / np.sqrt(m), "b1": rng.standard_normal(c) * 0.1,
               "w2": rng.standard_normal((m, c, 1, 1)) / np.sqrt(c), "b2": rng.standard_normal(m) * 0.1}
    chain = [("Conv", ["x", "w1", "b1"], "before"), ("Relu", [], None), ("Conv", ["w2", "b2"], "measured"),
             ("Add", ["x"], None), ("Relu", [], None), ("GlobalAveragePool", [], None)]
    nodes, prev = [], None
    for k, (op, ins, name) in enumerate(chain):  # each node reads the previous one's output first
        out = "y" if k == len(chain) - 1 else f"t{k}"
        attrs = {"kernel_shape": [1, 1]} if op == "Conv" else {}
        nodes.append(helper.make_node(op, ([prev] if prev else []) + ins, [out], name=name or f"n{k}", **attrs))
        prev = out
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", m, h if n == "x" else 1, h if n == "x" else 1])
          for n in ("x", "y")]
    return helper.make_model(helper.make_graph(nodes, "g", vi[:1], vi[1:], inits),
                             opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default in (("--batch", 1), ("--rounds", 7), ("--runs", 5)):
        ap.add_argument(flag, type=int, default=default)
    ap.add_argument("--planes", type=int, nargs="*", help="only the shapes with these planes")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(f"{machine_line()}\nbatch {args.batch}, 1 thread, {load_line()}, int8rt {os.path.dirname(int8rt.__file__)}")
    for c, m, h in SHAPES:
        if args.planes and h not in args.planes:
            continue
        path = os.path.join(tempfile.mkdtemp(), "pw.onnx")
        onnx.save(network(c, m, h), path)
        with contextlib.redirect_stdout(io.StringIO()):
            engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
        ctx = engine.create_execution_context()
        x = np.random.default_rng(1).standard_normal((args.batch, m, h, h), dtype=np.float32)
        times: dict[str, list[float]] = {"before": [], "measured": []}
        for _ in range(args.rounds):
            prof = ctx.profile({"x": x}, args.runs, clock="thread_cpu")
            for name, t in times.items():
                rows = [p for p in prof if p["name"].startswith(name)]
                assert rows and "layout=nchw16c" in rows[0]["detail"], rows  # the blocked pointwise kernel
                t.append(sum(p["ms"] for p in rows))
        for name, (ci, mi) in (("before", (m, c)), ("measured", (c, m))):
            ms = float(np.median(times[name]))
            instrs = ((ci + 1) // 2) * h * h * ((mi + 15) // 16) * args.batch
            what = "+res" if name == "measured" else ""
            print(f"1x1 {ci}->{mi} @{h}{what}: {ms:.3f} ms ({min(times[name]):.3f}-{max(times[name]):.3f}), "
                  f"{instrs / ms / 1e6:.2f} VDPBF16PS/ns", flush=True)


if __name__ == "__main__":
    main()
