"""ResNet-50 FP32's 3x3 convs, strided projections and stem MaxPool,
int8rt's channel-blocked engine against its NCHW engine in one process, one
thread: per-layer thread-CPU profiles summed by f32r50_layer_groups.group, the
two engines alternated over --rounds rounds, medians (RESULTS.md section 141:
the strided convs' inputs read by stride phase). Run it from two trees'
python/ in alternation to compare builds.

Usage: cd /tmp && PYTHONPATH=<tree>/python python3 <repo>/benchmarks/f32r50b_strided_layers.py [--batch 8]
(the e2e_bench.py ResNet-50 export in /tmp/e2eall/models)
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from f32r50_layer_groups import group  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="/tmp/e2eall/models/resnet50.onnx")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    x = {"input": np.random.default_rng(0).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)}
    cfg = (lambda k: int8rt.BuilderConfig(precision="fp32", channel_blocked=k))
    ctx = {k: int8rt.build_engine(args.model, cfg(k)).create_execution_context() for k in (False, True)}
    res: dict = {k: {} for k in ctx}
    for i in range(args.rounds):
        for k in ((False, True) if i % 2 == 0 else (True, False)):
            sums: dict = {}
            for row in ctx[k].profile(x, runs=2, clock="thread_cpu"):
                g = group(row["name"])
                if "3x3" in g or " s2" in g or "MaxPool" in g:
                    sums[g] = sums.get(g, 0.0) + row["ms"]
            for g, ms in sums.items():
                res[k].setdefault(g, []).append(ms)
    print(f"{int8rt.__file__} b{args.batch}, load {os.getloadavg()[0]:.1f}")
    for g in sorted(res[True]):
        a, b = np.median(res[True][g]), np.median(res[False][g])
        print(f"{g}: blocked {a:.3f} ms, NCHW {b:.3f} ms, ratio {a / b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
