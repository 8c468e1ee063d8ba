"""Inception-shaped channel-blocked (NCHW16c) regions (csrc/engine/f32_blocked.h):
Concat along channels of blocked tensors (int8rt.Concat16c), MaxPool with
ceil_mode and padding, and AveragePool (int8rt.AveragePool16c, the
nchw16c_f32 family's avgpool) with ceil_mode, padding and either
count_include_pad, as GoogLeNet / Inception export them:
  - an Inception block (1x1; 1x1 -> 3x3; 1x1 -> 3x3; MaxPool 3x3 / 1 pad 1
    ceil -> 1x1) whose Concat has inputs of 16, 32, 16 and 19 channels (the
    last not whole blocks: its padded lanes are the output's) joins the
    region; a Concat whose first input has 24 channels stays NCHW (its
    region inputs converted out), as the pass's rule says;
  - the reference and AVX-512 tiers give the same bytes at batch 1 and 3
    (the region's outputs);
  - the average pools give the NCHW AveragePool's bits: an engine output of
    the pool equals a float32 evaluation of the NCHW rule (taps row-major
    from 0, then / the tap count) on the engine's own pool input, for the
    blocked engine and the NCHW one; every output is within 2e-6 of the NCHW
    engine's (the convs sum in another order, test_f32_blocked.py's bound);
  - a saved and loaded engine, a batch split over 2 threads and the layers'
    own tasks over 2 threads give the same bytes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from test_f32_blocked import NEEDS_REGIONS, F32, build, check_saved_and_threads, same_bytes_on_tiers
from test_f32_blocked_dense import conv_node
from test_f32_layout import restore  # noqa: F401  (autouse: threads, ISA cap and batch split put back)

HW = (24, 30)  # MaxPool 3x3 / 2 ceil -> 12 x 15 (floor would give 11 x 14)
AVG = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)
OUTPUTS = [("y", [16, 1, 1]), ("cat1", [83, 12, 15]), ("avg", [83, 7, 8])]


def inception_like(path: Path) -> None:
    rng, inits = np.random.default_rng(21), []

    def conv(name: str, x: str, cin: int, cout: int, k: int = 1) -> list:
        return [conv_node(rng, inits, name, x, cin, cout, (k, k), bias=True, pads=[k // 2] * 4),
                helper.make_node("Relu", [name], [name + "_r"])]

    nodes = conv("a0", "x", 20, 32) + conv("a", "a0_r", 32, 32, 3) + [
        helper.make_node("MaxPool", ["a_r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)]
    nodes += conv("b1", "p", 32, 16) + conv("b2a", "p", 32, 24) + conv("b2", "b2a_r", 24, 32, 3)
    nodes += conv("b3a", "p", 32, 8) + conv("b3", "b3a_r", 8, 16, 3)
    nodes += [helper.make_node("MaxPool", ["p"], ["b4p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1)]
    nodes += conv("b4", "b4p", 32, 19)
    nodes += [helper.make_node("Concat", ["b1_r", "b2_r", "b3_r", "b4_r"], ["cat1"], axis=1),
              helper.make_node("AveragePool", ["cat1"], ["avg"], **AVG)]
    # A second block whose Concat's first input has 24 channels: not taken.
    nodes += conv("c1", "avg", 83, 24) + [
        helper.make_node("AveragePool", ["avg"], ["c2p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         count_include_pad=0)] + conv("c2", "c2p", 83, 16)
    nodes += [helper.make_node("Concat", ["c1_r", "c2_r"], ["cat2"], axis=1)] + conv("d", "cat2", 40, 16)
    nodes += [helper.make_node("GlobalAveragePool", ["d_r"], ["y"])]
    graph = helper.make_graph(
        nodes, "inception_like", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 20, *HW])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["N", *dims]) for o, dims in OUTPUTS], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def avgpool_rule(x: np.ndarray, k: int, s: int, pad: int, out: tuple, include_pad: bool) -> np.ndarray:
    """The NCHW AveragePool's float32 operations (engine/ops/pool_f32.cc): per output, taps inside the input
    row-major added to 0, then / the count of taps inside [-pad, size + pad) (count_include_pad; the ceil_mode
    overhang not counted) or inside the input."""
    N, C, H, W = x.shape
    y = np.zeros((N, C, *out), F32)
    for oy in range(out[0]):
        for ox in range(out[1]):
            acc = np.zeros((N, C), F32)
            for ky in range(k):
                for kx in range(k):
                    iy, ix = oy * s - pad + ky, ox * s - pad + kx
                    if 0 <= iy < H and 0 <= ix < W:
                        acc = acc + x[:, :, iy, ix]
            y0, y1, x0, x1 = (-pad, H + pad, -pad, W + pad) if include_pad else (0, H, 0, W)
            ch = sum(y0 <= oy * s - pad + t < y1 for t in range(k))
            cw = sum(x0 <= ox * s - pad + t < x1 for t in range(k))
            y[:, :, oy, ox] = acc / F32(ch * cw)
    return y


def images(batch: int) -> dict:
    return {"x": np.random.default_rng(30 + batch).standard_normal((batch, 20, *HW)).astype(F32)}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "inception_like.onnx"
    inception_like(path)
    return path


@NEEDS_REGIONS
def test_region_takes_the_inception_block(model: Path) -> None:
    engine = build(model)
    ops = [layer["op"] for layer in engine.layers()]
    assert ops.count("int8rt.Concat16c") == 1 and ops.count("Concat") == 1, ops  # cat2 (24 channels first) NCHW
    assert ops.count("int8rt.MaxPool16c") == 2 and "MaxPool" not in ops, ops
    assert ops.count("int8rt.AveragePool16c") == 2 and "AveragePool" not in ops, ops
    # In: x; out: cat1, avg (network outputs), c1, c2 (read by the NCHW Concat); d is NCHW (one conv).
    assert ops.count("int8rt.ToNCHW16c") == 1 and ops.count("int8rt.FromNCHW16c") == 4, ops
    assert any("channel-blocked: 1 region(s), 10 FP32 convs on NCHW16c tensors, 5 layout conversions" in line
               for line in engine.report()), engine.report()


@NEEDS_REGIONS
@pytest.mark.parametrize("batch", [1, 3])
def test_tiers_give_the_same_bytes(model: Path, batch: int) -> None:
    # The region's outputs (y comes from NCHW layers, whose tiers may differ).
    same_bytes_on_tiers(model, images(batch), f"batch {batch}", ("cat1", "avg"), "avgpool NCHW16c nchw16c_f32_")


@pytest.mark.parametrize("isa", ["ref", "avx512", None])
def test_average_pool_has_the_nchw_bits(model: Path, isa: str | None) -> None:
    """isa None: the NCHW engine, which shows that avgpool_rule is the NCHW layer's."""
    engine = build(model, isa) if isa else build(model, blocked=False)
    out = engine.create_execution_context().run(images(2))
    want = avgpool_rule(out["cat1"], 3, 2, 1, (7, 8), True)
    bad = np.argwhere(out["avg"] != want)
    assert bad.size == 0, f"{isa}: {len(bad)} outputs differ, first at {bad[0]}: {out['avg'][tuple(bad[0])]} " \
                          f"!= {want[tuple(bad[0])]}"


@pytest.mark.parametrize("isa", ["ref", "avx512"])
def test_outputs_near_the_nchw_engine(model: Path, isa: str) -> None:
    x = images(3)
    want = build(model, blocked=False).create_execution_context().run(x)
    for name, y in build(model, isa).create_execution_context().run(x).items():
        err = np.abs(y.astype(np.float64) - want[name]).max() / np.abs(want[name]).max()
        assert y.shape == want[name].shape and err <= 2e-6, f"{isa} {name}: {err}"


def test_saved_engine_and_threads(model: Path, tmp_path: Path) -> None:
    check_saved_and_threads(build(model), images(4), tmp_path)
