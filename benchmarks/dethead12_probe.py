"""What a head's int8-rounded output costs when float element-wise ops follow
it before the network's output (RESULTS_accuracy.md acc58): ``auto`` as it
is against ``auto`` with the head layer and the float ops after it named
fp32 in ``layer_precisions`` (float input, float weights, float output: an
upper bound on what a head writing float32 from its int8 accumulators could
gain).

Subjects:

- ``det_issue11``: the issue-11 PP-OCRv4 detector row (issue11_rows.ppocr_det:
  N/H/W symbolic, calibrated at four page sizes, evaluated at three); the
  head is ConvTranspose.2 -> Add (bias) -> Sigmoid -> output; the row's
  metric (centred cosine of the worst size, IoU of the masks p > 0.3).
- ``det_e2e``: the e2e detector (3x320x320 static, e2e_bench.py's model),
  four calibration batches of 4 pages, two evaluation batches of 8 pages
  (accuracy_bench.det_pages); relative L2 to ONNX Runtime FP32, mask IoU.
- ``rec_e2e``: the e2e PP-OCRv4 recogniser (3x48x320), its head MatMul.24 ->
  Add (bias) -> Softmax -> output; four calibration batches of 8 text
  lines, two evaluation batches of 16; relative L2 and the share of time
  steps whose argmax agrees with FP32.

``--also L1,L2`` adds a third engine: the head and those layers in fp32
(where in the detector's upsampling head the error is).

    PYTHONPATH=python python benchmarks/dethead12_probe.py det_issue11 det_e2e rec_e2e
    PYTHONPATH=python python benchmarks/dethead12_probe.py det_issue11 \
        --also p2o.Conv.61,p2o.ConvTranspose.0
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402

Feed = dict[str, np.ndarray]
E2E_DIR = "/tmp/lead/e2emodels"


def _det_e2e() -> tuple[str, str, list[Feed], list[Feed], dict[str, str]]:
    from accuracy_bench import det_pages

    calib = [{"x": det_pages(4, 1 + i, (320, 320))} for i in range(4)]
    evaluation = [{"x": det_pages(8, 22 + i, (320, 320))} for i in range(2)]
    head = {"p2o.ConvTranspose.2": "fp32", "p2o.Add.280": "fp32", "p2o.Sigmoid.0": "fp32"}
    return os.path.join(E2E_DIR, "ppocr_det.onnx"), "sigmoid_0.tmp_0", calib, evaluation, head


def _rec_e2e() -> tuple[str, str, list[Feed], list[Feed], dict[str, str]]:
    from realnets.ocr_models import models_dir, rec_task
    from realnets.text_images import text_lines

    task = rec_task(models_dir())
    calib = [{"x": task.make_inputs(text_lines(8, seed=1 + i), 0)[0]} for i in range(4)]
    evaluation = [{"x": task.make_inputs(text_lines(16, seed=50 + i), 0)[0]} for i in range(2)]
    head = {"p2o.MatMul.24": "fp32", "p2o.Add.276": "fp32", "p2o.Softmax.2": "fp32"}
    return os.path.join(E2E_DIR, "ppocr_rec.onnx"), "softmax_11.tmp_0", calib, evaluation, head


def _e2e_metric(subject: str) -> Callable[[list[np.ndarray], list[np.ndarray]], dict[str, float]]:
    def metric(outs: list[np.ndarray], refs: list[np.ndarray]) -> dict[str, float]:
        o = np.concatenate([a.ravel() for a in outs])
        r = np.concatenate([a.ravel() for a in refs])
        m = {"rel_l2": float(np.linalg.norm(o - r) / np.linalg.norm(r))}
        if subject == "det_e2e":
            m["mask_iou"] = float(np.sum((o > 0.3) & (r > 0.3)) / max(1, np.sum((o > 0.3) | (r > 0.3))))
        else:
            a = np.concatenate([x.argmax(-1).ravel() for x in outs])
            b = np.concatenate([x.argmax(-1).ravel() for x in refs])
            m["argmax_agree"] = float(np.mean(a == b))
        return m
    return metric


def run(subject: str, also: list[str]) -> None:
    """Print ``auto`` and ``auto`` with the head in fp32 on ``subject``."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from realnets.new_models import ort_session

    if subject == "det_issue11":
        from issue11_gap_probe import load_row

        row = load_row("ppocr_det", "/tmp/verify11/models")
        path, output, calib, evaluation = row.path, row.output, list(row.calib), list(row.evaluation)
        head = {"p2o.ConvTranspose.2": "fp32", "p2o.Add.280": "fp32", "p2o.Sigmoid.0": "fp32"}
        metric = lambda outs, refs: row.metric(outs, refs, evaluation)  # noqa: E731
    else:
        path, output, calib, evaluation, head = _det_e2e() if subject == "det_e2e" else _rec_e2e()
        metric = _e2e_metric(subject)
    fp32 = ort_session(path)
    refs = [fp32.run([output], f)[0] for f in evaluation]
    variants: list[tuple[str, Optional[dict[str, str]]]] = [("auto", None), ("auto+head_fp32", head)]
    if also:
        variants.append(("auto+head+" + "+".join(also) + "_fp32", {**head, **{n: "fp32" for n in also}}))
    for name, precisions in variants:
        t0 = time.process_time()
        engine = int8rt.build_engine(path, int8rt.BuilderConfig(
            calibrator=make_calibrator(list(calib), algorithm="auto"), accuracy_check=False,
            layer_precisions=precisions))
        build = time.process_time() - t0
        ctx = engine.create_execution_context()
        outs = [ctx.run(f)[output] for f in evaluation]
        tail = [f"{layer['name']}:{layer['op']}:{layer['precision']}" for layer in engine.layers()[-3:]]
        print(f"{subject} {name}: {metric(outs, refs)} (build {build:.1f} CPU s; last layers {tail})", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("subjects", nargs="+", choices=["det_issue11", "det_e2e", "rec_e2e"])
    ap.add_argument("--also", default="", help="comma-separated layers kept fp32 beside the head (a third engine)")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    for subject in args.subjects:
        run(subject, [n for n in args.also.split(",") if n])
    return 0


if __name__ == "__main__":
    sys.exit(main())
