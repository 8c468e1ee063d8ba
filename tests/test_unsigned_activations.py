"""Unsigned activations (``BuilderConfig(unsigned_activations=...)``,
csrc/engine/lower_int8_zero_points.cc, docs/numerics.md): a calibrated tensor
that is never negative and whose readers all take a zero point is held with
zero point -128 and scale threshold / 255; the others stay symmetric.

Exact where the arithmetic is: the unsigned scale is the C++ formula's, bit
for bit; optimized kernels equal the reference kernels (==); the calibration
cache is the same bytes with and without. Accuracy: with the same
thresholds (minmax), the engine with 256 levels on the non-negative tensors
is closer to float32 than the symmetric one (relative L2, strictly lower on
these data). The auto calibrator's decision is in the build report."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from onnx_models import resnet_block
from int8rt import _core

RNG = np.random.default_rng(5)
F32 = np.float32


def _model() -> bytes:
    """Conv+Relu (padded), Conv + residual Add + Relu (fused into the conv
    as its residual), MaxPool, 1x1 Conv+Relu, GlobalAveragePool, Flatten,
    Gemm: r1, r2 and p are read by layers with zero points (r2 through the
    max pool), r3 by the global pool (its float-table form), and the pool's
    output g, non-negative too, by the Gemm through the Flatten."""
    return resnet_block(RNG, relu_after_pointwise=True).SerializeToString()


MODEL = _model()
CALIB = {"x": RNG.standard_normal((32, 3, 12, 12)).astype(F32)}
X = RNG.standard_normal((16, 3, 12, 12)).astype(F32)


def _build(algorithm: str = "minmax", **config) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(CALIB, algorithm=algorithm, batch_size=8)
    return int8rt.build_engine(MODEL, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False, **config))


@pytest.fixture(scope="module")
def engines() -> tuple[int8rt.Engine, int8rt.Engine]:
    return _build(unsigned_activations=False), _build(unsigned_activations=True)


def _plan(engine: int8rt.Engine) -> dict[str, tuple[float, int]]:
    return {t.tensor: (t.scale, t.zero_point) for t in engine.int8_plan().tensors}


def test_non_negative_tensors_read_with_zero_points_are_unsigned(engines) -> None:
    symmetric, unsigned = engines
    sym, uns = _plan(symmetric), _plan(unsigned)
    assert all(z == 0 for _, z in sym.values()), sym
    for name in ("r1", "r2", "p", "r3", "g"):  # p: the max pool passes r2's form on
        assert uns[name] == (_core.unsigned_scale_from_scale(sym[name][0]), -128), (name, uns[name], sym[name])
    assert uns["p"] == uns["r2"]
    assert "x" not in uns or uns["x"][1] == 0  # may be negative
    assert any("unsigned activations: 4 non-negative" in line for line in unsigned.report()), unsigned.report()


def test_global_average_pool_takes_zero_points(engines) -> None:
    """The pool reads r3 (zero point -128) and writes g (zero point -128)
    through its table form: it averages s_r3 * (q - z_r3) + z_g * s_g over
    the positions in float, in position order, and rounds at g's scale
    (ref::global_avgpool_table_s8). Exact, from the int8 values the engine
    computed for r3."""
    from int8rt.accuracy.taps import int8_tap_engine

    _, unsigned = engines
    grid = _plan(unsigned)
    (s3, z3), (sg, zg) = grid["r3"], grid["g"]
    assert z3 == zg == -128
    tap, where = int8_tap_engine(unsigned._native.network(), {"r3": [len(X), 16, 6, 6], "g": [len(X), 16, 1, 1]})
    out = tap.create_execution_context().run({"x": X})
    r3, g = out[where["r3"]], out[where["g"]]
    q3 = np.rint(r3 / F32(s3)).astype(np.int32) + z3  # dequantized as (q - z) * s: exact in float32
    np.testing.assert_array_equal(((q3 - z3).astype(F32) * F32(s3)).astype(F32), r3)
    table = (F32(s3) * (np.arange(-128, 128) - z3).astype(F32) + F32(zg) * F32(sg)).astype(F32)
    values = table[q3 + 128].reshape(len(X), 16, 36)
    total = np.zeros((len(X), 16), F32)
    for i in range(36):  # the kernel's order
        total = (total + values[:, :, i]).astype(F32)
    want = np.clip(np.rint((total / F32(36)) * (F32(1) / F32(sg))), -128, 127).astype(np.int32)
    got = np.rint(g.reshape(len(X), 16) / F32(sg)).astype(np.int32) + zg
    np.testing.assert_array_equal(got, want)
    assert got.min() < -100 and got.max() > 0  # the unsigned grid's lower half is used (non-negative pool)


def test_unsigned_scale_formula() -> None:
    s = np.float32(0.0371)
    assert _core.unsigned_scale_from_scale(float(s)) == float(np.float32(np.float32(s * np.float32(127)) /
                                                                         np.float32(255)))
    assert _core.UNSIGNED_ZERO_POINT == -128


def _chain() -> bytes:
    """Conv+Relu (padded), depthwise Conv+Relu (padded), Conv + residual Add
    + Relu, MaxPool, 1x1 Conv+Relu as the output: every int8 tensor after
    the input is non-negative and read with zero points, and the output is
    an int8 tensor's dequantized value (exact arithmetic end to end)."""
    def w(*shape: int) -> np.ndarray:
        return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w1", w(8, 3, 3, 3)), ("b1", RNG.standard_normal(8).astype(F32) * 0.1),
        ("wd", w(8, 1, 3, 3)), ("bd", RNG.standard_normal(8).astype(F32) * 0.1),
        ("w2", w(8, 8, 3, 3)), ("b2", RNG.standard_normal(8).astype(F32) * 0.1),
        ("w3", w(16, 8, 1, 1)), ("b3", RNG.standard_normal(16).astype(F32) * 0.1)]]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "wd", "bd"], ["cd"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Relu", ["cd"], ["rd"]),
        helper.make_node("Conv", ["rd", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "rd"], ["a"]),
        helper.make_node("Relu", ["a"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p", "w3", "b3"], ["c3"]),
        helper.make_node("Relu", ["c3"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 16, 6, 6])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


CHAIN = _chain()


def test_optimized_kernels_equal_reference() -> None:
    def build() -> int8rt.Engine:
        calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=8)
        return int8rt.build_engine(CHAIN, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                               unsigned_activations=True))
    try:
        int8rt.set_max_isa("ref")
        reference = build()
        ref = reference.run({"x": X})["y"]
    finally:
        int8rt.set_max_isa(None)
    fast = build()
    assert sum(t.zero_point == -128 for t in fast.int8_plan().tensors) >= 5  # r1, rd, r2, p, y
    np.testing.assert_array_equal(fast.run({"x": X})["y"], ref)


def test_closer_to_float32_with_the_same_thresholds() -> None:
    """With the same (minmax) thresholds, the chain whose every tensor is
    unsigned is closer to float32 (on the small network of _model(), whose
    logits come through a symmetric global pool and a float Gemm, the two
    were within 2% of each other, either way: no claim made there)."""
    def build(unsigned: bool) -> int8rt.Engine:
        calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=8)
        return int8rt.build_engine(CHAIN, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                               unsigned_activations=unsigned))
    fp32 = int8rt.build_engine(CHAIN, int8rt.BuilderConfig(precision="fp32")).run({"x": X})["y"]
    errors = [np.linalg.norm(build(u).run({"x": X})["y"] - fp32) / np.linalg.norm(fp32) for u in (False, True)]
    assert errors[1] < errors[0], errors


