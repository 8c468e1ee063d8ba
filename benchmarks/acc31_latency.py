"""acc31: PP-OCR rec latency, FP32 vs all-int8 (entropy2) vs automatic mixed precision
(target 0.99), batch 16 of 48x320, alternated in one process, medians of 7 wall-clock runs.
Usage: python benchmarks/acc31_latency.py REC.onnx DIR (DIR: acc31_data.py's, with rec_e2.i8rt, rec_mp.i8rt)
"""
import sys, time, numpy as np, int8rt
M, DIR = sys.argv[1], sys.argv[2]
x = {"x": np.load(DIR + "/rec_eval.npz")["x"][:16]}
engines = {"fp32": int8rt.build_engine(M, int8rt.BuilderConfig(precision="fp32")),
           "int8 entropy2 (all int8)": int8rt.Engine.load(DIR + "/rec_e2.i8rt"),
           "int8 mixed (target 0.99)": int8rt.Engine.load(DIR + "/rec_mp.i8rt")}
ctx = {k: e.create_execution_context() for k, e in engines.items()}
for c in ctx.values(): c.run(x)
t = {k: [] for k in ctx}
for _ in range(7):
    for k, c in ctx.items():
        t0 = time.perf_counter(); c.run(x); t[k].append(1e3 * (time.perf_counter() - t0))
for k, v in t.items(): print(f"{k}: median {np.median(v):.1f} ms (wall, batch 16)")
