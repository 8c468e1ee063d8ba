"""The PP-OCRv4 recogniser as shipped (symbolic batch, height and width),
each calibrator: one INT8 engine per method, calibrated on batches of lines
at their own widths, evaluated line by line at each line's own width.

The setting of tests/test_realnets.py::test_rec_dynamic_width_int8_close_to_fp32
(calibration: --calib lines, seed 1, in batches of 4 padded to the widest;
evaluation: --eval lines, seed 2, one at a time), with more lines. Metrics:
character and line accuracy against the rendered text (and FP32's beside
them), agreement of the decoded text with FP32, and the mean over lines of
the relative L2 of the probabilities against FP32. Build seconds (wall clock
and the process's CPU time) include calibration and (auto) the search.

    PYTHONPATH=python python benchmarks/rec_dynamic_bench.py [--methods minmax,mse,auto] [--calib 32] [--eval 100]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from realnets.ocr_models import models_dir, rec_task, resize_norm  # noqa: E402
from realnets.text_images import text_lines  # noqa: E402


def natural_width(line, height: int = 48) -> np.ndarray:
    h, w = line.image.shape[:2]
    return resize_norm(line.image, height, int(np.ceil(height * w / h)))


def calibration_batches(n: int) -> list[dict[str, np.ndarray]]:
    calib = [natural_width(line) for line in text_lines(n, seed=1)]
    out = []
    for i in range(0, len(calib), 4):  # rapidocr pads a batch to its widest line
        group = calib[i:i + 4]
        batch = np.zeros((len(group), 3, 48, max(x.shape[2] for x in group)), np.float32)
        for j, x in enumerate(group):
            batch[j, :, :, :x.shape[2]] = x
        out.append({"x": batch})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="entropy2,minmax,percentile,mse,auto")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=100)
    ap.add_argument("--options", default="",
                    help="extra BuilderConfig options for every build, e.g. equalize=False,smoothquant=False")
    args = ap.parse_args()
    folder = models_dir()
    if folder is None:
        sys.exit("rapidocr-onnxruntime is not installed")
    task = rec_task(folder)
    options = {k: v == "True" for k, v in (o.split("=") for o in args.options.split(",") if o)}
    int8rt.set_num_threads(2)
    lines = text_lines(args.eval, seed=2)
    xs = [natural_width(line)[None] for line in lines]
    texts = [line.text for line in lines]
    fp32 = int8rt.build_engine(task.onnx_file, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    ref = [next(iter(fp32.run({"x": x}).values()))[0] for x in xs]

    def char_line(outs):
        scores = [task.score(o[None], [t]) for o, t in zip(outs, texts)]
        return np.mean([s["char_acc"] for s in scores]), np.mean([s["line_acc"] for s in scores])

    c32, l32 = char_line(ref)
    print(f"PP-OCRv4 rec, dynamic width: calibration {args.calib} lines (batches of 4), evaluation {args.eval} "
          f"lines at {len({x.shape[3] for x in xs})} widths; options {options or 'defaults'}")
    print("| engine | char_acc | line_acc | agree | rel_l2 (mean) | build s | build CPU s | load avg |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| FP32 | {c32:.4f} | {l32:.4f} | 1.0000 | 0.0000 | - | - | - |", flush=True)
    for method in args.methods.split(","):
        t0, c0 = time.perf_counter(), time.process_time()
        engine = int8rt.build_engine(task.onnx_file, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(calibration_batches(args.calib), algorithm=method),
            accuracy_check=False, **options))
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        ctx = engine.create_execution_context()
        outs = [next(iter(ctx.run({"x": x}).values()))[0] for x in xs]
        c8, l8 = char_line(outs)
        agree = np.mean([task.agree(o[None], r[None])["agree"] for o, r in zip(outs, ref)])
        rel = np.mean([np.linalg.norm(o - r) / np.linalg.norm(r) for o, r in zip(outs, ref)])
        print(f"| int8rt {method} | {c8:.4f} | {l8:.4f} | {agree:.4f} | {rel:.4f} | {secs:.1f} | {cpu:.1f} "
              f"| {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
