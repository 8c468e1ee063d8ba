"""ResNet-50 / MobileNetV2 BF16 on AMX against OpenVINO bf16, the AMX tier
only (RESULTS.md section 187): amxbf16_nets.py's engines and timing
(int8rt's FP32 + bf16 engine, channel-blocked regions as built by default,
beside OpenVINO with INFERENCE_PRECISION_HINT=bf16 compiled for the batch;
1 thread; alternated, medians of process CPU and wall time per call)
without its avx512bf16 row, so a before / after pair of trees (one process
each, started together) fits in a short window; compare OV / int8rt.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16conv_nets.py
       [--nets resnet50 mobilenet_v2] [--batches 1 8] [--rounds 5] [--min-time 0.3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from amxbf16_nets import build, kernels_of  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from bf16_nets_bench import alternating_wall_and_cpu, cnn, rel_l2  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["resnet50", "mobilenet_v2"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(f"int8rt {os.path.dirname(int8rt.__file__)}; {O.versions()}")
    tmp = Path(tempfile.mkdtemp())
    for name in args.nets:
        net = cnn(name, tmp)
        engine = build(net.path, "amx", True)
        fp32 = build(net.path, None, False)
        print(f"{name} int8rt bf16 amx: {kernels_of(engine)}")
        model = O.load(net.path)
        for batch in args.batches:
            feed = net.feed(batch, 3)
            ctx = engine.create_execution_context()
            req = O.compile_model(model, 1, "bf16", batch).create_infer_request()

            def ov(req=req) -> np.ndarray:
                req.infer(feed, share_inputs=True)
                return req.get_output_tensor(0).data.copy()
            runs = {"int8rt bf16 amx": lambda c=ctx: c.run(feed)["logits"], "OV bf16": ov}
            want = fp32.create_execution_context().run(feed)["logits"]
            errs = {n: rel_l2([r()], [want]) for n, r in runs.items()}
            print(f"\n{name}, batch {batch}, 1 thread; {load_line()}")
            times = alternating_wall_and_cpu(runs, args.rounds, args.min_time)
            (ov_w, ov_c), (w, c) = times["OV bf16"], times["int8rt bf16 amx"]
            print(f"| {name} | {batch} | {c * 1e3:.2f} | {ov_c * 1e3:.2f} | {ov_c / c:.3f} | {w * 1e3:.1f} | "
                  f"{ov_w * 1e3:.1f} | {errs['int8rt bf16 amx']:.2e} / {errs['OV bf16']:.2e} | (after: {load_line()})",
                  flush=True)
    print("columns: network | batch | int8rt CPU ms | OV CPU ms | OV / int8rt CPU | int8rt wall ms | OV wall ms | "
          "rel. L2 vs int8rt FP32 (int8rt / OV)")


if __name__ == "__main__":
    main()
