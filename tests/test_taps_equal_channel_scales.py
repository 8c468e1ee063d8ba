"""A per-channel int8 grid whose channels all have one scale is a per-tensor
grid for the taps (python/int8rt/accuracy/taps.py, ``_int8_grids``): the
accuracy check, ``int8rt compare`` and bias correction see the tensor
instead of skipping it. The model is test_per_channel_activations.py's
NNCF-style block, its per-axis Q/DQ (axis 1) given equal scales; the
lowering keeps them as the producing conv's ``out_scales``. Oracle: ONNX
Runtime running the Q/DQ graph as the ONNX spec defines it (graph
optimizations off), its dequantized per-axis tensor marked as an output."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from int8rt.accuracy.taps import int8_scales, int8_tap_engine, int8_zero_points

import test_per_channel_activations as block_model

F32 = np.float32
STEP = F32(6.0 / 255)  # uint8 over the ReLU6 range


def _equal_scales(monkeypatch) -> bytes:
    monkeypatch.setattr(block_model, "_channel_scales",
                        lambda dtype, clamp_inside=False: np.full(block_model.E, STEP, F32))
    return block_model.block(np.uint8, 1)


def _with_output(model: bytes, name: str, shape: list) -> bytes:
    m = onnx.load_from_string(model)
    m.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape))
    return m.SerializeToString()


def test_equal_channel_scales_are_one_grid_and_tap_as_onnx_spec(monkeypatch) -> None:
    model = _equal_scales(monkeypatch)
    engine = block_model._build(model)
    lowered = engine._native.network()
    (expand,) = [n for n in lowered.nodes() if "out_scales" in n["attrs"]]
    assert len(set(expand["attrs"]["out_scales"])) == 1  # the premise: kept per channel, all equal
    assert int8_scales(lowered)["expand"] == float(STEP)
    assert int8_zero_points(lowered)["expand"] == -128

    x = block_model._x()
    shape = [len(x), block_model.E, block_model.H, block_model.W]
    tap, where = int8_tap_engine(lowered, {"expand": shape}, ["expand"])
    got = tap.create_execution_context().run({"x": x})[where["expand"]]
    want = block_model._ort_spec(_with_output(model, "expand_dq", shape)).run(["expand_dq"], {"x": x})[0]
    steps = np.abs(got - want) / STEP
    # int8rt requantizes the int32 sum, ONNX Runtime rounds a float sum: a
    # value within float rounding of a half step may land one step apart
    assert steps.max() <= 1.0 + 1e-4, steps.max()
    assert np.mean(steps < 1e-4) >= 0.99
    assert np.ptp(got) > 50 * STEP  # spans the grid, not a constant


def test_unequal_channel_scales_still_have_no_one_grid() -> None:
    lowered = block_model._build(block_model.block(np.uint8, 1))._native.network()
    assert "expand" not in int8_scales(lowered)
    assert "dw" in int8_scales(lowered)
