"""What running a BF16 CNN image by image would save, layer by layer
(RESULTS.md section 215; the rule of engine/bf16_blocked_chain.h): int8rt's
FP32 + bf16 engine on AMX, one context profiled at batch 8 and another on the
same 8 images one at a time (batch 1, 8 runs summed per layer), thread-CPU
minima over 3 rounds, 1 thread; then the whole runs, process CPU medians of 7,
alternated. Columns: batch-8 ms, 8 x batch-1 ms, their ratio, op, layer.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16cnn4_per_image.py [resnet50|mobilenet_v2]
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8rt  # noqa: E402
from amxbf16_nets import build  # noqa: E402
from bf16_nets_bench import cnn  # noqa: E402


def best_profile(ctx, feeds, rounds=3):
    """Per layer name: [minimum over rounds of the feeds' summed thread-CPU ms, op, detail]; layer order."""
    best, order = None, []
    for _ in range(rounds):
        tot = {}
        for f in feeds:
            for la in ctx.profile(f, 1, clock="thread_cpu"):
                if la["name"] not in tot:
                    order.append(la["name"]) if best is None else None
                    tot[la["name"]] = [0.0, la["op"], la.get("detail", "")]
                tot[la["name"]][0] += la["ms"]
        if best is None:
            best = tot
        else:
            for k in tot:
                best[k][0] = min(best[k][0], tot[k][0])
    return order, best


def main() -> None:
    int8rt.set_num_threads(1)
    net = cnn(sys.argv[1] if len(sys.argv) > 1 else "resnet50", Path(tempfile.mkdtemp()))
    eng = build(net.path, "amx", True)
    c8, c1 = eng.create_execution_context(), eng.create_execution_context()
    f8 = net.feed(8, 3)
    k = list(f8)[0]
    f1s = [{k: np.ascontiguousarray(f8[k][i:i + 1])} for i in range(8)]
    o8, p8 = best_profile(c8, [f8])
    _, p1 = best_profile(c1, f1s)
    print(f"int8rt {Path(int8rt.__file__).parent}; load {os.getloadavg()}")
    t8 = t1 = 0.0
    for key in o8:
        a, b = p8[key][0], p1.get(key, [0.0])[0]
        t8, t1 = t8 + a, t1 + b
        print(f"{a:8.3f} {b:8.3f} {b / a if a else 0:6.3f} {p8[key][1]} {key} {p8[key][2][:80]}")
    print(f"sum of layers: batch 8 {t8:.2f} ms, 8 x batch 1 {t1:.2f} ms")
    w8, w1 = [], []
    for _ in range(7):
        s = time.process_time()
        c8.run(f8)
        w8.append(time.process_time() - s)
        s = time.process_time()
        for f in f1s:
            c1.run(f)
        w1.append(time.process_time() - s)
    print(f"whole runs: batch 8 {np.median(w8) * 1e3:.2f} ms, 8 x batch 1 {np.median(w1) * 1e3:.2f} ms; "
          f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