def test_calibration_cache_is_the_symmetric_one(engines) -> None:
    symmetric, unsigned = engines
    assert unsigned.scales() == symmetric.scales()


def test_auto_decides_and_reports() -> None:
    """auto's decision is in the report, and the engine it returns is built that way."""
    auto = _build("auto")
    choice = auto.build_report().auto_choice
    kept = choice["unsigned_activations"].startswith("on (auto")
    assert kept or choice["unsigned_activations"] == "off (auto)", choice
    if kept:
        assert choice["errors"]["unsigned on"] < choice["errors"]["unsigned off"]
    assert any(t.zero_point == -128 for t in auto.int8_plan().tensors) is kept
    forced = _build("auto", unsigned_activations=False).build_report().auto_choice
    assert forced["unsigned_activations"] == "off (BuilderConfig)"


def test_fake_quantize_with_zero_point_matches_engine_grid() -> None:
    from int8rt.accuracy.metrics import fake_quantize

    x = np.array([0.0, 0.01, 0.5, 0.999, 1.0, 2.0, -0.3], F32)
    s = _core.unsigned_scale_from_scale(1.0 / 127)  # threshold 1 over 255 steps
    got = fake_quantize(x, s, -128)
    q = np.clip(np.rint(x / np.float32(s)) - 128, -128, 127)
    np.testing.assert_array_equal(got, ((q + 128) * np.float32(s)).astype(F32))
    assert got[-1] == 0 and got[-2] == np.float32(255 * np.float32(s))


