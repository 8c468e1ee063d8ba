"""Three ResNet-50 FP32 layers at batch 8, int8rt's channel-blocked engine
against its NCHW engine in one process (per-layer thread-CPU profiles, the two
engines alternated over 3 rounds, medians; RESULTS.md section 138): the 7 x 7
stage's stride-2 3x3 conv and strided 1x1 projection, and the stem's MaxPool.

Usage: cd /tmp && PYTHONPATH=<repo>/python python3 <repo>/benchmarks/f32r50_b8_layers.py
(the e2e_bench.py ResNet-50 export in /tmp/e2eall/models)
"""
from __future__ import annotations

import numpy as np, int8rt
int8rt.set_num_threads(1)
x = {"input": np.random.default_rng(0).standard_normal((8, 3, 224, 224), dtype=np.float32)}
m = "/tmp/e2eall/models/resnet50.onnx"
ctx = {k: int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32", channel_blocked=k)).create_execution_context() for k in (False, True)}
names = {"7 3x3 s2": "features.17/body/body.3", "7 1x1 projection s2": "features.17/down", "MaxPool": "features.3/MaxPool"}
res = {k: {n: [] for n in names} for k in ctx}
for i in range(3):
    for k in ((False, True) if i % 2 == 0 else (True, False)):
        rows = ctx[k].profile(x, runs=2, clock="thread_cpu")
        for n, pat in names.items():
            res[k][n].append(sum(r["ms"] for r in rows if pat in r["name"]))
for n in names:
    a, b = np.median(res[True][n]), np.median(res[False][n])
    print(f"{n}: blocked {a:.2f} ms, NCHW {b:.2f} ms, ratio {a/b:.2f}")
