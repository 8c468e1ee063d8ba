"""The AVX512-VNNI 6 x 24 ymm tile (x86/avx512vnni/igemm_6x24c4.cc): convs of
exactly 24 output channels per group with inputs of any sign run on it
instead of the 6 x 64 tile's two zmm blocks of 16, at every reduction (its
rows are that tile's 6: x86/conv_igemm.cc's wide rule), on the VNNI tier
natively (skipped where the CPU lacks it or the tier is capped, or AMX is
above it). Results must equal the reference ``conv_s8_ref`` (==, float32
bit for bit): 3x3 convs of 16-96 input channels (a partial last group of 4:
C = 29, 30, 31), 1x1 convs of 24-259 channels (EfficientNet-B0's 96 / 144 ->
24 projections among them), widths around the 6-row tile (1-3, 5-9, 12, 13,
16, 17) and heights 1-9, stride 1 and 2, padding (with a non-zero pad value
too), small planes (the class tiles, padded taps left out), two groups of
24, batch 1 and 3; int8 output with bias, ReLU-like bounds and a residual;
float output; inputs of any sign, non-negative ones, all -128 and all 127
against weights of -127 / 127 / -128, and weights with -128 (vpdpbusd
takes them); 1 and 2 threads. In an engine, a 24-channel conv storing u8
codes (and reading a u8-coded residual) gives the bytes of the engine
holding int8 codes and of the reference tier. The dispatch log names the
tile for 24-channel convs and not for a 3x3 96 -> 32.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from conv_epilogue_check import INPUTS, assert_epilogues_equal_reference, epilogue_operands, input_codes
from onnx import helper
from onnx_models import fvi, model
from test_u8_codes import U8_OUT, U8_RES, _conv, _head

F32 = np.float32
TILE = "conv_s8_igemm_6x24c4_avx512vnni"

pytestmark = pytest.mark.skipif(
    not int8rt.kernels.isa_info()["avx512vnni"]["enabled"] or int8rt.kernels.isa_info()["amx"]["enabled"],
    reason="AVX512-VNNI not enabled on this CPU / under this cap, or AMX above it")

# (N, C, H, W, K, R, stride, pad, groups, pad_value)
CASES = [
    (1, 96, 9, 13, 24, 3, 1, 1, 1, 0),     # PP-OCR det's FPN 3x3 96 -> 24
    (1, 96, 10, 10, 24, 3, 1, 1, 1, -126),  # its 10 x 10 one (class tiles), a pad value
    (3, 32, 5, 7, 24, 3, 1, 1, 1, 0),
    (1, 29, 4, 5, 24, 3, 1, 1, 1, 3),       # reduction 261, a partial group of 4 per tap
    (2, 30, 3, 4, 24, 3, 2, 1, 1, 0),
    (1, 31, 6, 3, 24, 3, 1, 0, 1, 0),
    (1, 64, 2, 2, 48, 3, 1, 1, 2, 0),       # two groups of 24 (32 * 9 = 288 each)
    (1, 40, 1, 1, 24, 3, 1, 1, 1, 0),
    (1, 96, 7, 1, 24, 3, 1, 1, 1, 0),
    (1, 40, 4, 6, 24, 3, 1, 1, 1, 0),       # one full 6-row tile per output row
    (2, 33, 2, 12, 24, 3, 1, 1, 1, 0),      # two
    (1, 48, 3, 8, 24, 3, 1, 1, 1, 0),       # 6 + 2
    (2, 48, 4, 9, 24, 3, 1, 1, 1, -7),      # 6 + 3
    (1, 36, 5, 16, 24, 3, 1, 1, 1, 0),
    (1, 36, 3, 17, 24, 3, 1, 1, 1, 0),
    (1, 96, 20, 21, 24, 3, 1, 1, 1, 0),     # row taps on the interior tiles
    (1, 256, 4, 5, 24, 1, 1, 0, 1, 0),
    (3, 259, 3, 3, 24, 1, 1, 0, 1, 0),
    (1, 64, 11, 2, 24, 2, 1, 0, 1, 0),      # a 2 x 2 filter, reduction 256
    (1, 16, 7, 9, 24, 3, 1, 1, 1, 0),       # reduction 144
    (2, 96, 5, 7, 24, 1, 1, 0, 1, 0),       # EfficientNet-B0's projections
    (1, 144, 4, 13, 24, 1, 1, 0, 1, 0),
    (1, 24, 3, 11, 24, 1, 1, 0, 1, 0),      # reduction 24
    (1, 6, 5, 5, 24, 1, 2, 0, 1, 0),        # reduction 6: a partial group of 4
]


def make(case, inputs: str, seed: int, min_weight: bool = False):
    n, c, h, w, k, r, st, p, g, pv = case
    rng = np.random.default_rng(seed)
    x = input_codes(rng, inputs, (n, h, w, c))
    if inputs.startswith("all"):
        wt = rng.choice(np.array([-128, -127, 127], np.int8), (k, c // g, r, r))
    else:
        wt = rng.integers(-127, 128, (k, c // g, r, r), dtype=np.int8)
    if min_weight:
        wt.flat[rng.integers(0, wt.size, 7)] = -128
    kw = dict(stride=(st, st), pads=(p, p, p, p), groups=g, pad_value=pv)
    scale, bias, residual = epilogue_operands(rng, x, wt, kw)
    return x, wt, scale, bias, residual, kw


def check(case, inputs, seed, min_weight=False):
    x, wt, scale, bias, residual, kw = make(case, inputs, seed, min_weight)
    assert_epilogues_equal_reference(x, wt, scale, bias, residual, kw,
                                     f"{TILE} (dispatch) case={case} inputs={inputs}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}h{}w{}k{}r{}s{}p{}g{}v{}".format(*c))
@pytest.mark.parametrize("inputs", INPUTS)
def test_equals_reference(case, inputs):
    check(case, inputs, zlib.crc32(repr((case, inputs)).encode()))


@pytest.mark.parametrize("case", [CASES[0], CASES[6], CASES[15]], ids=str)
def test_weights_with_min_value(case):
    check(case, "signed", 5, min_weight=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(threads):
    int8rt.set_num_threads(threads)
    try:
        check((3, 96, 20, 21, 24, 3, 1, 1, 1, 0), "signed", 9)
    finally:
        int8rt.set_num_threads(0)


def test_dispatch_log(monkeypatch, capfd):
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    rng = np.random.default_rng(0)
    for c, r, k in ((96, 3, 24), (24, 1, 24), (96, 3, 32)):
        x = rng.integers(-128, 128, (1, 6, 6, c), dtype=np.int8)
        K.conv2d_s8(x, rng.integers(-127, 128, (k, c, r, r), dtype=np.int8), np.full(k, 1e-3, F32),
                    pads=(r // 2,) * 4)
    err = capfd.readouterr().err
    wide = [ln for ln in err.splitlines() if TILE in ln]
    assert len(wide) == 2 and all("runs 24 channels per group as" in ln for ln in wide), err


def _signed_24_net() -> bytes:
    """A signed Mul output (int8 codes) read by 1x1 48 -> 24 convs (signed
    inputs: the 6 x 24 tile) whose outputs only convs read (u8 codes), one
    with a residual Add, then 3x3 24 -> 32 convs with ReLU and the head."""
    inits, nodes = [], []
    _conv(inits, nodes, "x", "v1", 3, 48, k=3, relu=False)
    _conv(inits, nodes, "x", "v2", 3, 48, k=3, relu=False)
    nodes.append(helper.make_node("Mul", ["v1", "v2"], ["v"]))
    _conv(inits, nodes, "v", "p", 48, 24, relu=False)
    _conv(inits, nodes, "v", "r", 48, 24, relu=False, residual="p")
    _conv(inits, nodes, "r", "q", 24, 32, k=3)
    _conv(inits, nodes, "p", "q2", 24, 32, k=3)
    nodes.append(helper.make_node("Add", ["q", "q2"], ["qq"]))
    _head(inits, nodes, "qq", 32)
    return model(nodes, [fvi("x", ["n", 3, 14, 14])], [fvi("y", ["n", 10])], inits).SerializeToString()


@pytest.mark.parametrize("batch", [1, 3])
def test_engine_u8_codes_same_bytes(monkeypatch, capfd, batch):
    rng = np.random.default_rng(251)
    cal = int8rt.make_calibrator({"x": rng.standard_normal((16, 3, 14, 14)).astype(F32)}, algorithm="auto",
                                 batch_size=8)
    monkeypatch.setenv("INT8RT_LOG", "dispatch")
    engine = int8rt.build_engine(_signed_24_net(), int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                                        progress=False))
    data = engine.serialize()
    engine = int8rt.Engine.deserialize(data)
    err = capfd.readouterr().err
    assert any(TILE in ln for ln in err.splitlines()), err
    monkeypatch.delenv("INT8RT_LOG")
    details = [layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QConv"]
    assert any(U8_OUT in d for d in details) and any(U8_RES in d for d in details), details
    x = rng.standard_normal((batch, 3, 14, 14)).astype(F32)
    got = engine.create_execution_context().run({"x": x})["y"]
    for env in ({"INT8RT_U8_CODES": "0"}, {"INT8RT_MAX_ISA": "ref"}):
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            other = int8rt.Engine.deserialize(data)
        np.testing.assert_array_equal(got, other.create_execution_context().run({"x": x})["y"], err_msg=str(env))
