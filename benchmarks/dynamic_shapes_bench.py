"""What one engine for every input size costs: the PP-OCRv4 detector and
recogniser as shipped (symbolic height/width), one int8rt INT8 engine built
from the native model, against an int8rt INT8 engine built for each size
alone with the same calibration cache (what a user had to do before), and
ONNX Runtime FP32 on the native model.

Per size: the first run of the dynamic engine at a size it has not seen
(it derives its per-size conv views and resize indices then), the steady
median of each implementation (alternating, one process, 1 thread), and
whether the dynamic engine's output is bit-identical to the static one's.

    PYTHONPATH=python python benchmarks/dynamic_shapes_bench.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import machine_line, time_alternating  # noqa: E402
from realnets.ocr_models import models_dir, static_input_model  # noqa: E402

NETS = {
    "ch_PP-OCRv4_det_infer.onnx": {"calib": [(320, 480), (224, 160), (480, 320), (256, 256)],
                                    "eval": [(320, 480), (640, 640), (736, 960)]},
    "ch_PP-OCRv4_rec_infer.onnx": {"calib": [(48, 320), (48, 160), (48, 240)],
                                    "eval": [(48, 96), (48, 320), (48, 800)]},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort

    folder = models_dir()
    if folder is None:
        sys.exit("needs rapidocr-onnxruntime (pip install --no-deps rapidocr-onnxruntime)")
    int8rt.set_num_threads(1)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    print(machine_line())
    print("| network | input | dynamic first run | dynamic | static (per size) | ORT FP32 | dynamic == static |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name, sizes in NETS.items():
        path = os.path.join(folder, name)
        batches = [{"x": rng.uniform(-1, 1, (2, 3, h, w)).astype(np.float32)} for h, w in sizes["calib"]]
        cache = tempfile.mktemp(suffix=".cache")
        dynamic = int8rt.build_engine(path, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(batches, algorithm="minmax", cache_file=cache), accuracy_check=False))
        ctx = dynamic.create_execution_context()
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        for h, w in sizes["eval"]:
            static_path = tempfile.mktemp(suffix=".onnx")
            onnx.save(static_input_model(path, (3, h, w)), static_path)
            static = int8rt.build_engine(static_path, int8rt.BuilderConfig(
                calibrator=int8rt.make_calibrator(batches[:1], algorithm="minmax", cache_file=cache),
                accuracy_check=False))
            sctx = static.create_execution_context()
            x = rng.uniform(-1, 1, (1, 3, h, w)).astype(np.float32)
            t0 = time.perf_counter()
            y = ctx.run({"x": x})
            first = time.perf_counter() - t0
            same = all(np.array_equal(y[k], v) for k, v in sctx.run({"x": x}).items())
            t = time_alternating({"dynamic": lambda: ctx.run({"x": x}), "static": lambda: sctx.run({"x": x}),
                                  "ort": lambda: sess.run(None, {"x": x})}, args.rounds)
            print(f"| {name.split('_infer')[0]} | {h}x{w} | {first * 1e3:.1f} ms | {t['dynamic'] * 1e3:.1f} ms | "
                  f"{t['static'] * 1e3:.1f} ms | {t['ort'] * 1e3:.1f} ms | {'yes' if same else 'NO'} |", flush=True)
            os.unlink(static_path)
        os.unlink(cache)


if __name__ == "__main__":
    main()
