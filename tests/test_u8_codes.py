"""Tensors held as u8 codes (q + 128; csrc/engine/ops/int8/u8_codes.h, RESULTS.md
sections 137 and 145): a conv's or a max pool's int8 output read only by convs is
stored xor 0x80 by its writer (the conv's epilogue; the pool flips its int8 maxima
image by image) and read by the AVX512-VNNI convs' unshifted kernels (the strip
one included) with the weights' -128 * sum(w) compensation. The arithmetic is
the same, so every output must be the same bytes as the engine that holds every
tensor as int8 codes (INT8RT_U8_CODES=0) and as the reference kernels'
(INT8RT_MAX_ISA=ref, where the reference conv takes u8 codes too), at batch 1
and > 1, 1 and 2 threads, after save / load, and under INT8RT_MAX_ISA=avx2
(whose kernels take no u8 codes: every tensor stays int8 there). Engines are
built with the auto calibrator, which keeps the ReLU outputs on the unsigned
grid (zero point -128): the tensors whose convs took the shifted path."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

import int8rt
from onnx_models import fvi, model

RNG = np.random.default_rng(137)
F32 = np.float32
U8_IN, U8_RES, U8_OUT = "(input u8 codes)", "(residual u8 codes)", "(output u8 codes)"


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)


def _conv(inits: list, nodes: list, x: str, y: str, c_in: int, c_out: int, k: int = 1, stride: int = 1,
          relu: bool = True, residual: str | None = None) -> None:
    """Conv (+ residual Add) (+ Relu) from x to y; He weights, small biases."""
    inits += [numpy_helper.from_array(_w(c_out, c_in, k, k), y + "_w"),
              numpy_helper.from_array((RNG.standard_normal(c_out) * 0.1).astype(F32), y + "_b")]
    pad = k // 2
    out = y if not (relu or residual) else y + "_c"
    nodes.append(helper.make_node("Conv", [x, y + "_w", y + "_b"], [out], pads=[pad] * 4, strides=[stride] * 2))
    if residual:
        added = y if not relu else y + "_a"
        nodes.append(helper.make_node("Add", [out, residual], [added]))
        out = added
    if relu:
        nodes.append(helper.make_node("Relu", [out], [y]))


def _head(inits: list, nodes: list, x: str, c: int) -> None:
    inits += [numpy_helper.from_array(_w(10, c), "fc_w"), numpy_helper.from_array(np.zeros(10, F32), "fc_b")]
    nodes += [helper.make_node("GlobalAveragePool", [x], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], transB=1)]


def resnet_like(pool_stride: int = 1, c: int = 16, wide: int = 64) -> bytes:
    """A stem, a padded 3x3 max pool (stride 2 as ResNet-50's: its output
    image smaller than its input's), a projection bottleneck and an identity
    one (1x1, 3x3, 1x1 + residual + ReLU, as ResNet-50's), the head. With
    c = 16 the 1x1 16 -> 64 convs take the strip kernel (reduction 16, full
    64-channel tiles), with u8-coded inputs, residuals and outputs."""
    inits, nodes = [], []
    _conv(inits, nodes, "x", "stem", 3, c, k=3)
    nodes.append(helper.make_node("MaxPool", ["stem"], ["pool"], kernel_shape=[3, 3], strides=[pool_stride] * 2,
                                  pads=[1] * 4))
    _conv(inits, nodes, "pool", "proj", c, wide, relu=False)
    _conv(inits, nodes, "pool", "a1", c, c)
    _conv(inits, nodes, "a1", "a2", c, c, k=3)
    _conv(inits, nodes, "a2", "a3", c, wide, residual="proj")
    _conv(inits, nodes, "a3", "b1", wide, c)
    _conv(inits, nodes, "b1", "b2", c, c, k=3)
    _conv(inits, nodes, "b2", "b3", c, wide, residual="a3")
    _head(inits, nodes, "b3", wide)
    return model(nodes, [fvi("x", ["n", 3, 18, 18])], [fvi("y", ["n", 10])], inits).SerializeToString()


def branchy() -> bytes:
    """A tensor read by two convs (u8 codes), one read by a conv and an Add
    (int8 codes), a signed conv output (no ReLU) read by a conv (u8 codes on
    the symmetric grid), a strip conv writing u8 codes, the head."""
    inits, nodes = [], []
    _conv(inits, nodes, "x", "s", 3, 16, k=3)
    _conv(inits, nodes, "s", "t", 16, 16)  # read by two convs
    _conv(inits, nodes, "t", "u", 16, 64)  # strip, output read by one conv and the Add
    _conv(inits, nodes, "t", "v", 16, 16, k=3, relu=False)  # signed, read by a conv
    _conv(inits, nodes, "v", "w", 16, 64)  # strip, writes u8 codes for z
    _conv(inits, nodes, "w", "z", 64, 64, k=3)
    _conv(inits, nodes, "u", "e", 64, 64)
    nodes.append(helper.make_node("Add", ["u", "z"], ["uz"]))
    nodes.append(helper.make_node("Add", ["uz", "e"], ["sum"]))
    _head(inits, nodes, "sum", 64)
    return model(nodes, [fvi("x", ["n", 3, 16, 16])], [fvi("y", ["n", 10])], inits).SerializeToString()


# name: (ONNX bytes, input size, calibration algorithm, BuilderConfig options). The auto calibrator keeps
# the unsigned grid on resnet_like; on branchy it decides by the data drawn (symmetric: its ReLU outputs
# read as u8 already, "(input >= 0)", and only the signed v takes u8 codes); branchy_unsigned and
# resnet_like_s2 (whose strided pool the auto calibrator puts on the symmetric grid) hold them unsigned
# whatever the data.
BRANCHY = branchy()
MODELS = {"resnet_like": (resnet_like(), 18, "auto", {}), "branchy": (BRANCHY, 16, "auto", {}),
          "resnet_like_s2": (resnet_like(2), 18, "minmax", {"unsigned_activations": True}),
          "branchy_unsigned": (BRANCHY, 16, "minmax", {"unsigned_activations": True})}


def vnni_cpu() -> bool:
    """Whether the AVX512-VNNI kernels (the tier with u8 codes) run here: on the CPU and under the cap."""
    return bool(int8rt.kernels.isa_info()["avx512vnni"]["enabled"])


def amx_cpu() -> bool:
    """Whether the AMX kernels run here (where every conv end of a tensor runs on AMX, it stays int8-coded)."""
    return bool(int8rt.kernels.isa_info()["amx"]["enabled"])


def _build(name: str) -> int8rt.Engine:
    onnx_bytes, size, algorithm, config = MODELS[name]
    calib = {"x": RNG.standard_normal((24, 3, size, size)).astype(F32)}
    cal = int8rt.make_calibrator(calib, algorithm=algorithm, batch_size=8)
    return int8rt.build_engine(onnx_bytes, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False, progress=False,
                                                                **config))


@pytest.fixture(scope="module", params=sorted(MODELS))
def built(request) -> tuple[str, bytes, int8rt.Engine]:
    engine = _build(request.param)
    return request.param, engine.serialize(), engine


def _reload(data: bytes, monkeypatch, **env: str) -> int8rt.Engine:
    """The engine's file loaded under these environment variables (layers and
    kernels are chosen at load)."""
    with monkeypatch.context() as m:  # the caller's values come back after
        for k, v in env.items():
            m.setenv(k, v)
        return int8rt.Engine.deserialize(data)


def _run(engine: int8rt.Engine, x: np.ndarray, threads: int = 1) -> np.ndarray:
    int8rt.set_num_threads(threads)
    try:
        return engine.create_execution_context().run({"x": x})["y"]
    finally:
        int8rt.set_num_threads(1)


def _details(engine: int8rt.Engine, op: str = "int8rt.QConv") -> list[str]:
    return [layer["detail"] for layer in engine.layers() if layer["op"] == op]


def test_auto_engine_holds_conv_to_conv_tensors_as_u8_codes(built, monkeypatch) -> None:
    name, data, engine = built
    if amx_cpu():  # the VNNI tier's rule (AMX keeps int8 codes where it runs every end: the test below)
        engine = _reload(data, monkeypatch, INT8RT_MAX_ISA="avx512vnni")
    details = _details(engine)
    if not vnni_cpu() and int8rt.get_max_isa() != "ref":
        assert not any(U8_IN in d or U8_RES in d or U8_OUT in d for d in details), details
        return
    counts = tuple(sum(tag in d for d in details) for tag in (U8_IN, U8_RES, U8_OUT))
    # (convs reading u8 codes as input, as residual, convs writing them). resnet_like: proj, a1 (both
    # read the max pool's u8 codes), a2, a3, b1, b2, b3 / proj (the residual), a3 (read by b1 and as b3's
    # residual) / proj, a1, a2, a3, b1, b2 (stem: read by the pool, which takes int8 codes; b3: read by
    # the global pool); branchy_unsigned: s, t (read by u and v), v, w (u and z: read
    # by Adds); branchy as branchy_unsigned where auto keeps the unsigned grid, else v alone (the
    # others are then non-negative on the symmetric grid: "(input >= 0)", no compensation to keep).
    unsigned = any("unsigned activations:" in line for line in engine.report())
    assert unsigned or name == "branchy", engine.report()
    expected = {"resnet_like": (7, 2, 6), "resnet_like_s2": (7, 2, 6), "branchy_unsigned": (5, 0, 4)}
    expected["branchy"] = expected["branchy_unsigned"] if unsigned else (1, 0, 1)
    assert counts == expected[name], details
    pools = _details(engine, "int8rt.QMaxPool")
    assert pools == ([pools[0].split(" (")[0] + " " + U8_OUT] if name.startswith("resnet") else []), pools


def test_amx_everywhere_keeps_int8_codes(monkeypatch) -> None:
    """A network whose convs all run on AMX holds every tensor as int8 codes
    (tdpbssd reads them as they are; no xor, no pool flip: RESULTS.md section
    212), the same bytes as the VNNI tier's engine that holds them as u8 codes
    and as the reference's."""
    if not amx_cpu():
        pytest.skip("needs AMX-INT8 (CPU, OS permission and cap)")
    cal = int8rt.make_calibrator({"x": RNG.standard_normal((16, 3, 18, 18)).astype(F32)}, algorithm="minmax",
                                 batch_size=8)
    engine = int8rt.build_engine(resnet_like(c=64, wide=128), int8rt.BuilderConfig(
        calibrator=cal, accuracy_check=False, progress=False, unsigned_activations=True))
    details = _details(engine)
    assert all("_amx" in d for d in details), details  # the premise: AMX runs every conv
    pools = _details(engine, "int8rt.QMaxPool")
    assert not any(U8_IN in d or U8_RES in d or U8_OUT in d for d in details + pools), details + pools
    vnni = _reload(engine.serialize(), monkeypatch, INT8RT_MAX_ISA="avx512vnni")
    assert sum(U8_IN in d for d in _details(vnni)) > 0, _details(vnni)  # that tier does hold u8 codes here
    x = RNG.standard_normal((3, 3, 18, 18)).astype(F32)
    got = _run(engine, x)
    np.testing.assert_array_equal(got, _run(vnni, x))
    np.testing.assert_array_equal(got, _run(_reload(engine.serialize(), monkeypatch, INT8RT_MAX_ISA="ref"), x))


@pytest.mark.parametrize("batch", [1, 5])
def test_same_bytes_as_int8_codes_and_the_reference(built, monkeypatch, batch) -> None:
    name, data, engine = built
    x = RNG.standard_normal((batch, 3, MODELS[name][1], MODELS[name][1])).astype(F32)
    got = _run(engine, x)
    s8 = _reload(data, monkeypatch, INT8RT_U8_CODES="0")
    assert not any(U8_IN in d or U8_RES in d or U8_OUT in d for d in _details(s8))
    np.testing.assert_array_equal(got, _run(s8, x))
    ref = _reload(data, monkeypatch, INT8RT_MAX_ISA="ref")
    assert all("ref" in d for d in _details(ref)), _details(ref)
    vnni = _reload(data, monkeypatch, INT8RT_MAX_ISA="avx512vnni") if amx_cpu() else engine  # AMX: fewer
    assert sum(U8_IN in d for d in _details(ref)) == sum(U8_IN in d for d in _details(vnni)) or not vnni_cpu()
    np.testing.assert_array_equal(got, _run(ref, x))
    ref_s8 = _reload(data, monkeypatch, INT8RT_MAX_ISA="ref", INT8RT_U8_CODES="0")
    np.testing.assert_array_equal(got, _run(ref_s8, x))


def test_two_threads_and_save_load(built, monkeypatch, tmp_path) -> None:
    name, data, engine = built
    x = RNG.standard_normal((6, 3, MODELS[name][1], MODELS[name][1])).astype(F32)
    got = _run(engine, x)
    np.testing.assert_array_equal(got, _run(engine, x, threads=2))
    path = tmp_path / "e.i8rt"
    engine.save(path)
    loaded = int8rt.Engine.load(path)
    assert _details(loaded) == _details(engine)
    np.testing.assert_array_equal(got, _run(loaded, x))
    np.testing.assert_array_equal(got, _run(loaded, x, threads=2))


def test_avx2_cap_keeps_int8_codes_and_the_bytes(built, monkeypatch) -> None:
    name, data, engine = built
    x = RNG.standard_normal((3, 3, MODELS[name][1], MODELS[name][1])).astype(F32)
    avx2 = _reload(data, monkeypatch, INT8RT_MAX_ISA="avx2")
    assert not any(U8_IN in d or U8_RES in d or U8_OUT in d for d in _details(avx2)), _details(avx2)
    np.testing.assert_array_equal(_run(engine, x), _run(avx2, x))
