"""A BF16 channel-blocked stem reading the float32 image on AVX512-BF16
(kernels/x86/avx512bf16/conv_stem_f32_bf16.cc, RESULTS.md section 268): the
region's entry conversion (int8rt.ToBf16x16c) of a 3-channel image read
only by tap-row stems is dropped, as on AMX (engine/bf16_blocked.h), and
each stem call converts the rows it reads with the entry's conversion.

A MobileNet-style 3x3 / 2 stem sums in the reference's order, so the engine
gives the bytes of the same engine file loaded on the reference kernels
(where the layer converts the image first, as the entry did): batch 1 / 3,
1 and 2 threads, a plane small enough to stay out of the image chain and
one large enough to start it (the stem then runs per image inside the
chain), a stem of 16 and of 20 output channels. ResNet's 7x7 / 2 stem (the
row-pair order, bounded) within BF16's error of the FP32 engine; the
kernel's own bits against the converted image: tests/cpp/
test_nchw16c_bf16_avx512bf16.cc (BlockedStemFromTheFloatImage...).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (the autouse fixture)

F32 = np.float32
DROPPED = "bf16 channel-blocked: 1 entry conversion(s) dropped, the stems read the float32 image"


def _stem_model(k: int, stem: int, hw: tuple) -> bytes:
    """x [N, 3, *hw] -> k x k / 2 conv 3 -> stem + Relu -> 1x1 stem -> 32 + Relu -> depthwise 3x3 32 + Clip
    -> 1x1 32 -> 24 + Relu -> 1x1 24 -> 16 = y."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(k * 100 + stem)
    inits, nodes = [], []

    def conv(x, y, c_in, c_out, kk, s=1, group=1, act="Relu"):
        w = (rng.standard_normal((c_out, c_in // group, kk, kk)) * (1.5 / np.sqrt(c_in // group * kk * kk)))
        inits.append(numpy_helper.from_array(w.astype(F32), f"w_{y}"))
        inits.append(numpy_helper.from_array((rng.standard_normal(c_out) * 0.2).astype(F32), f"b_{y}"))
        out = f"{y}_c" if act else y
        nodes.append(helper.make_node("Conv", [x, f"w_{y}", f"b_{y}"], [out], kernel_shape=[kk, kk],
                                      strides=[s, s], pads=[kk // 2] * 4, group=group))
        if act == "Clip":
            nodes.append(helper.make_node("Clip", [out, "lo", "hi"], [y]))
        elif act:
            nodes.append(helper.make_node(act, [out], [y]))

    inits += [numpy_helper.from_array(np.array(0.0, F32), "lo"), numpy_helper.from_array(np.array(6.0, F32), "hi")]
    conv("x", "s", 3, stem, k, 2)
    conv("s", "e", stem, 32, 1)
    conv("e", "d", 32, 32, 3, group=32, act="Clip")
    conv("d", "p", 32, 24, 1)
    conv("p", "y", 24, 16, 1, act=None)
    oh, ow = (hw[0] + 1) // 2, (hw[1] + 1) // 2
    graph = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, *hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 16, oh, ow])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _build(path, bf16: bool = True) -> int8rt.Engine:
    return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=bf16))


def _native_blocked(engine: int8rt.Engine) -> bool:
    """Whether a layer outside an image chain names the AVX512-BF16 channel-blocked kernel."""
    return any("nchw16c_bf16_avx512bf16" in la["detail"] for la in engine.layers())


def _skip_without_avx512bf16() -> None:
    if not int8rt.kernels.cpu_features()["avx512_bf16"]:
        pytest.skip("the AVX512-BF16 channel-blocked kernel does not run here")


@pytest.fixture
def threads_back():
    yield
    int8rt.set_num_threads(1)


@pytest.mark.parametrize("stem", [16, 20])
@pytest.mark.parametrize("hw", [(41, 45), (64, 70)], ids=["unchained", "chained"])
def test_the_3x3_stem_reads_the_image_with_the_entrys_bits(tmp_path, threads_back, hw, stem) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "stem.onnx"
    path.write_bytes(_stem_model(3, stem, hw))
    _skip_without_avx512bf16()
    engine = _build(path)
    assert DROPPED in engine.report(), engine.report()
    ops = [la["op"] for la in engine.layers()]
    assert "int8rt.ToBf16x16c" not in ops, ops
    chained = hw[0] >= 56
    assert ("int8rt.Bf16ImageChain" in ops) == chained and _native_blocked(engine) != chained, ops
    saved = tmp_path / "stem.i8rt"
    engine.save(str(saved))
    loaded = int8rt.Engine.load(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        assert chained or "nchw16c_bf16_ref" in str(ref.layers()), ref.layers()
        x = np.random.default_rng(stem).standard_normal((3, 3, *hw)).astype(F32)
        x[0, :, :5] = 0.0  # zero rows (and -0 below): the conversion keeps the sign
        x[1, 1, 7] = -0.0
        want = ref.run({"x": x})["y"]
    assert np.isfinite(want).all() and np.abs(want).max() > 0
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        for e, what in ((engine, "built"), (loaded, "loaded")):
            for batch in (1, 3):
                got = e.run({"x": x[:batch]})["y"]
                bad = np.argwhere(got.view(np.uint32) != want[:batch].view(np.uint32))
                assert bad.size == 0, f"{what} batch {batch} threads {threads}: first at {bad[0]}"


def test_the_7x7_stem_reads_the_image_within_bf16s_error(tmp_path) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "stem7.onnx"
    path.write_bytes(_stem_model(7, 32, (58, 62)))
    _skip_without_avx512bf16()
    engine = _build(path)
    assert DROPPED in engine.report(), engine.report()
    x = np.random.default_rng(7).standard_normal((2, 3, 58, 62)).astype(F32)
    fp32 = _build(path, bf16=False).run({"x": x})["y"].astype(np.float64)
    got = engine.run({"x": x})["y"].astype(np.float64)
    # BF16 operands (2^-8 relative each) through five convs: the AMX stem test's bound
    assert np.linalg.norm(got - fp32) <= 2e-2 * np.linalg.norm(fp32)
