"""Class tiles of the igemm driver (x86/conv_igemm_classes.h, RESULTS.md section 155):
a padded conv's output pixels grouped by the filter taps their windows keep
inside the input, tiles of one class each spanning images, the padding taps
left out where the microkernel's padding byte adds nothing (the shifted
AVX512-VNNI tile with pad_value -128, the unsigned one over a non-negative
input with pad_value 0). The optimized kernels against the reference, ``==``,
on ResNet-like small planes (7 x 7, 14 x 14, stride 2 into 7 x 7), planes whose
row segments take row taps, corners and edges at batch 1, 3 and 8, channel
tiles cut short, residuals and clamps, 1 and 2 threads; pad values that keep
the padded reduction (45, 0 on the shifted tile) run alongside as controls.
The engine: a ResNet-like net with 14 x 14 and 7 x 7 bottlenecks (u8-coded
inputs, pad_value -128), the same bytes at batch 1, 3 and 8 under 1 and 2
threads, after save / load, and under INT8RT_MAX_ISA=avx2 and ref.
"""
from __future__ import annotations

import zlib
from typing import List, Tuple

import numpy as np
import pytest

import int8rt
from int8rt._testing import kernels as K
from np_kernels import first_mismatch
from onnx_models import fvi, model
from test_u8_codes import _conv, _head, _run

F32 = np.float32

# (C, H, W, K, R, S, stride, pads (t, l, b, r))
Case = Tuple[int, int, int, int, int, int, Tuple[int, int], Tuple[int, int, int, int]]

CASES: List[Case] = [
    (64, 7, 7, 64, 3, 3, (1, 1), (1, 1, 1, 1)),     # ResNet-50's last stage, reduced channels
    (32, 14, 14, 72, 3, 3, (1, 1), (1, 1, 1, 1)),   # 14 x 14: row-tap segments of 12, a short channel tile
    (24, 14, 14, 64, 3, 3, (2, 2), (1, 1, 1, 1)),   # stride 2 into 7 x 7 (top / left padding only)
    (20, 9, 11, 40, 3, 3, (1, 1), (1, 1, 1, 1)),    # segments of 9 (tiles 5 + 4), 20 channels
    (18, 6, 6, 33, 3, 3, (1, 1), (1, 1, 1, 1)),     # channels not a multiple of 4: no row taps
    (16, 5, 8, 17, 5, 5, (1, 1), (2, 2, 2, 2)),     # 5 x 5: five row and column classes
    (16, 4, 6, 16, 3, 3, (1, 1), (0, 1, 2, 0)),     # asymmetric pads
    (16, 3, 3, 20, 3, 3, (1, 1), (3, 3, 3, 3)),     # windows wholly in the padding (no taps)
]


def case_id(case: Case) -> str:
    c, h, w, k, r, s, st, p = case
    return f"C{c}H{h}W{w}K{k}_{r}x{s}_s{st[0]}_p{''.join(map(str, p))}"


def optimized(case: Case) -> List[str]:
    c, h, w, k, r, s, stride, pads = case
    info = int8rt.kernels.isa_info()
    rows = K.conv_candidates(c, h, w, k, r, s, stride, pads, (1, 1), 1, "int8")
    return [n for n, isa, reason in rows if isa != "ref" and info[isa]["enabled"] and reason == ""]


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("nonneg", [False, True], ids=["signed", "nonneg"])
def test_class_tiles_equal_reference(case: Case, nonneg: bool, threads: int) -> None:
    c, h, wd, k, r, s, stride, pads = case
    names = optimized(case)
    if not names:
        pytest.skip("no optimized conv kernel runs on this CPU")
    rng = np.random.default_rng(zlib.crc32(f"{case_id(case)}{nonneg}".encode()))
    w = rng.integers(-128, 128, (k, c, r, s), dtype=np.int8)
    # -128 (the shifted tile's padding byte 0) and 0 for a non-negative input
    # leave the padding taps out; 45 (and 0 on the shifted tile) keep them.
    pad_values = [0, 45] if nonneg else [-128, 0, 45]
    for batch in (1, 3, 8):
        lo_x = 0 if nonneg else -128
        x = rng.integers(lo_x, 128, (batch, h, wd, c), dtype=np.int8)
        for z in pad_values:
            common = dict(stride=stride, pads=pads, pad_value=z, nonneg_input=nonneg)
            acc = K.conv2d_s8(x, w, np.ones(k, F32), kernel="conv_s8_ref", out_dtype="float32", **common)
            amax = np.abs(acc.reshape(-1, k)).max(axis=0).astype(np.float64) + 1.0
            scale = (rng.uniform(0.9, 1.1, k) * 127.0 / amax).astype(F32)
            bias = rng.uniform(-12, 12, k).astype(F32)
            residual = rng.integers(-128, 128, acc.shape, dtype=np.int8)
            for kw in (dict(), dict(lo=-20.0, hi=100.0, residual=residual, residual_scale=0.731)):
                want = K.conv2d_s8(x, w, scale, bias, kernel="conv_s8_ref", **common, **kw)
                for name in names:
                    got = K.conv2d_s8(x, w, scale, bias, kernel=name, **common, **kw)
                    msg = first_mismatch(got, want)
                    assert msg is None, (f"{name} {case_id(case)} batch={batch} pad_value={z} nonneg={nonneg} "
                                         f"threads={threads} residual={'residual' in kw}: {msg}")


