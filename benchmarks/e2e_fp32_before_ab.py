"""A CNN's FP32 engine from this tree against another build of int8rt
(before_build.py) and ONNX Runtime FP32, in one process, 1 thread, alternated,
process CPU time, medians; outputs of the two builds compared bit for bit.
Says whether a change in e2e_bench's int8rt FP32 / ORT FP32 ratio is the code
or the load (RESULTS.md section 115).

    python benchmarks/before_build.py <older checkout>/python/int8rt /tmp/before
    PYTHONPATH=python python benchmarks/e2e_fp32_before_ab.py /tmp/e2eall/models/resnet50.onnx /tmp/before [ROUNDS]

The ONNX file is one e2e_bench.py --models-dir wrote (input "input", output
"logits", 3 x 224 x 224); batches 1 and 8, seeded Gaussian images.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from before_build import import_before  # noqa: E402
from bench_util import alternating_samples, machine_line  # noqa: E402
from realnets import engines as E  # noqa: E402


def main() -> None:
    path, before = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    old = import_before(before)
    int8rt.set_num_threads(1)
    old.set_num_threads(1)
    new_e = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
    old_e = old.build_engine(path, old.BuilderConfig(precision="fp32"))
    with open(path, "rb") as f:
        sess = E.ort_session(f.read(), 1)
    print(machine_line())
    for b in (1, 8):
        x = {"input": np.random.default_rng(1).standard_normal((b, 3, 224, 224), dtype=np.float32)}
        cn, co = new_e.create_execution_context(), old_e.create_execution_context()
        impls = {"this tree": lambda: cn.run(x), "before": lambda: co.run(x), "ORT fp32": lambda: sess.run(None, x)}
        m = {k: statistics.median(v) for k, v in alternating_samples(impls, rounds, 1.0, clock=time.process_time).items()}
        same = np.array_equal(cn.run(x)["logits"], co.run(x)["logits"])
        print(f"b{b}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in m.items())
              + f"; this/ORT {m['this tree'] / m['ORT fp32']:.3f}, before/ORT {m['before'] / m['ORT fp32']:.3f}, "
              f"this/before {m['this tree'] / m['before']:.3f}; outputs identical {same}", flush=True)
    print(machine_line())


if __name__ == "__main__":
    main()
