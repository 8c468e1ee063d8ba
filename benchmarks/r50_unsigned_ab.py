"""ResNet-50 INT8 (e2e_bench's export and calibration feeds) built with the auto calibrator, with and
without unsigned activations: how many convs take the non-negative-input kernels ("(input >= 0)"), and
batch-8 process CPU time alternated in one process (RESULTS.md section 136).
Usage: OPENBLAS_NUM_THREADS=1 PYTHONPATH=python python benchmarks/r50_unsigned_ab.py"""
import sys, time, numpy as np
from pathlib import Path
sys.path.insert(0, "benchmarks")
import int8rt
import e2e_subjects as S
import e2e_bench as B
int8rt.set_num_threads(1)
s = S.subject("resnet50", 224, Path("/tmp/e2eall/models"))
mk = lambda **kw: int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="int8", calibrator=B.CALIBRATORS["auto"](s.calib_feeds), progress=False, **kw))
engines = {"auto": mk(), "auto, unsigned off": mk(unsigned_activations=False)}
for k, e in engines.items():
    ge = sum("(input >= 0)" in l["detail"] for l in e.layers())
    print(k, "convs with (input >= 0):", ge, "| report:", [l for l in e.report() if "unsigned" in l.lower()][:1])
x = np.concatenate([f[s.input_name] for f in s.calib_feeds])[:8].astype(np.float32)
ctx = {k: e.create_execution_context() for k, e in engines.items()}
for c in ctx.values(): c.run({s.input_name: x})
t = {k: [] for k in ctx}
for r in range(9):
    for k in (list(ctx) if r % 2 == 0 else list(ctx)[::-1]):
        t0 = time.process_time(); ctx[k].run({s.input_name: x}); t[k].append(time.process_time() - t0)
for k in t: print(k, "b8 median CPU ms %.1f" % (1e3 * np.median(t[k])))
