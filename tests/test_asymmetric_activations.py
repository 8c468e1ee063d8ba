"""Asymmetric activations (``BuilderConfig(asymmetric_activations=True)``,
csrc/engine/lower_int8_zero_points.cc, docs/numerics.md): a table's output
whose least value lo lies in (-threshold, 0) (SiLU, GELU, HardSwish) is held
over [lo, threshold] with scale (threshold - lo) / 255 and the integer zero
point that maps lo to -128, where every reader takes a zero point.

Exact where the arithmetic is, against NumPy models written from the
formulas in the C++ comments (requant_params.h's apply_zero_points,
make_add_params, ref/concat_s8.cc, lut_region.h), fed with the int8 codes
the engine computed (taps): the table, a padded 3x3 conv (its padding is the
zero point), a 1x1 conv, an Add, a Concat and a Gemm reading a GELU output.
Dropping a zero point in any of those readers, or padding with 0, changes
their codes and fails the matching test. The reference tier equals the
optimized one (==). A float reader keeps its input symmetric. The SiLU
tensor's SQNR gains at least 20 log10 of the step ratio minus 1 dB."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from int8rt import _core

RNG = np.random.default_rng(12)
F32 = np.float32
SHAPES = {"c1": [16, 8, 10, 10], "s": [16, 8, 10, 10], "p": [16, 8, 10, 10], "q": [16, 8, 10, 10],
          "a": [16, 8, 10, 10], "k": [16, 16, 10, 10], "gm": [16, 16], "ge": [16, 16], "o": [16, 5]}


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)


WEIGHTS = {"w1": _w(8, 3, 3, 3), "b1": RNG.standard_normal(8).astype(F32) * 0.3,
           "w2": _w(8, 8, 3, 3), "b2": RNG.standard_normal(8).astype(F32) * 0.1,
           "w3": _w(8, 8, 1, 1), "b3": RNG.standard_normal(8).astype(F32) * 0.1,
           "wg": _w(16, 8), "bg": RNG.standard_normal(16).astype(F32) * 0.1,
           "wo": _w(5, 16), "bo": RNG.standard_normal(5).astype(F32) * 0.1,
           "w4": _w(4, 16, 1, 1), "b4": RNG.standard_normal(4).astype(F32) * 0.1}


def _model() -> bytes:
    """c1 = Conv(x) (padded); s = SiLU(c1) as c1 * Sigmoid(c1), read by a
    padded 3x3 Conv (p; a 1x1 MaxPool also reads it, so it stays int8: a
    Conv whose output is only a network output writes float32, lower_int8_conv_head.cc),
    a 1x1 Conv (q), an Add (a = s + q) and a Concat
    (k = [s, q], read by a 1x1 Conv); HardSwish(q) read by a ReduceMax (a float reader: stays
    symmetric); gm = Gemm(Flatten(GlobalAveragePool(c1))), its erf-GELU ge
    read by a Gemm (o, a network output: float32 out)."""
    consts = {"sqrt2": np.array(np.sqrt(2.0), F32), "one": np.array(1.0, F32), "half": np.array(0.5, F32)}
    inits = [numpy_helper.from_array(a, n) for n, a in {**WEIGHTS, **consts}.items()]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c1"], ["sg"]),
        helper.make_node("Mul", ["c1", "sg"], ["s"]),
        helper.make_node("Conv", ["s", "w2", "b2"], ["p"], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["p"], ["pm"], kernel_shape=[1, 1]),
        helper.make_node("Conv", ["s", "w3", "b3"], ["q"]),
        helper.make_node("Add", ["s", "q"], ["a"]),
        helper.make_node("Concat", ["s", "q"], ["k"], axis=1),
        helper.make_node("Conv", ["k", "w4", "b4"], ["kc"]),
        helper.make_node("HardSwish", ["q"], ["hs"]),
        helper.make_node("ReduceMax", ["hs"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("GlobalAveragePool", ["c1"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["f"]),
        helper.make_node("Gemm", ["f", "wg", "bg"], ["gm"], transB=1),
        helper.make_node("Div", ["gm", "sqrt2"], ["gd"]),
        helper.make_node("Erf", ["gd"], ["ge_erf"]),
        helper.make_node("Add", ["ge_erf", "one"], ["ge_1"]),
        helper.make_node("Mul", ["gm", "ge_1"], ["ge_m"]),
        helper.make_node("Mul", ["ge_m", "half"], ["ge"]),
        helper.make_node("Gemm", ["ge", "wo", "bo"], ["o"], transB=1),
    ]
    dims = {"p": ["n", 8, 10, 10], "pm": ["n", 8, 10, 10], "a": ["n", 8, 10, 10], "kc": ["n", 4, 10, 10], "m": ["n", 8], "o": ["n", 5]}
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in dims.items()]
    graph = helper.make_graph(nodes, "asym", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 10, 10])],
                              outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


MODEL = _model()
CALIB = {"x": RNG.standard_normal((32, 3, 10, 10)).astype(F32)}
X = RNG.standard_normal((16, 3, 10, 10)).astype(F32)


def _build(asymmetric: bool, cache: str) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(CALIB, algorithm="minmax", batch_size=8, cache_file=cache)
    return int8rt.build_engine(MODEL, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                           asymmetric_activations=asymmetric))


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> tuple[int8rt.Engine, int8rt.Engine]:
    cache = str(tmp_path_factory.mktemp("asym") / "scales.cache")  # both builds at the same scales
    return _build(False, cache), _build(True, cache)


def _plan(engine: int8rt.Engine) -> dict[str, tuple[float, int]]:
    return {t.tensor: (t.scale, t.zero_point) for t in engine.int8_plan().tensors}


@pytest.fixture(scope="module")
def codes(engines) -> dict[str, np.ndarray]:
    """Each int8 tensor's codes (NCHW) as the asymmetric engine computed them."""
    from int8rt.accuracy.taps import int8_tap_engine

    engine = engines[1]
    plan = _plan(engine)
    tap, where = int8_tap_engine(engine._native.network(), SHAPES, [n for n in SHAPES if n in plan])
    out = tap.create_execution_context().run({"x": X})
    got = {}
    for name, at in where.items():
        s, z = plan[name]
        centred = np.rint(out[at] / F32(s))
        np.testing.assert_array_equal((centred.astype(F32) * F32(s)).astype(F32), out[at])  # exact codes
        got[name] = centred.astype(np.int64) + z
    return got


