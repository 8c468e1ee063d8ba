"""Issue 11's PP-OCRv4 det FP32 row against a float64 evaluation of the same
graph: which float32 engine drifts from the exact result at 480x640, where
int8rt FP32 and ONNX Runtime FP32 differ by 2.3e-4 (RESULTS.md section 87).

The float64 side is the ONNX graph converted to PyTorch by onnx2torch
(Constant nodes moved to initializers first, as onnx2torch reads weights
only from there) and run with every parameter and the input in float64.
Errors are the largest |output - reference| over the batch relative to the
largest |reference|, issue11_verify.py's FP32 column. Each row's evaluation
batches (192x288, 320x320, 480x640, 6 pages each) come from
realnets/issue11_rows.py.

    pip install --no-deps onnx2torch   # benchmarks only; not a dependency
    cd /tmp && PYTHONPATH=<repo>/python python <repo>/benchmarks/det_float64_truth.py --dir /tmp/verify11/models

onnx2torch imports torchvision.ops for its NMS / RoIAlign converters; where
torchvision does not import beside the installed torch (this machine), a
stand-in module without those ops is installed first (PP-OCR det has
neither op).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def _torchvision_stand_in() -> None:
    """A torchvision module without ops, where the real one does not import."""
    try:
        importlib.import_module("torchvision")
    except Exception:  # noqa: BLE001 - any import failure: the wheel links another torch
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        tv = types.ModuleType("torchvision")
        tv.ops = types.ModuleType("torchvision.ops")
        tv.ops.nms = tv.ops.roi_align = tv.ops.batched_nms = None
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, tv.ops


def float64_module(path: str):
    """The ONNX model at ``path`` as a float64 PyTorch module (onnx2torch)."""
    import onnx
    _torchvision_stand_in()
    from onnx2torch import convert

    model = onnx.load(path)
    kept = []
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(node.attribute[0].t)
            t.name = node.output[0]
            model.graph.initializer.append(t)
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return convert(model).double().eval()


def relative(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/issue11_verify", help="issue11_verify.py's model folder")
    args = ap.parse_args()
    import onnxruntime as ort
    import torch

    import int8rt
    from realnets.issue11_rows import ppocr_det

    int8rt.set_num_threads(1)
    print(machine_line(), flush=True)
    row = ppocr_det(args.dir)
    exact = float64_module(row.path)
    sess = ort.InferenceSession(row.path, providers=["CPUExecutionProvider"])
    engine = int8rt.build_engine(row.path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    print("| input | ORT FP32 vs float64 | int8rt FP32 vs float64 | int8rt vs ORT |\n|---|---|---|---|")
    for feed in row.evaluation:
        (x,) = feed.values()
        with torch.no_grad():
            ref = exact(torch.from_numpy(x.astype(np.float64))).numpy()
        o, e = sess.run([row.output], feed)[0], engine.run(feed)[row.output]
        print(f"| {'x'.join(map(str, x.shape))} | {relative(o, ref):.2e} | {relative(e, ref):.2e} | "
              f"{relative(e, o):.2e} |", flush=True)


if __name__ == "__main__":
    main()
