"""BERT-base in BF16 on the AMX Xeon, once (RESULTS.md section 179): int8rt's
FP32 engine built with bf16=True (TensorRT's BuilderFlag.BF16: MatMuls and
Gemms on AMX-BF16 / AVX512-BF16) against OpenVINO on the FP32 model with
INFERENCE_PRECISION_HINT bf16, 1 thread, alternated call by call, process CPU
medians at batch 1 and 8, on e2e10_layers.py's saved feeds; each output's
relative L2 to ONNX Runtime FP32.

    PYTHONPATH=python python benchmarks/bertfuse_bf16.py --onnx /tmp/bertfuse/models/bert-base.onnx \\
        --feeds /tmp/bertfuse/bert --rounds 5
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
import e2e_feeds as F  # noqa: E402
from e2e10_layers import load_feed  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", type=Path, required=True)
    ap.add_argument("--feeds", type=Path, required=True, help="a folder with feed1.npz / feed<batch>.npz")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    import int8rt
    import onnxruntime as ort
    import openvino as ov
    int8rt.set_num_threads(1)
    data = args.onnx.read_bytes()
    engine = int8rt.build_engine(data, int8rt.BuilderConfig(precision="fp32", bf16=True))
    model = ov.Core().read_model(str(args.onnx))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    print(bench_util.machine_line())
    for b in (1, args.batch):
        feed = load_feed(args.feeds, b)
        ctx = engine.create_execution_context()
        ov_run = F.ov_runner(O.compile_model(F.ov_static(model, feed), 1, "bf16"))
        ref = session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})[0]
        err = {}
        for name, got in (("int8rt bf16", next(iter(ctx.run(feed).values()))), ("OV bf16", ov_run(feed))):
            err[name] = round(float(np.linalg.norm(got - ref) / np.linalg.norm(ref)), 5)
        load0 = os.getloadavg()[0]
        t = bench_util.alternating_samples({"int8rt bf16": lambda: ctx.run(feed), "OV bf16": lambda: ov_run(feed)},
                                           args.rounds, min_time=0.5 * args.rounds, clock=time.process_time)
        med = {k: float(np.median(v)) * 1e3 for k, v in t.items()}
        print(f"batch {b}: int8rt bf16 {med['int8rt bf16']:.2f} ms, OV bf16 {med['OV bf16']:.2f} ms "
              f"(OV ÷ int8rt {med['OV bf16'] / med['int8rt bf16']:.3f}); rel L2 to ORT FP32 {err}; "
              f"{len(t['OV bf16'])} calls each, load {load0:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
