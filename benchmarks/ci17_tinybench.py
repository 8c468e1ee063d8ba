"""Per-call binding overhead (RESULTS.md 241): thread CPU-s of 20000 ExecutionContext.run calls on a tiny FP32
engine, the minimum of 5; one int8rt build per process (PYTHONPATH picks it), alternate two builds."""
import json, os, sys, time
import numpy as np
import int8rt
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from onnx_models import conv_net
int8rt.set_num_threads(1)
eng = int8rt.build_engine(conv_net(), int8rt.BuilderConfig(precision="fp32"))
ctx = eng.create_execution_context()
x = {"input": np.random.default_rng(0).standard_normal((1, 3, 8, 8), dtype=np.float32)}
for _ in range(2000): ctx.run(x)
best = []
for r in range(5):
    t = time.thread_time()
    for _ in range(20000): ctx.run(x)
    best.append(time.thread_time() - t)
print(json.dumps({"tiny_run_x20000_min_of_5": min(best)}))
