"""acc55: what auto's float recurrent layers cost on Resemblyzer's voice encoder
(python/int8rt/accuracy/recurrent_float.py): the engine's CPU time with the
first LSTM in float32 (auto's float stem, acc51) against all three LSTMs in
float32 (the float recurrent layers kept), and the FP32 engine, in one
process, alternating (a, b, c, a, b, c, ...), one thread, per batch of
``--batch`` 160-frame partials (calib16_resemblyzer.py's inputs; int8
thresholds: mse on draw 1). Prints medians of thread CPU time, their ratios
and the load average.

Usage: PYTHONPATH=python python benchmarks/rnnfloat12_speed.py --wheel /tmp/calib16/dl/Resemblyzer-0.1.4-py3-none-any.whl
       --archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz /tmp/calib16/dl/amfm_decompy-1.0.12.2-py3-none-any.whl
       [--batch 1] [--rounds 30]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib16_resemblyzer as R
import int8rt
from int8rt import _core
from int8rt.builder import _to_network


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--archives", nargs="*", default=[])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    x = R.windows(tuple(args.archives))
    calib = x[np.arange(len(x)) % 4 == 0][:16]
    model = R.onnx_model(args.wheel)
    network = _core.Builder(_to_network(model, None), "int8").optimized_network()
    nodes = network.nodes()
    lstms = [n["name"] for n in nodes if n["op"] == "LSTM"]
    first = [n["name"] for n in nodes if n["op"] == "Transpose"][:1] + lstms[:1]  # auto's stem (acc51)
    int8rt.set_num_threads(1)

    def int8(fp32: list[str]) -> object:
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False,
                                      layer_precisions={n: "fp32" for n in fp32})
        config.calibrator = int8rt.make_calibrator({"mels": calib}, algorithm="mse", batch_size=16)
        return int8rt.build_engine(model, config)

    engines = {"first LSTM float (stem)": int8(first), "all LSTMs float": int8(first + lstms),
               "FP32": int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))}
    feed = {"mels": np.ascontiguousarray(x[:args.batch])}
    times: dict[str, list[float]] = {k: [] for k in engines}
    for k, e in engines.items():
        e.run(feed)  # warm
    for _ in range(args.rounds):
        for k, e in engines.items():
            t0 = time.thread_time()
            e.run(feed)
            times[k].append(time.thread_time() - t0)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    base = statistics.median(times["first LSTM float (stem)"])
    print(f"batch {args.batch}, {args.rounds} rounds, 1 thread, load average {' '.join(load)}")
    for k, t in times.items():
        m = statistics.median(t)
        print(f"{k:26s} median {1e3 * m:8.2f} ms CPU  ({m / base:.2f}x the stem-only engine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