def _concat_model() -> bytes:
    """Two Conv+Relu branches of different scales concatenated (c), a padded
    Conv+Relu reading the concat, and a second Concat (k) of that and a
    branch read by a Sigmoid (a table: of symmetric tensors only), then an
    AveragePool over the whole map: c is unsigned (ra requantized between
    unsigned forms; rb, read by c alone, written on c's grid:
    lower_int8_concat_grids.cc), k stays symmetric (its reader takes no zero
    point), ra unsigned (requantized to the symmetric output), rc (read by k
    alone) written on k's symmetric grid; a 1x1 Conv+Relu after the pool
    makes the output an int8 tensor's value."""
    def w(*shape: int) -> np.ndarray:
        return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("wa", w(4, 3, 3, 3)), ("ba", RNG.standard_normal(4).astype(F32)),
        ("wb", 3 * w(6, 3, 1, 1)), ("bb", RNG.standard_normal(6).astype(F32) * 0.1),
        ("wc", w(8, 10, 3, 3)), ("bc", RNG.standard_normal(8).astype(F32) * 0.1),
        ("wg", w(5, 12, 1, 1)), ("bg", RNG.standard_normal(5).astype(F32) * 0.1)]]
    nodes = [
        helper.make_node("Conv", ["x", "wa", "ba"], ["ca"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["ca"], ["ra"]),
        helper.make_node("Conv", ["x", "wb", "bb"], ["cb"]),
        helper.make_node("Relu", ["cb"], ["rb"]),
        helper.make_node("Concat", ["ra", "rb"], ["c"], axis=1),
        helper.make_node("Conv", ["c", "wc", "bc"], ["cc"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["cc"], ["rc"]),
        helper.make_node("Concat", ["rc", "ra"], ["k"], axis=1),
        helper.make_node("Sigmoid", ["k"], ["sk"]),
        helper.make_node("AveragePool", ["sk"], ["g"], kernel_shape=[12, 12]),
        helper.make_node("Conv", ["g", "wg", "bg"], ["cg"]),
        helper.make_node("Relu", ["cg"], ["y"]),  # int8, so the output compares exactly
    ]
    graph = helper.make_graph(nodes, "concat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5, 1, 1])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_concat_takes_zero_points(tmp_path) -> None:
    model = _concat_model()

    def build(unsigned: bool) -> int8rt.Engine:  # every tier's build at the first one's scales (its cache)
        calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=8,
                                            cache_file=str(tmp_path / "scales.cache"))
        return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                               unsigned_activations=unsigned))
    sym, uns = _plan(build(False)), _plan(build(True))
    for name in ("ra", "rb", "c"):
        assert uns[name] == (_core.unsigned_scale_from_scale(sym[name][0]), -128), (name, uns[name], sym[name])
    assert uns["rb"] == uns["c"] and sym["rb"] == sym["c"] and uns["ra"] != uns["c"]
    assert uns["k"] == sym["k"] == uns["rc"] == sym["rc"] and uns["k"][1] == 0
    assert any("kept symmetric" in line and "(Sigmoid)" in line for line in build(True).report())
    try:
        int8rt.set_max_isa("ref")
        ref = build(True).run({"x": X})["y"]
    finally:
        int8rt.set_max_isa(None)
    np.testing.assert_array_equal(build(True).run({"x": X})["y"], ref)
    assert [layer["op"] for layer in build(True).layers()].count("int8rt.QConcat") == 2  # both in int8


