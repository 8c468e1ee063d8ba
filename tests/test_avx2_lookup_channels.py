"""The per-channel table lookup on the avx2 tier (RESULTS.md section 236):
int8rt.QLut's per-channel form (a hard-swish on per-channel grids, as PP-OCR
det / rec hold most of theirs) runs csrc/kernels/x86/avx2/lookup_channels_s8_32x16.cc,
and the engine's bytes equal the reference tier's (ref::lookup_s8_channels)
for channel counts around the kernel's 16-channel block and the driver's
64-channel group (a partial block alone, one block, a block and a tail, a
partial last group) and pixel counts that leave a partial 32-pixel block
(batch 3 of 11 x 9). The C++ suite (tests/cpp/test_lookup_channels.cc) sweeps
the kernel itself over every code, pixel counts around its blocks and guard
bytes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32
H, W = 11, 9
pytestmark = pytest.mark.skipif(
    not int8rt.kernels.isa_info()["avx2"]["enabled"], reason="AVX2 not enabled on this CPU / under this cap")


def hardswish_chain(channels: int) -> bytes:
    """conv (output channels' gains 0.02 .. 8, so their grids spread) -> HardSwish -> 1x1 conv."""
    rng = np.random.default_rng(channels)
    gains = np.geomspace(0.02, 8.0, channels).astype(F32)
    rng.shuffle(gains)
    w1 = (rng.standard_normal((channels, 3, 3, 3)) * 0.3 * gains[:, None, None, None]).astype(F32)
    b1 = (rng.standard_normal(channels) * gains * 0.5 - gains * 0.8).astype(F32)
    wp = (rng.standard_normal((4, channels, 1, 1)) * 0.4).astype(F32)
    inits = [init("w1", w1), init("b1", b1), init("wp", wp), init("bp", np.zeros(4, F32)),
             init("three", np.array(3.0, F32)), init("zero", np.array(0.0, F32)), init("six", np.array(6.0, F32))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Add", ["c1", "three"], ["a"], name="hs_add"),
             helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="hs_clip"),
             helper.make_node("Mul", ["c1", "c"], ["m"], name="hs_mul"),
             helper.make_node("Div", ["m", "six"], ["h1"], name="hs_div"),
             helper.make_node("Conv", ["h1", "wp", "bp"], ["y"], name="pw", kernel_shape=[1, 1])]
    return model(nodes, [fvi("x", ["N", 3, H, W])], [fvi("y", ["N", 4, H, W])], inits).SerializeToString()


@pytest.mark.parametrize("channels", [3, 16, 17, 40, 67])
def test_per_channel_lookup_avx2_equals_reference(channels: int) -> None:
    m = hardswish_chain(channels)
    x_cal = np.random.default_rng(5).uniform(-1, 1, (16, 3, H, W)).astype(F32)
    cal = int8rt.make_calibrator({"x": x_cal}, algorithm="minmax", batch_size=8)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, channel_activations=True,
                                                         accuracy_check=False))
    x = np.random.default_rng(channels + 7).uniform(-1.2, 1.2, (3, 3, H, W)).astype(F32)
    outs = {}
    for isa in ("avx2", "ref"):
        int8rt.set_max_isa(isa)
        try:
            e = int8rt.Engine.deserialize(engine.serialize())
        finally:
            int8rt.set_max_isa(None)
        tables = [layer for layer in e.layers() if layer["op"] == "int8rt.QLut"]
        assert len(tables) == 1 and tables[0]["detail"].startswith(f"lookup_channels_s8_{isa} per-channel"), tables
        outs[isa] = e.run({"x": x})["y"]
    assert np.abs(outs["ref"]).max() > 0
    np.testing.assert_array_equal(outs["avx2"], outs["ref"])
