"""Fused int8 inverted-residual blocks (csrc/engine/inverted_residual.h):
expand 1x1 -> depthwise -> project 1x1 run band by band must give the bytes
of the same three layers run one by one (==). The reference engine is the
same network with the expanded tensor also a network output, which keeps the
block unfused (its tensor has a second reader); both engines read one
calibration cache, so their scales are equal."""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np
import onnx
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32


def block_model(c: int, e: int, k: int, hw: Tuple[int, int], r: int, stride: int, pad: int,
                residual: bool, clip: bool, expose_expanded: bool, seed: int) -> onnx.ModelProto:
    """x [N, c, H, W] -> Conv 1x1 (c -> e) -> Clip(0, 6) or Relu -> depthwise
    Conv r x r (stride, pad) -> Clip / Relu -> Conv 1x1 (e -> k) [+ x] -> y."""
    rng = np.random.default_rng(seed)
    act = (lambda i, o: helper.make_node("Clip", [i, "lo", "hi"], [o])) if clip else \
        (lambda i, o: helper.make_node("Relu", [i], [o]))
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        act("c1", "t"),
        helper.make_node("Conv", ["t", "w2", "b2"], ["c2"], group=e, strides=[stride, stride],
                         pads=[pad, pad, pad, pad]),
        act("c2", "u"),
        helper.make_node("Conv", ["u", "w3", "b3"], ["p" if residual else "y"]),
    ]
    if residual:
        nodes.append(helper.make_node("Add", ["p", "x"], ["y"]))
    inits = [init("w1", (rng.standard_normal((e, c, 1, 1)) / np.sqrt(c)).astype(F32)),
             init("b1", (rng.standard_normal(e) * 0.5).astype(F32)),
             init("w2", (rng.standard_normal((e, 1, r, r)) / r).astype(F32)),
             init("b2", (rng.standard_normal(e) * 0.5).astype(F32)),
             init("w3", (rng.standard_normal((k, e, 1, 1)) / np.sqrt(e)).astype(F32)),
             init("b3", (rng.standard_normal(k) * 0.1).astype(F32)),
             init("lo", np.array(0.0, F32)), init("hi", np.array(6.0, F32))]
    outputs = [fvi("y", None)] + ([fvi("t", None)] if expose_expanded else [])
    return onnx.shape_inference.infer_shapes(model(nodes, [fvi("x", ["N", c, *hw])], outputs, inits))


# (c, e, k, (H, W), r, stride, pad, residual, clip, batch): each expanded
# tensor is at least 256 KiB over the batch (inverted_residual.cc's
# kMinExpandedBytes) and spans 3-6 bands of 384 KiB (kBandBytes) per image.
CASES = [
    (16, 96, 16, (112, 56), 3, 1, 1, True, True, 2),    # MobileNetV2 stride-1 block with residual
    (16, 96, 24, (171, 55), 3, 2, 1, False, True, 3),   # stride 2, odd sizes
    (24, 144, 24, (131, 31), 5, 1, 2, True, False, 2),  # 5x5, ReLU, odd sizes
    (8, 72, 12, (243, 61), 5, 2, 2, False, False, 3),   # 5x5 stride 2, odd batch
    (12, 40, 12, (200, 120), 3, 1, 1, True, True, 1),   # batch 1: parts of one image on 2 threads
]


def engines(tmp_path: Path, case: tuple) -> Tuple[object, object, np.ndarray]:
    c, e, k, hw, r, stride, pad, residual, clip, batch = case
    seed = sum(map(int, [c, e, k, *hw, r, stride]))
    x = np.random.default_rng(seed).standard_normal((batch, c, *hw)).astype(F32)
    cache = str(tmp_path / "calib.cache")
    built = []
    for expose in (False, True):
        path = tmp_path / f"block_{int(expose)}.onnx"
        onnx.save(block_model(c, e, k, hw, r, stride, pad, residual, clip, expose, seed), str(path))
        cal = int8rt.make_calibrator({"x": x}, algorithm="minmax", batch_size=batch, cache_file=cache)
        built.append(int8rt.build_engine(path, int8rt.BuilderConfig(precision="int8", calibrator=cal)))
    return built[0], built[1], x


def layer_ms(profile: List[dict]) -> List[float]:
    return [layer["ms"] for layer in profile if layer["op"] == "int8rt.QConv"]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"c{c[0]}e{c[1]}k{c[2]}_{c[3][0]}x{c[3][1]}_r{c[4]}s{c[5]}"
                         f"{'_res' if c[7] else ''}{'_clip' if c[8] else '_relu'}_n{c[9]}")
def test_fused_block_equals_layer_by_layer(tmp_path: Path, case: tuple, threads: int) -> None:
    fused, reference, x = engines(tmp_path, case)
    before = int8rt.get_num_threads()
    int8rt.set_num_threads(threads)
    try:
        y = fused.run({"x": x})["y"]
        y_ref = reference.run({"x": x})["y"]
        # The fused engine ran the block as one step: run_timed gives its
        # time to the expansion and none to the other two (the reference
        # times all three).
        ms = layer_ms(fused.create_execution_context().profile({"x": x}, 1))
        ms_ref = layer_ms(reference.create_execution_context().profile({"x": x}, 1))
    finally:
        int8rt.set_num_threads(before)
    assert len(ms) == 3 and ms[0] > 0 and ms[1:] == [0.0, 0.0], ms
    assert len(ms_ref) == 3 and min(ms_ref) > 0, ms_ref
    assert y.shape == y_ref.shape
    diff = np.flatnonzero(y != y_ref)
    assert diff.size == 0, f"{diff.size} outputs differ, first at {np.unravel_index(diff[0], y.shape)}: " \
                           f"{y.flat[diff[0]]} vs {y_ref.flat[diff[0]]}"
    assert np.unique(np.round(y / max(np.abs(y).max(), 1e-6) * 127)).size > 32  # not saturated / constant


def test_small_batch_runs_unfused(tmp_path: Path) -> None:
    """Below kMinExpandedBytes (256 KiB) the block runs layer by layer (the
    expanded tensor stays in cache anyway): all three layers are timed."""
    fused, _, x = engines(tmp_path, (16, 96, 16, (20, 20), 3, 1, 1, True, True, 2))
    ms = layer_ms(fused.create_execution_context().profile({"x": x}, 1))
    assert len(ms) == 3 and min(ms) > 0, ms