def _region_values(ops: list[tuple[str, list[str]]], s_x: float, consts: dict[str, np.ndarray]) -> np.ndarray:
    """The float32 engine's values of an element-wise chain on the 256 int8
    levels (i - 128) * s_x: what compute_region_values runs."""
    inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    nodes = [helper.make_node(op, ins, [f"t{i}"]) for i, (op, ins) in enumerate(ops)]
    graph = helper.make_graph(nodes, "r", [helper.make_tensor_value_info("v", TensorProto.FLOAT, [256])],
                              [helper.make_tensor_value_info(f"t{len(ops) - 1}", TensorProto.FLOAT, [256])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    levels = (np.arange(-128, 128).astype(F32) * F32(s_x)).astype(F32)
    return int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).run({"v": levels})[f"t{len(ops) - 1}"]


SILU = [("Sigmoid", ["v"]), ("Mul", ["v", "t0"])]
GELU = [("Div", ["v", "sqrt2"]), ("Erf", ["t0"]), ("Add", ["t1", "one"]), ("Mul", ["v", "t2"]), ("Mul", ["t3", "half"])]
GELU_CONSTS = {"sqrt2": np.array(np.sqrt(2.0), F32), "one": np.array(1.0, F32), "half": np.array(0.5, F32)}


def test_grid_rule() -> None:
    """lo rounded down to a multiple of T / 1024, then (T - lo) / 255 and
    -128 - rne(lo / scale), float32; lo = 0 is the unsigned grid; lo <= -T refused."""
    s = F32(3.0) / F32(127)
    lo = F32(-0.2784645)
    scale, zero = _core.lower_bounded_grid(float(s), float(lo))
    amax = F32(s * F32(127))
    unit = F32(amax / F32(1024))
    snapped = -F32(np.ceil(F32(-lo / unit)) * unit)
    assert snapped <= lo < snapped + unit
    want = F32(F32(amax - snapped) / F32(255))
    assert scale == float(want)
    assert zero == -128 - int(np.rint(F32(snapped / want)))
    assert (zero - (-128)) * scale == pytest.approx(-float(lo), abs=scale / 2 + float(unit))  # lo near code -128
    assert _core.lower_bounded_grid(float(s), 0.0) == (_core.unsigned_scale_from_scale(float(s)), -128)
    assert _core.lower_bounded_grid(float(s), -3.0) is None and _core.lower_bounded_grid(float(s), 0.1) is None
    # an ulp of difference in lo (float layers of two ISA tiers) gives the same grid
    assert _core.lower_bounded_grid(float(s), float(np.nextafter(lo, F32(0)))) == (scale, zero)


def test_which_tensors(engines) -> None:
    symmetric, asym = engines
    sym, plan = _plan(symmetric), _plan(asym)
    assert all(z == 0 for _, z in sym.values()), sym
    for name, ops, consts in (("s", SILU, {}), ("ge", GELU, GELU_CONSTS)):
        source = {"s": "c1", "ge": "gm"}[name]
        lo = float(_region_values(ops, plan[source][0], consts).min())
        assert lo < 0
        assert plan[name] == _core.lower_bounded_grid(sym[name][0], lo), (name, plan[name], lo)
        assert -128 < plan[name][1] < 0
    assert plan["c1"][1] == plan["q"][1] == plan["gm"][1] == 0
    assert "hs" not in plan or plan["hs"][1] == 0  # read by a float ReduceMax: symmetric
    assert asym.scales() == symmetric.scales()  # the calibration cache is the symmetric one
    assert any("asymmetric activations: 2 table output(s)" in line for line in asym.report()), asym.report()


def test_table_is_built_for_the_output_grid(engines, codes) -> None:
    plan = _plan(engines[1])
    (s_c1, _), (s_s, z_s) = plan["c1"], plan["s"]
    values = _region_values(SILU, s_c1, {})
    table = np.clip(np.rint(values * (F32(1) / F32(s_s)) + F32(z_s)), -128, 127).astype(np.int64)
    np.testing.assert_array_equal(codes["s"], table[codes["c1"] + 128])
    assert codes["s"].min() == -128 or table.min() == -128  # lo maps to -128


def _weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """quant::quantize_weights_per_channel: s_k = amax_k / 127, q = clip(rne(w / s_k), -127, 127)."""
    rows = w.reshape(len(w), -1)
    s = (np.abs(rows).max(1).astype(F32) / F32(127)).astype(F32)
    return np.clip(np.rint(rows / s[:, None]), -127, 127).astype(np.int64).reshape(w.shape), s


def _epilogue(acc: np.ndarray, w_sum: np.ndarray, s_w: np.ndarray, bias: np.ndarray, s_in: float, z_in: int,
              s_out: float, z_out: int) -> np.ndarray:
    """make_epilogue + apply_zero_points (int8 out, no activation), channels last:
    scale = (s_in * s_w) / s_out; bias = (b - (float)(z_in * w_sum) * (s_in * s_w)) / s_out + z_out;
    q = rne(clamp(acc * scale + bias, -128, 127))."""
    scale = (F32(s_in) * s_w).astype(F32) / F32(s_out)
    corr = ((z_in * w_sum).astype(F32) * (F32(s_in) * s_w).astype(F32)).astype(F32)
    b = ((bias - corr).astype(F32) / F32(s_out) + F32(z_out)).astype(F32)
    t = (acc.astype(F32) * scale + b).astype(F32)
    return np.rint(np.clip(t, -128, 127)).astype(np.int64)


def _conv(x: np.ndarray, name: str, pad: int, z_in: int) -> np.ndarray:
    """int64 accumulators NCHW -> NHWC of the int8 conv: the input padded with its zero point."""
    wq, _ = _weights(WEIGHTS[name])
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=z_in)
    n, _, h, w = x.shape
    acc = np.zeros((n, h, w, len(wq)), np.int64)
    r = wq.shape[2]
    for i in range(r):
        for j in range(r):
            acc += np.einsum("nchw,kc->nhwk", xp[:, :, i:i + h, j:j + w], wq[:, :, i, j])
    return acc


