"""PP-OCRv4 det with its two upsampling ConvTransposes in int8 vs float32,
one process, alternating (issue 14 item 1 / RESULTS.md section 15).

Engines, all from one set of scales (calibrated once on 4 rendered text
pages, then handed to every build as a TensorRT cache, so only the layer
precisions differ):
  int8 both     int8rt's default: both ConvTransposes int8 (QConvTranspose)
  int8 CT0 only the second (24 -> 1 channel, feeding the Sigmoid output) float32
  fp32 CTs      both ConvTransposes (and the Relu between them) float32, as
                before int8 ConvTranspose existed; the BatchNormalization is
                folded in every engine
Whole-network medians (batch 1, 1 thread) alternate between the engines; the
per-layer medians come from ExecutionContext.profile.

Input: the accuracy bench's rendered text pages (3 x 160 x 320, three text
lines each); --pages N calibrates on N of them and times the first.

Usage: PYTHONPATH=python python3 benchmarks/conv_transpose_bench.py [--pages 4] [--rounds 15]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from realnets.ocr_models import models_dir, static_input_model  # noqa: E402


class Pages(int8rt.IInt8EntropyCalibrator2):
    def __init__(self, x: np.ndarray, cache: bytes = b"") -> None:
        super().__init__()
        self.x, self.i, self.cache = x, 0, cache

    def get_batch_size(self) -> int:
        return 1

    def get_batch(self, names):
        if self.i >= len(self.x):
            return None
        self.i += 1
        return [self.x[self.i - 1:self.i]]

    def read_calibration_cache(self) -> bytes:
        return self.cache

    def write_calibration_cache(self, cache: bytes) -> None:
        self.cache = cache


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    folder = models_dir()
    if folder is None:
        print("skipped: rapidocr-onnxruntime is not installed")
        return 0
    from accuracy_bench import det_task  # the accuracy bench's text pages

    int8rt.set_num_threads(1)
    model = static_input_model(os.path.join(folder, "ch_PP-OCRv4_det_infer.onnx"), (3, 160, 320)).SerializeToString()
    pages = det_task(folder, args.pages, 1)["calib"]
    x = pages[:1]
    cal = Pages(pages)
    first = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=cal))
    cache = cal.cache
    variants = {"int8 both": {}, "int8 CT0 only": {"p2o.ConvTranspose.2": "fp32"},
                "fp32 CTs": {"p2o.ConvTranspose.0": "fp32", "p2o.ConvTranspose.2": "fp32", "p2o.Relu.11": "fp32"}}
    engines = {k: int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=Pages(x, cache), layer_precisions=v))
               for k, v in variants.items()}
    del first
    ctx = {k: e.create_execution_context() for k, e in engines.items()}
    times = {k: [] for k in engines}
    for _ in range(args.rounds):
        for k, c in ctx.items():
            t = time.perf_counter()
            c.run({"x": x})
            times[k].append(time.perf_counter() - t)
    ref = {n: v.copy() for n, v in ctx["fp32 CTs"].run({"x": x}).items()}
    print(f"PP-OCRv4 det 160x320, batch 1, 1 thread, {args.rounds} alternating rounds")
    print("| engine | median ms | ConvTranspose layers (ms, profile medians) | int8 layers | max |dp| vs fp32 CTs |")
    print("|---|---|---|---|---|")
    for k, c in ctx.items():
        prof = c.profile({"x": x}, 10)
        ct = [f"{p['name']} {p['op']} {p['ms']:.2f}" for p in prof if "ConvTranspose" in p["name"]]
        n_int8 = sum(1 for p in prof if p.get("precision") == "int8")
        out = {n: v.copy() for n, v in c.run({"x": x}).items()}
        dp = max(float(np.abs(out[n] - ref[n]).max()) for n in out)
        print(f"| {k} | {np.median(times[k]) * 1e3:.1f} | {'; '.join(ct)} | {n_int8} | {dp:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
