"""Col2Im (``F.fold``) as MobileViT-v2 exports it: non-overlapping blocks
(strides == block_shape) imported as Reshape / Transpose / Reshape
(python/int8rt/onnx/_col2im.py); FP32 equal to ONNX's reference evaluator
(pure data movement: ``==``), INT8 close to it; overlapping blocks still
refused by name."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import int8rt
from int8rt.data_calibrator import make_calibrator


def _model(c: int, h: int, w: int, block: tuple, strides: tuple) -> onnx.ModelProto:
    """x [N, c*kh*kw, L] -> Col2Im -> Conv 1x1 (so the INT8 engine has a layer to quantize) -> y."""
    kh, kw = block
    lh, lw = (h - kh) // strides[0] + 1, (w - kw) // strides[1] + 1
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((4, c, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Col2Im", ["x", "image", "block"], ["img"], name="fold", strides=list(strides)),
             helper.make_node("Conv", ["img", "w"], ["y"], name="conv")]
    graph = helper.make_graph(
        nodes, "col2im",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c * kh * kw, lh * lw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, h, w])],
        [numpy_helper.from_array(np.array([h, w], np.int64), "image"),
         numpy_helper.from_array(np.array(block, np.int64), "block"),
         numpy_helper.from_array(weight, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("c,h,w,block", [(3, 8, 8, (2, 2)), (5, 6, 12, (3, 2)), (2, 4, 3, (1, 3))])
def test_non_overlapping_col2im_is_a_move(c: int, h: int, w: int, block: tuple) -> None:
    model = _model(c, h, w, block, block)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, c * block[0] * block[1], (h // block[0]) * (w // block[1]))).astype(np.float32)
    want_img = ReferenceEvaluator(model).run(["img"], {"x": x})[0]
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    # the fold itself is data movement: the engine's image equals the reference's bit for bit
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(helper.make_tensor_value_info("img", TensorProto.FLOAT, ["N", c, h, w]))
    out = int8rt.build_engine(probe, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run({"x": x})
    np.testing.assert_array_equal(out["img"], want_img)
    np.testing.assert_allclose(out["y"], want, rtol=1e-5, atol=1e-5)  # a float32 1x1 conv after it

    calib = {"x": rng.standard_normal((16,) + x.shape[1:]).astype(np.float32)}
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = make_calibrator(calib, algorithm="minmax", batch_size=8)
    q = int8rt.build_engine(model, config).create_execution_context().run({"x": x})["y"]
    # int8: the inputs and weights each rounded once (step / 2 of a range ~4 sigma): a few per cent
    assert np.abs(q - want).max() <= 0.05 * np.abs(want).max()


def test_overlapping_col2im_is_refused() -> None:
    model = _model(2, 6, 6, (3, 3), (1, 1))  # blocks overlap and sum: not a move
    with pytest.raises(int8rt.NotSupportedError, match="Col2Im"):
        int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
