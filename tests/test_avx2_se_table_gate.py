"""The squeeze-and-excitation gate's table forms on the avx2 tier (RESULTS.md
section 233): int8rt.QChannelMul (csrc/kernels/x86/avx2/channel_mul_table_rows_8.cc)
and its int8rt.QGlobalAveragePool (avx2/pool_s8_32c.cc global_avgpool_table)
reading a hard-swish's int8 codes through its 256 float values, as in
MobileNetV3's SE blocks. The engine's bytes on the avx2 tier must equal the
reference tier's (ref::channel_mul_table_s8, ref::global_avgpool_table_s8)
for channel counts around the kernels' 8- and 32-channel steps (a partial
last block, one block, several with and without a tail), a batch of 3 with
a gate row per image. The C++ suite (tests/cpp/test_eltwise_kernels.cc
ChannelMulTable*, GlobalAvgPoolTable*) sweeps the kernels themselves with
ties, NaN and infinities."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from test_pointwise_tables import build, se_model

F32 = np.float32
pytestmark = pytest.mark.skipif(
    not int8rt.kernels.isa_info()["avx2"]["enabled"], reason="AVX2 not enabled on this CPU / under this cap")


def se_hardswish_model(channels: int, size: int):
    """conv -> hardswish -> SE gate (GAP, conv, Relu, conv, HardSigmoid) ->
    Mul(hardswish, gate) -> conv, ``channels`` wide on ``size`` x ``size``
    (test_pointwise_tables.se_model, with wider weights)."""
    return se_model(channels, size, max(2, channels // 4), 5, np.random.default_rng(channels * 31 + size),
                    (0.4, 0.2, 0.4, 0.6, 0.3))


@pytest.mark.parametrize("channels", [3, 8, 13, 40, 67])
def test_table_gate_avx2_equals_reference(channels: int, size: int = 10) -> None:
    """10 x 10 images: test_pointwise_tables' calibration data."""
    m = se_hardswish_model(channels, size)
    x = np.random.default_rng(channels + 100 * size).uniform(-2, 2, (3, 3, size, size)).astype(F32)
    outs = {}
    engine = build(m)
    for isa in ("avx2", "ref"):
        int8rt.set_max_isa(isa)
        try:
            e = int8rt.Engine.deserialize(engine.serialize())
        finally:
            int8rt.set_max_isa(None)
        layers = {layer["name"]: layer for layer in e.layers()}
        gate, pool = layers["se_scale"], layers["se_pool"]
        assert gate["op"] == "int8rt.QChannelMul" and "x through a float table" in gate["detail"], gate
        assert gate["detail"].startswith(f"channel_mul_s8_{isa}"), gate["detail"]
        assert pool["detail"] == f"global_avgpool_s8_{isa} (x through a float table)", pool
        outs[isa] = e.run({"x": x})["y"]
    assert np.abs(outs["ref"]).max() > 0
    np.testing.assert_array_equal(outs["avx2"], outs["ref"])