@pytest.mark.parametrize("reader,weight,bias,pad", [("p", "w2", "b2", 1), ("q", "w3", "b3", 0)])
def test_convs_take_the_zero_point(engines, codes, reader: str, weight: str, bias: str, pad: int) -> None:
    plan = _plan(engines[1])
    (s_in, z_in), (s_out, z_out) = plan["s"], plan[reader]
    wq, s_w = _weights(WEIGHTS[weight])
    acc = _conv(codes["s"], weight, pad, z_in)
    want = _epilogue(acc, wq.reshape(len(wq), -1).sum(1), s_w, WEIGHTS[bias], s_in, z_in, s_out, z_out)
    np.testing.assert_array_equal(codes[reader], want.transpose(0, 3, 1, 2))
    if pad:  # the border reads padding: padded with 0 instead of z_in, the model differs
        zero_padded = _epilogue(_conv(codes["s"], weight, pad, 0), wq.reshape(len(wq), -1).sum(1), s_w,
                                WEIGHTS[bias], s_in, z_in, s_out, z_out)
        assert (zero_padded != want).any()


def test_add_takes_the_zero_point(engines, codes) -> None:
    """make_add_params: t = a * (s_a / s_y) + b * (s_b / s_y) + ((z_y - z_a m_a) - z_b m_b); rne, clamp."""
    plan = _plan(engines[1])
    (s_a, z_a), (s_b, z_b), (s_y, z_y) = plan["s"], plan["q"], plan["a"]
    am, bm = F32(s_a) / F32(s_y), F32(s_b) / F32(s_y)
    offset = F32(F32(z_y) - F32(z_a) * am) - F32(z_b) * bm
    t = ((codes["s"].astype(F32) * am + codes["q"].astype(F32) * bm).astype(F32) + offset).astype(F32)
    np.testing.assert_array_equal(codes["a"], np.rint(np.clip(t, -128, 127)).astype(np.int64))


