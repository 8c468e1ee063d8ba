"""Segmentation networks end to end: int8rt FP32 against ONNX Runtime FP32,
and INT8 accuracy of int8rt, ONNX Runtime (quant_pre_process +
quantize_static QDQ, MinMax, per-channel) and OpenVINO (NNCF defaults)
against FP32, all calibrated on the same photographs at several sizes.

Networks: torchvision's lraspp_mobilenet_v3_large,
deeplabv3_mobilenet_v3_large, fcn_resnet50 (realnets/seg_models.py: random
weights, BatchNorm statistics from photographs, torch.onnx export with a
dynamic batch, height and width). Calibration: 4 batches of 4 crops of the
photographs in scikit-image's wheel at 224x224, 256x320, 288x224 and
320x320 (one batch each). Evaluation: 8 other crops at each of 224x288 and
320x256, each size run in one ExecutionContext of one engine (no rebuild).

Per network and size:
  FP32   max |int8rt - ORT| / max |ORT| (float32 sums in different orders)
  INT8   centred cosine of the per-pixel logits against FP32 (each class's
         mean over all pixels removed first), and the per-pixel argmax
         agreement with FP32 on the pixel positions whose FP32 argmax is not
         the same in all 8 images (with random weights a position's class
         otherwise follows the biases, not the image)

Usage: PYTHONPATH=python python benchmarks/seg_accuracy.py [--models ...]
       [--algorithms auto entropy2 minmax] [--no-peers] [--dynamo]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from realnets import engines as E  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import seg_models as S  # noqa: E402

CALIB_SIZES = ((224, 224), (256, 320), (288, 224), (320, 320))
EVAL_SIZES = ((224, 288), (320, 256))


def evaluate(name: str, path: Path, algorithms: List[str], peers: bool) -> None:
    import onnxruntime as ort

    calib = [S.images(4, hw, 10 + i) for i, hw in enumerate(CALIB_SIZES)]
    evals = {hw: S.images(8, hw, 50 + i) for i, hw in enumerate(EVAL_SIZES)}
    ref_sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    refs = {hw: ref_sess.run(None, {"input": x})[0] for hw, x in evals.items()}
    fp32 = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32"))
    ctx = fp32.create_execution_context()
    for hw, x in evals.items():
        got = ctx.run({"input": x})["out"]
        err = np.abs(got - refs[hw]).max() / np.abs(refs[hw]).max()
        print(f"{name} {hw[0]}x{hw[1]}: int8rt FP32 vs ORT FP32 max abs error / max |logit| {err:.2e}")
    runs: Dict[str, object] = {}
    for alg in algorithms:
        t0 = time.perf_counter()
        e = int8rt.build_engine(str(path), int8rt.BuilderConfig(
            precision="int8", calibrator=int8rt.make_calibrator(calib, algorithm=alg)))
        c = e.create_execution_context()
        runs[f"int8rt INT8 ({alg})"] = lambda x, c=c: c.run({"input": x})["out"]
        converts = e.int8_plan().converts
        print(f"{name}: int8rt INT8 ({alg}) built in {time.perf_counter() - t0:.1f} s; "
              f"{len(converts)} Quantize/Dequantize layers")
    if peers:
        data, sec = E.ort_quantize(path.read_bytes(), calib, "minmax")
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        runs["ORT INT8 (MinMax QDQ)"] = lambda x: sess.run(None, {"input": x})[0]
        print(f"{name}: ORT INT8 built in {sec:.1f} s")
        reason = O.available()
        if reason is None:
            ov_model, sec = O.nncf_int8(path, [np.ascontiguousarray(b[i:i + 1]) for b in calib for i in range(len(b))])
            print(f"{name}: OpenVINO INT8 (NNCF) built in {sec:.1f} s")
            compiled: Dict[tuple, object] = {}

            def run_ov(x: np.ndarray) -> np.ndarray:
                if x.shape not in compiled:
                    compiled[x.shape] = O.runner(O.compile_model(ov_model, 1, None, x.shape))
                return compiled[x.shape](x)
            runs["OV INT8 (NNCF)"] = run_ov
        else:
            print(f"{name}: OpenVINO skipped: {reason}")
    print(f"| {name} | size | " + " | ".join(runs) + " |")
    print("|---|---|" + "---|" * len(runs))
    for hw, x in evals.items():
        ref = refs[hw]
        mask = S.varying_pixels(ref)
        cells = []
        for run in runs.values():
            y = run(x)
            agree = (y.argmax(1) == ref.argmax(1))[mask].mean()
            cells.append(f"{S.centred_cosine(y, ref):.4f} / {agree * 100:.1f}%")
        print(f"| {name} | {hw[0]}x{hw[1]} ({mask.mean() * 100:.0f}% px vary) | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(S.NAMES))
    ap.add_argument("--algorithms", nargs="+", default=["auto", "entropy2", "minmax"])
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--dynamo", action="store_true", help="export with torch.onnx's default (dynamo) exporter")
    args = ap.parse_args()
    reason = S.missing()
    if reason is not None:
        sys.exit(f"cannot make the networks: {reason}")
    import onnxruntime
    logging.getLogger().setLevel(logging.ERROR)
    onnxruntime.set_default_logger_severity(3)
    print(machine_line())
    print(f"int8rt {int8rt.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"{O.versions() if O.available() is None else 'no OpenVINO'}; {load_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            path = S.export(name, Path(tmp) / f"{name}.onnx", dynamo=args.dynamo)
            evaluate(name, path, args.algorithms, not args.no_peers)
    print(f"end: {load_line()}")


if __name__ == "__main__":
    main()
