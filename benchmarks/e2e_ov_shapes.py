"""OpenVINO INT8 of an encoder compiled for the timed feed's static shapes
(as e2e_bench.py compiles it) against the same model compiled with dynamic
shapes (as bert_peers_bench.py / bert_ov_ab.py compile it), alternated in one
process, 1 thread, process CPU time, medians: how much of a change in the
OV INT8 / int8rt INT8 ratio between those scripts is OpenVINO's compile mode
(RESULTS.md section 115).

    PYTHONPATH=python python benchmarks/e2e_ov_shapes.py minilm /tmp/e2eall/models

The NNCF IR is the one e2e_bench.py --models-dir saved (<name>.<hash>.ov_int8.xml).
"""
from __future__ import annotations

import glob
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import e2e_feeds as F  # noqa: E402
from bench_util import alternating_samples, machine_line  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def main() -> None:
    name, folder = sys.argv[1], sys.argv[2]
    xml = sorted(glob.glob(os.path.join(folder, f"{name}.*.ov_int8.xml")))[0]
    _, _, feed_fn = F.encoder(name, folder)
    model = O.load(xml)
    print(machine_line(), xml)
    for b in (1, 8):
        feed = feed_fn(b)
        runs = {"static": F.ov_runner(O.compile_model(F.ov_static(model, feed), 1)),
                "dynamic": F.ov_runner(O.compile_model(model, 1))}
        s = alternating_samples({k: (lambda r=r: r(feed)) for k, r in runs.items()}, 11, 1.0, warmup=2,
                                clock=time.process_time)
        m = {k: statistics.median(v) * 1e3 for k, v in s.items()}
        print(f"{name} b{b}: static {m['static']:.2f} ms, dynamic {m['dynamic']:.2f} ms, "
              f"dynamic/static {m['dynamic'] / m['static']:.3f}", flush=True)
    print(machine_line())


if __name__ == "__main__":
    main()
