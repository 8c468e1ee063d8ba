"""PP-OCR rec (the rapidocr wheel's PP-OCRv4 recogniser, SVTR neck) INT8 vs
FP32 with whatever int8rt is on PYTHONPATH: the INT8 engine built as
e2e_bench builds it (e2e_subjects.ppocr: IInt8EntropyCalibrator2 over 4 x 8
rendered lines, seed 1), then on held-out rendered lines (seed 3) the decoded
text against the truth and against int8rt FP32's, and the centred cosine of
the logits per line against FP32 (the statistic accuracy_bench reports).
Also lists every Quantize / Dequantize the INT8 plan keeps and why, and the
float layers, so a before / after pair of runs shows what a change brought
into int8 (RESULTS.md section 118).

    PYTHONPATH=python python benchmarks/svtr_rec_accuracy.py --lines 64
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from e2e_bench import Calibrator  # noqa: E402
from e2e_subjects import ppocr  # noqa: E402
from realnets.ocr_models import models_dir, rec_task  # noqa: E402
from realnets.text_images import text_lines  # noqa: E402


def centred_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row: cosine of a - mean(a) and b - mean(b) over the row's values."""
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def run(engine, name: str, x: np.ndarray, batch: int = 8) -> np.ndarray:
    """The engine's (only) output over `x`, `batch` rows at a time."""
    return np.concatenate([next(iter(engine.run({name: x[i:i + batch]}).values()))
                           for i in range(0, len(x), batch)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=64, help="held-out text lines scored")
    ap.add_argument("--algorithm", default="e2e",
                    help="'e2e' (e2e_bench's IInt8EntropyCalibrator2) or an int8rt.make_calibrator algorithm")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    s = ppocr("ppocr_rec", tmp)
    calib = (Calibrator(s.calib_feeds) if args.algorithm == "e2e" else
             int8rt.make_calibrator({s.input_name: np.concatenate(s.calib)}, algorithm=args.algorithm, batch_size=8))
    int8 = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="int8", calibrator=calib))
    fp32 = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="fp32"))
    plan = int8.int8_plan()
    print(f"int8rt {int8rt.__file__}, calibration {args.algorithm}")
    print(f"int8 layers {len(plan.layers)}, converts {len(plan.converts)}: "
          f"{Counter(c.op for c in plan.converts)}")
    for c in plan.converts:
        print(f"  {c.op} {c.tensor!r}: {c.reason}")
    for line in int8.report():
        if "stays float32" in line or "LayerNorm" in line:
            print(f"  report: {line}")
    task = rec_task(models_dir())
    lines = text_lines(args.lines, seed=3)
    x, texts = task.make_inputs(lines, 103)
    y8, y32 = run(int8, s.input_name, x), run(fp32, s.input_name, x)
    print("int8 ", task.score(y8, texts), task.agree(y8, y32))
    print("fp32 ", task.score(y32, texts))
    cos = centred_cosine(y8, y32)
    print(f"centred cosine int8 vs fp32: mean {cos.mean():.5f} min {cos.min():.5f}")


if __name__ == "__main__":
    main()
