"""Thread-CPU time of one FP32 Sigmoid layer over 96 x 112 x 112 values (the
size of EfficientNet-B0's largest Silu, its 16->96 expand at 112x112) on
int8rt's engine, 1 thread, median of 200 runs (engine.run's copy-out
included). Used for RESULTS.md section 117 (the AVX-512 tier's Sigmoid /
Silu in intrinsics); run it against two builds by PYTHONPATH.

Usage: PYTHONPATH=python python3 benchmarks/fp32_sigmoid_time.py
"""
import time, numpy as np, int8rt
from onnx import helper, TensorProto
int8rt.set_num_threads(1)
n = 96 * 112 * 112
g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"])], "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
e = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
x = {"x": np.random.default_rng(0).standard_normal(n).astype(np.float32) * 4}
ts = []
for _ in range(200):
    t = time.thread_time()
    e.run(x)
    ts.append(time.thread_time() - t)
print(f"Sigmoid {n} values: median {np.median(ts)*1e3:.3f} ms, {np.median(ts)/n*1e9:.3f} ns/value")
