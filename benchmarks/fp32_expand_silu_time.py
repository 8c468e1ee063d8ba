"""Thread-CPU time of EfficientNet-B0's 16->96 pointwise expand at 112x112
(FP32, batch 1) on int8rt's engine, 1 thread, alone and with its
x * Sigmoid(x) (fused into the conv's epilogue as Silu): the minimum over
20 x 5 runs of ExecutionContext.profile's per-layer ms, the two engines
alternating. The difference is the Silu epilogue's cost. Used for RESULTS.md
section 120; run it against two builds by PYTHONPATH.

Usage: PYTHONPATH=python python3 benchmarks/fp32_expand_silu_time.py
"""
import numpy as np, int8rt
from onnx import helper, numpy_helper, TensorProto
int8rt.set_num_threads(1)
rng = np.random.default_rng(0)
w = numpy_helper.from_array(rng.standard_normal((96, 16, 1, 1)).astype(np.float32) * 0.2, "w")
def eng(silu):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"])]
    if silu:
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    out = "y" if silu else "c"
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 112, 112])],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 96, 112, 112])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    return int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
feed = {"x": rng.standard_normal((1, 16, 112, 112)).astype(np.float32)}
es = {False: eng(False), True: eng(True)}
best = {False: {}, True: {}}
for _ in range(20):
    for k, e in es.items():
        for r in e.profile(feed, runs=5, clock="thread_cpu"):
            best[k][r["name"]] = min(best[k].get(r["name"], 1e9), r["ms"])
for k in es: print("conv + Silu" if k else "conv alone", f"{sum(best[k].values()):.3f} ms")