def _shuffle_model() -> bytes:
    """A ShuffleNet unit: Split of a Conv+Relu output, a Conv+Relu branch on
    one half, Concat with the other half, the channel shuffle (Reshape,
    Transpose, Reshape; lowered as one int8 transpose), a padded Conv+Relu
    on the result: the zero point travels through every byte mover."""
    def w(*shape: int) -> np.ndarray:
        return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w0", w(8, 3, 3, 3)), ("b0", RNG.standard_normal(8).astype(F32) * 0.1),
        ("w1", 2 * w(4, 4, 1, 1)), ("b1", RNG.standard_normal(4).astype(F32) * 0.1),
        ("w2", w(6, 8, 3, 3)), ("b2", RNG.standard_normal(6).astype(F32) * 0.1),
        ("split", np.array([4, 4], np.int64)), ("s5", np.array([0, 2, 4, 12, 12], np.int64)),
        ("s4", np.array([0, 8, 12, 12], np.int64))]]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Split", ["r0", "split"], ["h1", "h2"], axis=1),
        helper.make_node("Conv", ["h2", "w1", "b1"], ["c1"]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Concat", ["h1", "r1"], ["cat"], axis=1),
        helper.make_node("Reshape", ["cat", "s5"], ["g"]),
        helper.make_node("Transpose", ["g"], ["gt"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["gt", "s4"], ["shuffled"]),
        helper.make_node("Conv", ["shuffled", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "unit", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 6, 12, 12])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_zero_point_travels_through_split_concat_and_channel_shuffle() -> None:
    model = _shuffle_model()
    x = {"x": X[:8]}

    def build(unsigned: bool) -> int8rt.Engine:
        calibrator = int8rt.make_calibrator({"x": CALIB["x"]}, algorithm="minmax", batch_size=8)
        return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                               unsigned_activations=unsigned))
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).run(x)["y"]
    sym, uns = build(False), build(True)
    plan = _plan(uns)
    assert plan["shuffled"] == plan["cat"] and plan["cat"][1] == -128, plan
    assert plan["h1"] == plan["r0"] and plan["r0"][1] == -128, plan
    errors = [np.linalg.norm(e.run(x)["y"] - fp32) / np.linalg.norm(fp32) for e in (sym, uns)]
    assert errors[1] < errors[0] < 0.1, errors
    try:
        int8rt.set_max_isa("ref")
        ref = build(True).run(x)["y"]
    finally:
        int8rt.set_max_isa(None)
    np.testing.assert_array_equal(uns.run(x)["y"], ref)


def _avgpool_model(count_include_pad: int) -> bytes:
    """Conv+Relu (padded) r, AveragePool 3x3 stride 2 pads 1 p, 1x1
    Conv+Relu y: r and p are non-negative and read with zero points (the
    windowed pool takes both, QPoolAttrs' in / out zero points)."""
    def w(*shape: int) -> np.ndarray:
        return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w1", w(8, 3, 3, 3)), ("b1", RNG.standard_normal(8).astype(F32) * 0.1),
        ("w2", w(16, 8, 1, 1)), ("b2", RNG.standard_normal(16).astype(F32) * 0.1)]]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r"]),
        helper.make_node("AveragePool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         count_include_pad=count_include_pad),
        helper.make_node("Conv", ["p", "w2", "b2"], ["c2"]),
        helper.make_node("Relu", ["c2"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "avgpool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 16, 6, 6])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_takes_zero_points(count_include_pad: int, tmp_path) -> None:
    """The windowed pool reads r (zero point -128) and writes p (zero point
    -128): per window, the sum of (q - z_r) over the positions inside the
    input (padding stands for 0, not for code -128), times s_r / (s_p *
    count), plus z_p, rounded (ref::avgpool_s8; tests/np_kernels.py).
    Exact, from the int8 values the engine computed for r; and the reference
    tier gives the same engine output as the optimized one (the same scales:
    the first build's calibration cache, as each tier's float32 calibration
    pass may round a maximum differently)."""
    from int8rt.accuracy.taps import int8_tap_engine

    import np_kernels as npk

    model = _avgpool_model(count_include_pad)

    def build() -> int8rt.Engine:
        calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=8,
                                            cache_file=str(tmp_path / "scales.cache"))
        return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                               unsigned_activations=True))
    engine = build()
    grid = _plan(engine)
    (sr, zr), (sp, zp) = grid["r"], grid["p"]
    assert zr == zp == -128
    tap, where = int8_tap_engine(engine._native.network(), {"r": [len(X), 8, 12, 12], "p": [len(X), 8, 6, 6]})
    out = tap.create_execution_context().run({"x": X})
    qr = np.rint(out[where["r"]] / F32(sr)).astype(np.int32) + zr
    qp = np.rint(out[where["p"]] / F32(sp)).astype(np.int32) + zp
    want = npk.avgpool_s8(qr.astype(np.int8).transpose(0, 2, 3, 1), (3, 3), (2, 2), (1, 1, 1, 1),
                          bool(count_include_pad), sr, sp, zr, zp)
    np.testing.assert_array_equal(qp, want.transpose(0, 3, 1, 2).astype(np.int32))
    assert qp.min() < -100 and qp.max() > 0  # the unsigned grid's lower half is used
    try:
        int8rt.set_max_isa("ref")
        reference = build().run({"x": X})["y"]
    finally:
        int8rt.set_max_isa(None)
    np.testing.assert_array_equal(engine.run({"x": X})["y"], reference)