def resnet_small_planes() -> bytes:
    """A ResNet-like net whose bottlenecks run at 14 x 14 and 7 x 7 (a
    stride-2 3x3 between them), as ResNet-50's last two stages do: its 3x3
    convs take class tiles on u8-coded inputs (pad_value -128)."""
    inits, nodes = [], []
    _conv(inits, nodes, "x", "stem", 3, 32, k=3, stride=2)
    _conv(inits, nodes, "stem", "a1", 32, 32)
    _conv(inits, nodes, "a1", "a2", 32, 32, k=3)
    _conv(inits, nodes, "a2", "a3", 32, 32, residual="stem")
    _conv(inits, nodes, "a3", "d", 32, 64, k=3, stride=2)
    _conv(inits, nodes, "d", "b1", 64, 64)
    _conv(inits, nodes, "b1", "b2", 64, 64, k=3)
    _conv(inits, nodes, "b2", "b3", 64, 64, residual="d")
    _head(inits, nodes, "b3", 64)
    return model(nodes, [fvi("x", ["n", 3, 28, 28])], [fvi("y", ["n", 10])], inits).SerializeToString()


@pytest.fixture(scope="module")
def small_planes() -> bytes:
    rng = np.random.default_rng(155)
    cal = int8rt.make_calibrator({"x": rng.standard_normal((16, 3, 28, 28)).astype(F32)}, algorithm="auto",
                                 batch_size=8)
    engine = int8rt.build_engine(resnet_small_planes(), int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                                             progress=False))
    return engine.serialize()


def _load(data: bytes, monkeypatch, **env: str) -> int8rt.Engine:
    with monkeypatch.context() as m:
        for k, v in env.items():
            m.setenv(k, v)
        return int8rt.Engine.deserialize(data)


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_engine_with_small_planes_same_bytes_on_every_tier(small_planes, monkeypatch, tmp_path, batch) -> None:
    engine = _load(small_planes, monkeypatch)
    x = np.random.default_rng(batch).standard_normal((batch, 3, 28, 28)).astype(F32)
    got = _run(engine, x)
    if int8rt.kernels.isa_info()["avx512vnni"]["enabled"]:  # AMX at both ends keeps int8 codes (u8_codes.h)
        vnni = _load(small_planes, monkeypatch, INT8RT_MAX_ISA="avx512vnni")
        convs = [layer["detail"] for layer in vnni.layers() if layer["op"] == "int8rt.QConv"]
        assert sum("(input u8 codes)" in d for d in convs) >= 4, convs
    np.testing.assert_array_equal(got, _run(engine, x, threads=2))
    for isa in ("avx512vnni", "avx2", "ref"):
        np.testing.assert_array_equal(got, _run(_load(small_planes, monkeypatch, INT8RT_MAX_ISA=isa), x), isa)
    path = tmp_path / "e.i8rt"
    engine.save(path)
    np.testing.assert_array_equal(got, _run(int8rt.Engine.load(path), x, threads=2))
