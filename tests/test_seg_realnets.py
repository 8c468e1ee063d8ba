"""torchvision's segmentation networks end to end (issue 11): exported by
torch.onnx as users export them (dynamic batch, height and width; the
output upsampled to the input's run-time size), imported unchanged, FP32
against ONNX Runtime at two input sizes in one ExecutionContext, INT8
calibrated on photographs of four sizes and run at two sizes in one context,
with the upsampling in int8 (no Dequantize in front of either bilinear
Resize). Slow (exports and builds real networks); skipped without torchvision
or scikit-image (benchmarks/realnets/seg_models.py says how to install them).

Run: PYTHONPATH=python python3 -m pytest -m slow tests/test_seg_realnets.py
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))

from realnets import seg_models as S  # noqa: E402

_REASON = S.missing()
if _REASON is not None:
    pytest.skip(f"segmentation networks: {_REASON}", allow_module_level=True)

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

import int8rt  # noqa: E402

CALIB_SIZES = ((224, 224), (256, 320), (288, 224), (320, 320))
EVAL_SIZES = ((224, 288), (320, 256))
# INT8 centred cosine of the logits against FP32 (auto calibrator), measured:
# LR-ASPP 0.94 / 0.95, FCN 0.62 / 0.62 (random weights amplify the int8 noise
# with depth; ONNX Runtime's and OpenVINO's INT8 are in benchmarks/RESULTS.md
# section 24). The bounds catch a broken layer, not a calibration regression.
MIN_COSINE = {"lraspp_mobilenet_v3_large": 0.85, "fcn_resnet50": 0.45}


@pytest.mark.parametrize("name,dynamo", [("lraspp_mobilenet_v3_large", False), ("lraspp_mobilenet_v3_large", True),
                                         ("fcn_resnet50", False)])
def test_segmentation_net_end_to_end(tmp_path, name: str, dynamo: bool) -> None:
    path = S.export(name, tmp_path / f"{name}.onnx", dynamo=dynamo)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    evals = {hw: S.images(3, hw, 50 + i) for i, hw in enumerate(EVAL_SIZES)}
    refs = {hw: sess.run(None, {"input": x})[0] for hw, x in evals.items()}

    fp32 = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    for hw, x in list(evals.items()) + list(evals.items())[:1]:
        got = fp32.run({"input": x})["out"]
        assert got.shape == refs[hw].shape == (3, 21) + hw
        # float32 sums in different orders over 50+ layers: 1e-4 of the largest logit
        assert np.abs(got - refs[hw]).max() <= 1e-4 * np.abs(refs[hw]).max(), hw

    calib = [S.images(4, hw, 10 + i) for i, hw in enumerate(CALIB_SIZES)]
    engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(
        precision="int8", calibrator=int8rt.make_calibrator(calib, algorithm="auto")))
    resizes = [layer for layer in engine.layers() if "Resize" in layer["op"]]
    assert resizes and all(layer["op"] == "int8rt.QResizeLinear" for layer in resizes), resizes
    assert "to float32" in resizes[-1]["detail"]  # the upsampling to the input size writes the float output
    converted = {c.tensor for c in engine.int8_plan().converts}
    resize_inputs = {n.input[0] for n in onnx.load(str(path)).graph.node if n.op_type == "Resize"}
    assert len(resize_inputs) == len(resizes) and not converted & resize_inputs, converted & resize_inputs
    ctx = engine.create_execution_context()
    for hw, x in evals.items():
        got = ctx.run({"input": x})["out"]
        assert got.shape == refs[hw].shape
        assert S.centred_cosine(got, refs[hw]) >= MIN_COSINE[name], hw
