"""acc31: PP-OCR rec latency, FP32 vs all-int8 (entropy2) vs automatic mixed precision
(target 0.99), batch 16 of 48x320, alternated in one process, medians of 9 runs (wall and process CPU).
Usage: python benchmarks/acc31_latency.py REC.onnx DIR [MIXED.i8rt] (DIR: acc31_data.py's, with rec_e2.i8rt and
rec_mp.i8rt or MIXED.i8rt)
"""
import sys, time, numpy as np, int8rt
M, DIR = sys.argv[1], sys.argv[2]
x = {"x": np.load(DIR + "/rec_eval.npz")["x"][:16]}
engines = {"fp32": int8rt.build_engine(M, int8rt.BuilderConfig(precision="fp32")),
           "int8 entropy2 (all int8)": int8rt.Engine.load(DIR + "/rec_e2.i8rt"),
           "int8 mixed (target 0.99)": int8rt.Engine.load(DIR + "/" + (sys.argv[3] if len(sys.argv) > 3 else "rec_mp.i8rt"))}
ctx = {k: e.create_execution_context() for k, e in engines.items()}
for c in ctx.values(): c.run(x)
t = {k: [] for k in ctx}
cpu = {k: [] for k in ctx}
for _ in range(9):
    for k, c in ctx.items():
        t0, c0 = time.perf_counter(), time.process_time()
        c.run(x)
        t[k].append(1e3 * (time.perf_counter() - t0))
        cpu[k].append(1e3 * (time.process_time() - c0))
for k in t:
    print(f"{k}: median {np.median(t[k]):.1f} ms wall, {np.median(cpu[k]):.1f} ms process CPU (batch 16)")
