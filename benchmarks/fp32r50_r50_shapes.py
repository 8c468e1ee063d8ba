"""int8rt FP32 ResNet-50 per conv shape: the engine profile's thread-CPU time
(per-layer minimum over 3 x 3 runs, 1 thread) summed by (kernel, stride,
C -> M, output size), with the GFLOPS each shape reaches (2 x MACs / time),
then the largest non-conv layers. RESULTS.md section 200.

Usage: PYTHONPATH=python python benchmarks/fp32r50_r50_shapes.py [BATCH] [--model PATH]
"""
from __future__ import annotations

import argparse
import collections
import os

import numpy as np
import onnx

import int8rt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch", type=int, nargs="?", default=1)
    ap.add_argument("--model", default="/tmp/e2eamx/models/resnet50.onnx")
    args = ap.parse_args()
    b = args.batch
    int8rt.set_num_threads(1)
    ctx = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    x = {"input": np.random.default_rng(1).standard_normal((b, 3, 224, 224), dtype=np.float32)}
    best: dict = {}
    for _ in range(3):
        for r in ctx.profile(x, runs=3, clock="thread_cpu"):
            best[r["name"]] = (min(best.get(r["name"], (np.inf,))[0], r["ms"]), r["detail"])
    g = onnx.shape_inference.infer_shapes(onnx.load(args.model)).graph
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in list(g.value_info) + list(g.output)}
    inits = {t.name: t.dims for t in g.initializer}
    agg: dict = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for n in g.node:
        if n.op_type != "Conv" or n.name not in best:
            continue
        w, o = inits[n.input[1]], dims[n.output[0]]
        flops = 2 * b * o[2] * o[3] * w[0] * w[1] * w[2] * w[3]
        stride = next(a.ints for a in n.attribute if a.name == "strides")[0]
        key = f"{w[2]}x{w[3]}/{stride} {w[1]}->{w[0]} @{o[2]}"
        agg[key][0] += best[n.name][0]
        agg[key][1] += flops
        agg[key][2] += 1
    print(f"b{b}: all layers {sum(v[0] for v in best.values()):.2f} ms; load {os.getloadavg()[0]:.1f}")
    for k, (ms, flops, count) in sorted(agg.items(), key=lambda kv: -kv[1][0]):
        print(f"{k:28s} x{count} {ms:8.3f} ms {flops / ms / 1e6:7.1f} GFLOPS")
    rest = {k: v for k, v in best.items() if "conv" not in v[1]}
    for k, (ms, detail) in sorted(rest.items(), key=lambda kv: -kv[1][0])[:6]:
        print(f"{k} {ms:.3f} ms ({detail})")


if __name__ == "__main__":
    main()
