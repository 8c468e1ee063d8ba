"""ResNet-50 INT8 whole runs, int8rt against OpenVINO INT8, 1 thread, in the two
regimes the earlier sections measured (RESULTS.md section 128):

- "call by call": the engines alternated call by call (section 121's method,
  `bench_util.alternating_samples`); each call follows the other engine's, so
  its weights (about 25 MB each, the L3 is 32 MiB) come partly from memory.
- "settled": each timed call preceded by one untimed call of the same engine
  (section 127's method, `e2e_threads.time_two_clocks`, settle 1): weights warm
  in L3, as in a server running one model.

Process CPU medians (one thread: the run's own cost whatever the load), batch 1
and --batch, on the saved engine and IR of r50i8_layers.py (--dir). Run it once
per tree (PYTHONPATH) and compare the OV / int8rt ratios, which share the process.

Usage: OPENBLAS_NUM_THREADS=1 PYTHONPATH=<tree>/python python benchmarks/r50k4_whole.py \\
           --dir /tmp/cnn512/resnet50 [--batch 8] [--rounds 9]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
import e2e_threads  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/r50i8/resnet50"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=9, help="timed calls per engine, regime and batch (at least)")
    args = ap.parse_args()
    import int8rt
    import openvino as ov

    int8rt.set_num_threads(1)
    d = args.dir
    name = (d / "input_name").read_text()
    ctx = int8rt.Engine.deserialize((d / "engine.i8rt").read_bytes()).create_execution_context()
    model = ov.Core().read_model(str(d / "ov_int8.xml"))
    x8 = np.load(d / "x8.npy")
    print(f"int8rt {Path(int8rt.__file__).parent}; {bench_util.load_line()}", flush=True)
    for b in (1, args.batch):
        x = np.ascontiguousarray(x8[:b])
        ov_run = O.runner(O.compile_model(model, 1, None, x.shape))
        impls = {"int8rt": lambda: ctx.run({name: x}), "OV": lambda: ov_run(x)}
        min_time = (0.3 if b == 1 else 1.0) * args.rounds
        t = bench_util.alternating_samples(impls, args.rounds, min_time=min_time, clock=time.process_time)
        by_call = {k: float(np.median(v)) * 1e3 for k, v in t.items()}
        settled = {k: cpu * 1e3 for k, (_, cpu) in
                   e2e_threads.time_two_clocks(impls, args.rounds, min_time=min_time).items()}
        for regime, m in (("call by call", by_call), ("settled", settled)):
            print(f"batch {b} {regime}: int8rt {m['int8rt']:.2f} ms, OV INT8 {m['OV']:.2f} ms, "
                  f"OV / int8rt {m['OV'] / m['int8rt']:.3f} (load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
