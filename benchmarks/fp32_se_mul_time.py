"""Thread-CPU time of the squeeze-and-excitation channel-scale Muls of an
FP32 network (x[N, C, H, W] * s[N, C, 1, 1], the shapes read from the model
by ONNX shape inference) on int8rt's engine, 1 thread: one graph holding
every such Mul side by side (engine.run's copy-out
excluded: the sum over the Muls of ExecutionContext.profile's per-layer
thread-CPU ms, each layer's minimum over R / 5 x 5 runs). Used for RESULTS.md section 120; run it against two builds by
PYTHONPATH.

Usage: PYTHONPATH=python python3 benchmarks/fp32_se_mul_time.py MODEL.onnx [--batch B] [--runs R]
"""
import argparse
import numpy as np, onnx, int8rt
from onnx import helper, shape_inference, TensorProto

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--batch", type=int, default=1)
ap.add_argument("--runs", type=int, default=200)
args = ap.parse_args()

m = shape_inference.infer_shapes(onnx.load(args.model))
dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
shapes = []
for n in m.graph.node:
    if n.op_type != "Mul" or len(n.input) != 2:
        continue
    a, b = (dims.get(i) for i in n.input)
    if a and b and len(a) == 4 and len(b) == 4 and b[2:] == [1, 1] and a[2:] != [1, 1] and a[1] == b[1]:
        shapes.append(a[1:])
nodes, ins, outs, feed = [], [], [], {}
rng = np.random.default_rng(0)
for i, (c, h, w) in enumerate(shapes):
    x, s, y = f"x{i}", f"s{i}", f"y{i}"
    nodes.append(helper.make_node("Mul", [x, s], [y]))
    ins += [helper.make_tensor_value_info(x, TensorProto.FLOAT, [args.batch, c, h, w]),
            helper.make_tensor_value_info(s, TensorProto.FLOAT, [args.batch, c, 1, 1])]
    outs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, [args.batch, c, h, w]))
    feed[x] = rng.standard_normal((args.batch, c, h, w)).astype(np.float32)
    feed[s] = rng.random((args.batch, c, 1, 1)).astype(np.float32)
g = helper.make_graph(nodes, "se_muls", ins, outs)
int8rt.set_num_threads(1)
e = int8rt.build_engine(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString(),
                        int8rt.BuilderConfig(precision="fp32")).create_execution_context()
got = e.run(feed)
for i in range(len(shapes)):  # one IEEE multiply per element: numpy's bits
    assert np.array_equal(got[f"y{i}"], feed[f"x{i}"] * feed[f"s{i}"]), f"Mul {i} {shapes[i]}"
best = {}
for _ in range(max(1, args.runs // 5)):
    for r in e.profile(feed, runs=5, clock="thread_cpu"):
        best[r["name"]] = min(best.get(r["name"], float("inf")), r["ms"])
rows = sum(args.batch * c for c, _, _ in shapes)
vals = sum(args.batch * c * h * w for c, h, w in shapes)
print(f"{len(shapes)} SE Muls, {rows} rows, {vals} values, batch {args.batch}: {sum(best.values()):.3f} ms (sum of per-layer minima)")
