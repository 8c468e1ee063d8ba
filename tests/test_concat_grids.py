"""Concat inputs written on the Concat's grid (csrc/engine/lower_int8_concat_grids.cc)
and averaging pools whose output only leaves the network kept float32
(lower_int8_spatial.cc, Lowerer::leaves_as_float_only).

An inception-like model: three Conv branches of different ranges, each read
only by one Concat, then a 1x1 Conv. Each branch's Conv writes at the Concat
output's scale (and zero point, with unsigned activations), the QConcat copies
the bytes: its codes equal the concatenated branch codes (==), and each
branch's codes equal the Conv epilogue at the Concat's scale computed in NumPy
from the engine's input codes (==, requant formula of
test_asymmetric_activations._epilogue). The error bound: every Concat value is
within half a step (plus float32 slack) of the exact convolution of those
int8 inputs (one rounding); the double rounding the lowering did before
(each branch at its own scale, then requantized by ref/concat_s8.cc's
formula) is not (its largest error over half a step, its RMS error at least
10% higher on this data). A branch read by a second layer keeps its own
scale. A GlobalAveragePool feeding only the network output (through a
Flatten) is a float32 layer, so the logits are not rounded to int8."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
from test_asymmetric_activations import _epilogue, _weights

RNG = np.random.default_rng(31)
F32 = np.float32
C_IN, HW = 6, 9


def _w(*shape: int, gain: float) -> np.ndarray:
    return (RNG.standard_normal(shape) * gain * (2.0 / np.prod(shape[1:])) ** 0.5).astype(F32)


# Branch ranges about 2 : 2.7 : 1.6 : 1.5: b sets the Concat's (minmax) threshold, a and c are finer
# (the second rounding adds most where a branch's step is near the Concat's: RMS x sqrt(1 + ratio^2)).
WEIGHTS = {"wa": _w(5, C_IN, 1, 1, gain=2.0), "ba": (RNG.standard_normal(5) * 0.1).astype(F32),
           "wb": _w(7, C_IN, 1, 1, gain=2.7), "bb": (RNG.standard_normal(7) * 0.1).astype(F32),
           "wc": _w(4, C_IN, 1, 1, gain=1.6), "bc": (RNG.standard_normal(4) * 0.1).astype(F32),
           "wd": _w(4, C_IN, 1, 1, gain=1.5), "bd": (RNG.standard_normal(4) * 0.1).astype(F32),
           "wk": _w(8, 20, 1, 1, gain=1.0), "bk": (RNG.standard_normal(8) * 0.1).astype(F32)}
SHAPES = {"a": [16, 5, HW, HW], "b": [16, 7, HW, HW], "c": [16, 4, HW, HW], "d": [16, 4, HW, HW],
          "k": [16, 20, HW, HW], "kc": [16, 8, HW, HW], "x": [16, C_IN, HW, HW]}
AT = {"a": slice(0, 5), "b": slice(5, 12), "c": slice(12, 16)}  # their channels of k


def _model(relu: bool) -> bytes:
    """a, b, c, d = Conv(x) (1x1, each through a Relu when `relu`), k =
    Concat(a, b, c, d), kc = Conv(k); d is also read by a ReduceMax (float32,
    output m), so it keeps its own grid; GlobalAveragePool(kc) -> Flatten is
    the output g."""
    nodes = []
    for name in "abcd":
        conv_out = f"{name}_pre" if relu else name
        nodes.append(helper.make_node("Conv", ["x", f"w{name}", f"b{name}"], [conv_out]))
        if relu:
            nodes.append(helper.make_node("Relu", [conv_out], [name]))
    nodes += [helper.make_node("Concat", ["a", "b", "c", "d"], ["k"], axis=1),
              helper.make_node("Conv", ["k", "wk", "bk"], ["kc"]),
              helper.make_node("ReduceMax", ["d"], ["m"], axes=[2, 3], keepdims=0),
              helper.make_node("GlobalAveragePool", ["kc"], ["gp"]),
              helper.make_node("Flatten", ["gp"], ["g"])]
    dims = {"m": ["n", 4], "g": ["n", 8]}
    graph = helper.make_graph(nodes, "concat_grids",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", C_IN, HW, HW])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in dims.items()],
                              [numpy_helper.from_array(a, n) for n, a in WEIGHTS.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


X = RNG.standard_normal((16, C_IN, HW, HW)).astype(F32)  # calibrated on X itself: minmax clips nothing


def _build(relu: bool) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator({"x": X}, algorithm="minmax", batch_size=8)
    return int8rt.build_engine(_model(relu), int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                                  unsigned_activations=relu))


@pytest.fixture(scope="module", params=[False, True], ids=["symmetric", "unsigned"])
def built(request) -> tuple[bool, int8rt.Engine, dict[str, tuple[float, int]], dict[str, np.ndarray]]:
    """(relu, engine, plan, each int8 tensor's codes on X)."""
    from int8rt.accuracy.taps import int8_tap_engine

    relu = request.param
    engine = _build(relu)
    plan = {t.tensor: (t.scale, t.zero_point) for t in engine.int8_plan().tensors}
    tap, where = int8_tap_engine(engine._native.network(), SHAPES, [n for n in SHAPES if n in plan])
    out = tap.create_execution_context().run({"x": X})
    codes = {}
    for name, at in where.items():
        s, z = plan[name]
        centred = np.rint(out[at] / F32(s))
        np.testing.assert_array_equal((centred.astype(F32) * F32(s)).astype(F32), out[at])  # exact codes
        codes[name] = centred.astype(np.int64) + z
    return relu, engine, plan, codes


def _acc(codes_x: np.ndarray, name: str) -> np.ndarray:
    """int64 accumulators of the 1x1 conv `name`, NCHW."""
    wq, _ = _weights(WEIGHTS[f"w{name}"])
    return np.einsum("nchw,kc->nkhw", codes_x, wq[:, :, 0, 0])


def test_branches_take_the_concat_grid(built) -> None:
    relu, engine, plan, codes = built
    assert plan["a"] == plan["b"] == plan["c"] == plan["k"]
    assert plan["d"] != plan["k"]  # d is read by a ReduceMax too: its own grid, requantized by the QConcat
    assert plan["k"][1] == (-128 if relu else 0)
    scales = engine.scales()  # the calibrated thresholds stay each tensor's own (the cache)
    assert scales["a"] < scales["k"] and scales["c"] < scales["k"] and scales["b"] == scales["k"]
    assert any("concat grids: 2 Concat input(s)" in line for line in engine.report()), engine.report()


def test_concat_copies_the_branch_codes(built) -> None:
    """ref/concat_s8.cc: a, b and c at the output's scale and zero point are copied; d is requantized:
    rne(clamp((d - z_d) * (s_d / s_k) + z_k, -128, 127))."""
    _, _, plan, codes = built
    (s_d, z_d), (s_k, z_k) = plan["d"], plan["k"]
    t = ((codes["d"] - z_d).astype(F32) * (F32(s_d) / F32(s_k)) + F32(z_k)).astype(F32)
    np.testing.assert_array_equal(codes["k"], np.concatenate(
        [codes["a"], codes["b"], codes["c"], np.rint(np.clip(t, -128, 127)).astype(np.int64)], axis=1))


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_branch_epilogue_at_the_concat_scale(built, name: str) -> None:
    """make_epilogue + apply_zero_points at the Concat's (s_k, z_k); a Relu clamps at z_k (0.0's code)."""
    relu, _, plan, codes = built
    (s_x, z_x), (s_k, z_k) = plan["x"], plan["k"]
    wq, s_w = _weights(WEIGHTS[f"w{name}"])
    want = _epilogue(_acc(codes["x"], name).transpose(0, 2, 3, 1), wq.reshape(len(wq), -1).sum(1), s_w,
                     WEIGHTS[f"b{name}"], s_x, z_x, s_k, z_k).transpose(0, 3, 1, 2)
    if relu:
        want = np.maximum(want, z_k)
    np.testing.assert_array_equal(codes[name], want)


def test_one_rounding_beats_two(built) -> None:
    """Against the exact convolution of the engine's int8 input (float64), the
    Concat's a and c values that are not clipped (codes -128 / 127) are within
    half a step (+1e-4 step of float32 slack); requantizing each branch from
    its own calibrated grid (the lowering before: ref/concat_s8.cc's formula)
    leaves values over half a step off and an RMS error at least 10% higher."""
    from int8rt import _core

    relu, engine, plan, codes = built
    (s_x, z_x), (s_k, z_k) = plan["x"], plan["k"]
    one, two = [], []
    for name in "ac":
        wq, s_w = _weights(WEIGHTS[f"w{name}"])
        exact = (_acc(codes["x"] - z_x, name) * (np.float64(s_x) * s_w.astype(np.float64))[None, :, None, None]
                 + WEIGHTS[f"b{name}"].astype(np.float64)[None, :, None, None])
        if relu:
            exact = np.maximum(exact, 0.0)
        k = codes["k"][:, AT[name]]
        inside = (k > -128) & (k < 127)
        one.append(((k - z_k) * np.float64(s_k) - exact)[inside])
        # before: written at its own calibrated grid (symmetric, or unsigned: scale threshold / 255,
        # zero point -128), then requantized to the Concat's
        s_own = engine.scales()[name]
        s_own, z_own = (_core.unsigned_scale_from_scale(s_own), -128) if relu else (s_own, 0)
        own = np.clip(np.rint(exact / s_own) + z_own, -128, 127)
        t = ((own - z_own).astype(F32) * (F32(s_own) / F32(s_k)) + F32(z_k)).astype(F32)
        two.append(((np.rint(np.clip(t, -128, 127)) - z_k) * np.float64(s_k) - exact)[inside])
    one, two = np.concatenate([e.ravel() for e in one]), np.concatenate([e.ravel() for e in two])
    assert np.abs(one).max() <= s_k * (0.5 + 1e-4), (np.abs(one).max() / s_k)
    assert np.abs(two).max() > 0.5 * s_k
    rms_one, rms_two = np.sqrt(np.mean(one ** 2)), np.sqrt(np.mean(two ** 2))
    assert rms_two > 1.1 * rms_one, (rms_one / s_k, rms_two / s_k)


def test_pool_feeding_only_the_output_stays_float(built) -> None:
    """GlobalAveragePool -> Flatten -> output g: a float32 pool of kc's
    Dequantize, g equal to the mean of the int8 kc values (float32 sums of
    81 values: 1e-5 relative), not rounded to an int8 grid."""
    _, engine, plan, codes = built
    assert "gp" not in plan and "g" not in plan
    assert any("(GlobalAveragePool) stays float32: its output only leaves" in line for line in engine.report()), \
        engine.report()
    s_kc, z_kc = plan["kc"]
    want = ((codes["kc"] - z_kc) * np.float64(s_kc)).mean(axis=(2, 3))
    np.testing.assert_allclose(engine.run({"x": X})["g"], want, rtol=1e-5, atol=1e-6 * s_kc)


def test_optimized_kernels_equal_reference() -> None:
    for relu in (False, True):
        engine = _build(relu)
        fast = engine.run({"x": X})
        try:
            int8rt.set_max_isa("ref")
            ref = _build(relu).run({"x": X})
        finally:
            int8rt.set_max_isa(None)
        # m, g: float32 layers after int8 ones (each tier's float kernels, 1 ulp apart; g's means
        # summed in each tier's order); one code apart in d or kc would move m by s_d, a mean of g
        # by s_kc / 81: 1000x the tolerances
        plan = {t.tensor: t.scale for t in engine.int8_plan().tensors}
        np.testing.assert_allclose(fast["m"], ref["m"], rtol=0, atol=1e-3 * plan["d"], err_msg=f"m relu={relu}")
        np.testing.assert_allclose(fast["g"], ref["g"], rtol=0, atol=1e-3 * plan["kc"] / HW ** 2,
                                   err_msg=f"g relu={relu}")