def test_concat_takes_the_zero_point(engines, codes) -> None:
    """ref/concat_s8.cc: y = rne(clamp((float)(x - z_i) * (s_i / s_y) + z_y, -128, 127))."""
    plan = _plan(engines[1])
    s_y, z_y = plan["k"]
    parts = []
    for name in ("s", "q"):
        s_i, z_i = plan[name]
        t = ((codes[name] - z_i).astype(F32) * (F32(s_i) / F32(s_y)) + F32(z_y)).astype(F32)
        parts.append(np.rint(np.clip(t, -128, 127)).astype(np.int64))
    np.testing.assert_array_equal(codes["k"], np.concatenate(parts, axis=1))


def test_gemm_takes_the_zero_point(engines, codes) -> None:
    """o is a network output: the Gemm writes float32, make_epilogue's float
    form with apply_zero_points: acc * (s_in * s_w) + (b - (float)(z_in * w_sum) * (s_in * s_w))."""
    plan = _plan(engines[1])
    s_in, z_in = plan["ge"]
    assert "o" not in plan
    wq, s_w = _weights(WEIGHTS["wo"])
    acc = codes["ge"] @ wq.T
    scale = (F32(s_in) * s_w).astype(F32)
    bias = (WEIGHTS["bo"] - ((z_in * wq.sum(1)).astype(F32) * scale).astype(F32)).astype(F32)
    want = (acc.astype(F32) * scale + bias).astype(F32)
    np.testing.assert_array_equal(engines[1].run({"x": X})["o"], want)
    values = _region_values(GELU, plan["gm"][0], GELU_CONSTS)  # and the GELU table
    table = np.clip(np.rint(values * (F32(1) / F32(s_in)) + F32(z_in)), -128, 127).astype(np.int64)
    np.testing.assert_array_equal(codes["ge"], table[codes["gm"] + 128])


