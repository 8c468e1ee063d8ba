"""ResNet-50's BF16 convs past the image chain (the 14 x 14 / 7 x 7 stages
and the strided transitions into them) under loop / partition knobs,
alternated round by round in one process (RESULTS.md section 221): per
shape the conv alone in bf16conv_layers.py's 4-conv BF16 region, batch 8,
1 thread; per knob set the minimum over a round's ExecutionContext.profile
calls (thread CPU of the conv under test), then the median over rounds and
the ratio to the first set.

The knobs exist only in the experiments' builds (`git apply
benchmarks/results/bf16r50c_knobs_experiment.patch` on the base tree,
e98a2ef2): R50C_ORDER = n runs n pixel-group pairs outer and the block pairs
inner in the AMX kernel; R50C_SKIP = 1 no epilogue, 2 no tile products, 3
neither (wrong results, timing only); R50C_WIDE = bytes the packed-weight
size from which a 1x1 runs as one GEMM over the batch's pixels; R50C_DCHUNK
= k the output blocks per call of a strided dense conv run image by image;
R50C_INNER = k a strided dense window's chunk of k blocks run over every
image; R50C_STRIDED = 1 with R50C_CHUNKB = bytes the rule this branch kept,
at that chunk size. `bf16r50c_knobs_experiment2.patch` (on 00f583e4's
tree): R50C_WIDE and R50C_RB = a batched 1x1 run's input bytes. Without a
patch every set is the same code.

Usage: PYTHONPATH=<patched tree>/python python benchmarks/bf16r50c_knobs.py \
         "256->1024 @14|3x3/2 256" ";R50C_ORDER=2" [rounds]
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8rt  # noqa: E402
from bf16conv_layers import SHAPES, model  # noqa: E402

# ResNet-50's transitions into the 14 x 14 / 7 x 7 stages (label, C, M, H = W of the input, k, stride, residual)
EXTRA = [("1x1 512->256 @28", 512, 256, 28, 1, 1, False), ("3x3/2 256->256 @28", 256, 256, 28, 3, 2, False),
         ("1x1/2 512->1024 @28 down", 512, 1024, 28, 1, 2, False), ("1x1 1024->512 @14", 1024, 512, 14, 1, 1, False),
         ("3x3/2 512->512 @14", 512, 512, 14, 3, 2, False), ("1x1/2 1024->2048 @14 down", 1024, 2048, 14, 1, 2, False),
         ("3x3 512->512 @7", 512, 512, 7, 3, 1, False)]


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    labels = sys.argv[1].split("|")
    names = sys.argv[2].split(";")
    configs = [dict(kv.split("=") for kv in c.split(",") if kv) for c in names]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    int8rt.set_num_threads(1)
    for lab in labels:
        shp = next(s for s in SHAPES["r50"] + EXTRA if lab in s[0])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.onnx")
            with open(path, "wb") as f:
                f.write(model(*shp[1:]))
            with contextlib.redirect_stdout(io.StringIO()):
                eng = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
        ctx = eng.create_execution_context()
        feed = {"x": np.random.default_rng(0).standard_normal((8, 16, shp[3], shp[3]), dtype=np.float32)}
        ref = ctx.run(feed)
        times: list[list[float]] = [[] for _ in configs]
        for _ in range(rounds):
            for i, c in enumerate(configs):
                for k in [k for k in os.environ if k.startswith("R50C_")]:
                    os.environ.pop(k, None)
                os.environ.update(c)
                out = ctx.run(feed)
                same = all(np.array_equal(out[k], ref[k]) for k in ref)
                if not same:
                    print(f"{shp[0]}: [{names[i]}] differs from the first set's output", flush=True)
                per = []
                t_end = time.perf_counter() + 0.25
                while time.perf_counter() < t_end or not per:
                    prof = ctx.profile(feed, runs=3, clock="thread_cpu")
                    per.append(sum(q["ms"] for q in prof if "under_test" in q["name"]))
                times[i].append(float(np.min(per)))
        base = np.median(times[0])
        print(f"{shp[0]:28s}", "  ".join(f"[{names[i] or 'default'}] {np.median(t):.3f} ({np.median(t) / base:.3f})"
                                         for i, t in enumerate(times)), f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
