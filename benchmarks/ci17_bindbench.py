"""Binding-bound Python work (RESULTS.md 241), one int8rt build per process (PYTHONPATH picks it): prints JSON of
process CPU-s per workload (needs /tmp/lead/e2emodels/mobilenet_v2.onnx). Alternate two builds process by process."""
import json, os, sys, time
import numpy as np
import int8rt
import int8rt.onnx as i8onnx
import onnx

def cpu():
    return time.process_time()

int8rt.set_num_threads(1)
res = {}
# 1. ONNX import of MobileNetV2 (Python IR -> C++ Network through network_convert)
m = onnx.load("/tmp/lead/e2emodels/mobilenet_v2.onnx")
t = cpu()
for _ in range(10):
    i8onnx.import_model(m)
res["import_mnv2_x10"] = cpu() - t
# 2. per-call overhead: a tiny FP32 engine, many runs
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from onnx_models import conv_net
eng = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))
ctx = eng.create_execution_context()
x = {"input": np.random.default_rng(0).standard_normal((1, 3, 8, 8), dtype=np.float32)}
for _ in range(200): ctx.run(x)
t = cpu()
for _ in range(100000): ctx.run(x)
res["tiny_run_x100000"] = cpu() - t
# 3. an INT8 build of conv_net: calibrator trampoline, histograms, cache collector
data = {"input": np.random.default_rng(1).standard_normal((512, 3, 8, 8), dtype=np.float32)}
t = cpu()
for _ in range(10):
    cal = int8rt.make_calibrator(data, algorithm="entropy", batch_size=4)
    e8 = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="int8", calibrator=cal))
res["int8_build_x10"] = cpu() - t
print(json.dumps(res))