def test_optimized_kernels_equal_reference(tmp_path) -> None:
    cache = str(tmp_path / "scales.cache")
    fast = _build(True, cache).run({"x": X})
    try:
        int8rt.set_max_isa("ref")
        ref = _build(True, cache).run({"x": X})
    finally:
        int8rt.set_max_isa(None)
    for name in ("p", "a", "kc", "m", "o"):
        np.testing.assert_array_equal(fast[name], ref[name], err_msg=name)


def test_silu_sqnr_gains(engines, codes) -> None:
    """The SiLU tensor's error against its float values on the same int8
    input (the table's values): the step shrinks from T / 127 to
    (T - lo) / 255, so its SQNR gains 20 log10 of that ratio (5.2 dB here)
    within 1 dB (rounding error is uniform over a step either way)."""
    from int8rt.accuracy.taps import int8_tap_engine

    symmetric, asym = engines
    sym, plan = _plan(symmetric), _plan(asym)
    values = _region_values(SILU, plan["c1"][0], {})
    exact = values[codes["c1"] + 128]
    tap, where = int8_tap_engine(symmetric._native.network(), SHAPES, ["s"])
    sym_s = tap.create_execution_context().run({"x": X})[where["s"]]
    asym_s = ((codes["s"] - plan["s"][1]).astype(F32) * F32(plan["s"][0])).astype(F32)

    def sqnr(q: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(exact.astype(np.float64) ** 2) / np.sum((q - exact).astype(np.float64) ** 2)))
    gain = sqnr(asym_s) - sqnr(sym_s)
    expected = 20 * np.log10(sym["s"][0] / plan["s"][0])
    assert expected > 4.0 and gain > expected - 1.0, (gain, expected)


@pytest.mark.parametrize("case_index", [0, 1])
def test_fused_inverted_residual_with_lower_bounded_tables(tmp_path, case_index: int) -> None:
    """MobileNetV3's HardSwish blocks run fused band by band
    (csrc/engine/inverted_residual.h) with both tables' outputs held over
    [lo, T]: the depthwise pads its band rows with the zero point. Equal
    (==) to the same layers run one by one (test_inverted_residual.py's
    reference: the same lowered network with the block's tensors tapped)."""
    from test_inverted_residual import CASES, engines

    case = [c for c in CASES if c.act == "hardswish"][case_index]
    fused, reference, x = engines(tmp_path, case)  # per-tensor grids, asymmetric_activations on (the default)
    plan = _plan(fused)  # the reference is a copy of its lowered network
    assert -128 < plan["t"][1] < 0 and -128 < plan["u"][1] < 0, plan  # both HardSwish outputs
    assert plan["c2"][1] != 0, plan  # the depthwise's output, read by HardSwish alone: [-3, T]
    ms = [layer["ms"] for layer in fused.create_execution_context().profile({"x": x}, 1)
          if layer["op"] in ("int8rt.QConv", "int8rt.QLut")]
    assert ms[0] > 0 and ms[1:case.fused_nodes] == [0.0] * (case.fused_nodes - 1), ms  # ran fused
    np.testing.assert_array_equal(fused.run({"x": x})["y"], reference.run({"x": x})["y"])
