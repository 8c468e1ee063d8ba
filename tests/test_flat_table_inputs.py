"""A conv output read only by a HardSwish table is held on [v', T] with v' <= -3
(csrc/engine/lower_int8_zero_points.cc, adopt_flat_input_grids;
quant::flat_below_grid): HardSwish is 0 below -3, so clipping there changes
no value the table reads, and the grid is finer than the symmetric [-T, T].
LeViT's patch embedding is this pattern (RESULTS_accuracy.md, 2026-12-04).
Checked: the grid is the documented formula; the QLut's table is
quantize(hardswish(dequantize(i - 128, s, z)), s_y, z_y) in NumPy, equal
code for code; the same function spelled out (x * Clip(x + 3, 0, 6) / 6,
whose Mul reads x: no flat op) keeps the symmetric grid; and the flat-grid
engine is closer to float32 than that one on inputs whose outputs vary;
the engine file and the Q/DQ export keep the grid."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32
C, K, H, W = 3, 8, 10, 10
X_CAL = np.random.default_rng(11).standard_normal((32, C, H, W)).astype(F32)
X_EVAL = np.random.default_rng(12).standard_normal((16, C, H, W)).astype(F32)


def _model(spelled: bool) -> bytes:
    rng = np.random.default_rng(3)
    w1 = (rng.standard_normal((K, C, 3, 3)) * 0.6).astype(F32)
    b1 = (rng.standard_normal(K) * 0.5 - 1.0).astype(F32)  # conv outputs mostly below 0, reaching past -3
    w2 = (rng.standard_normal((K, K, 1, 1)) * 0.4).astype(F32)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])]
    inits = [init("w1", w1), init("b1", b1), init("w2", w2)]
    if spelled:
        inits += [init("three", np.array(3, F32)), init("zero", np.array(0, F32)), init("six", np.array(6, F32))]
        nodes += [helper.make_node("Add", ["c", "three"], ["c3"]),
                  helper.make_node("Clip", ["c3", "zero", "six"], ["r6"]),
                  helper.make_node("Mul", ["c", "r6"], ["m"]),
                  helper.make_node("Div", ["m", "six"], ["h"])]
    else:
        nodes.append(helper.make_node("HardSwish", ["c"], ["h"]))
    nodes.append(helper.make_node("Conv", ["h", "w2"], ["y"], kernel_shape=[1, 1]))
    return model(nodes, [fvi("x", ["N", C, H, W])], [fvi("y", ["N", K, H, W])], inits).SerializeToString()


def _build(m: bytes) -> int8rt.Engine:
    cal = int8rt.make_calibrator({"x": X_CAL}, algorithm="minmax", batch_size=8)
    return int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))


def _grid(engine: int8rt.Engine, name: str) -> tuple[float, int]:
    (t,) = [t for t in engine.int8_plan().tensors if t.tensor == name]
    return t.scale, t.zero_point


@pytest.fixture(scope="module")
def engines() -> dict:
    return {"flat": _build(_model(False)), "spelled": _build(_model(True)),
            "fp32": int8rt.build_engine(_model(False), int8rt.BuilderConfig(precision="fp32"))}


def _hardswish(x: np.ndarray) -> np.ndarray:
    return (x * np.clip(x / F32(6) + F32(0.5), F32(0), F32(1))).astype(F32)


def test_conv_output_read_by_hardswish_is_held_above_minus_three(engines) -> None:
    threshold = float(np.abs(_conv_out(X_CAL)).max())  # minmax
    s, z = _grid(engines["flat"], "c")
    assert z != 0
    least = (-128 - z) * s  # the value of code -128
    assert least <= -3.0 < least + s, (least, s, z)  # the least level at or below -3, the next above
    assert s == pytest.approx((threshold + 3.0) / 255, rel=2e-3)  # (T - v') / 255, v' within a step of -3
    s_sym, z_sym = _grid(engines["spelled"], "c")
    assert z_sym == 0 and s_sym == pytest.approx(threshold / 127, rel=1e-5)


def _conv_out(x: np.ndarray) -> np.ndarray:
    """The first conv's float32 output."""
    import onnx

    m = onnx.load_from_string(_model(False))
    m.graph.output.append(fvi("c", ["N", K, H, W]))
    return int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).run({"x": x})["c"]


def test_table_is_hardswish_of_the_clipped_grid(engines) -> None:
    engine = engines["flat"]
    lowered = engine._native.network()
    (lut,) = [n for n in lowered.nodes() if n["op"] == "int8rt.QLut"]
    s, z = _grid(engine, "c")
    s_y, z_y = _grid(engine, "h")
    assert lut["attrs"]["in_zero_point"] == z
    table = lowered.constant_data(lut["inputs"][1])
    levels = (np.arange(-128, 128, dtype=np.int32) - z).astype(F32) * F32(s)
    want = np.clip(np.rint(_hardswish(levels) / F32(s_y)) + z_y, -128, 127).astype(np.int8)
    np.testing.assert_array_equal(np.asarray(table, np.int8), want)


def test_flat_grid_is_closer_to_float32_than_the_symmetric_one(engines) -> None:
    """At the table's output, against the float32 HardSwish of the float32
    conv output rounded to the engine's own grid of h (so that only the
    table input's grid differs), and at the network's output."""
    from int8rt.accuracy.taps import int8_tap_engine

    shape = [len(X_EVAL), K, H, W]
    c, ref_y = _conv_out(X_EVAL), engines["fp32"].run({"x": X_EVAL})["y"]
    err_h, err_y = {}, {}
    for k in ("flat", "spelled"):
        s_h, z_h = _grid(engines[k], "h")
        ideal = (np.clip(np.rint(_hardswish(c) / F32(s_h)) + z_h, -128, 127) - z_h) * F32(s_h)
        tap, where = int8_tap_engine(engines[k]._native.network(), {"h": shape}, ["h"])
        got = tap.create_execution_context().run({"x": X_EVAL})
        err_h[k] = float(np.linalg.norm(got[where["h"]] - ideal) / np.linalg.norm(ideal))
        err_y[k] = float(np.linalg.norm(got["y"] - ref_y) / np.linalg.norm(ref_y))
    assert np.ptp(c) > 6.0 and np.ptp(ref_y) > 1.0
    assert err_h["flat"] < 0.9 * err_h["spelled"], err_h  # 0.85: the double rounding at h's own step stays
    assert err_y["flat"] < err_y["spelled"], err_y


def test_engine_file_and_qdq_export_keep_the_grid(engines, tmp_path) -> None:
    """The QLut's in_zero_point survives the engine file; the Q/DQ export of
    the engine (qdq_export.py) holds the conv output on the same uint8 grid,
    and ONNX Runtime running it as the spec defines it (HardSwish after the
    DequantizeLinear) is within a step of the engine."""
    import onnxruntime as ort

    engine = engines["flat"]
    path = tmp_path / "flat.i8rt"
    engine.save(str(path))
    loaded = int8rt.Engine.load(str(path))
    np.testing.assert_array_equal(loaded.run({"x": X_EVAL})["y"], engine.run({"x": X_EVAL})["y"])
    out = tmp_path / "flat_qdq.onnx"
    int8rt.export_qdq(_model(False), engine, str(out))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    got = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"]).run(None, {"x": X_EVAL})[0]
    assert np.abs(got - engine.run({"x": X_EVAL})["y"]).max() <= engine.scales()["y"]  # one step of y's scale
    import onnx

    inits = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    s, z = _grid(engine, "c")
    assert inits["c_zero_point"].dtype == np.uint8 and int(inits["c_zero_point"]) == z + 128
    assert float(inits["c_scale"]) == s


def test_check_and_compare_measure_what_the_table_reads() -> None:
    """The accuracy check and ``int8rt compare`` measure the clipped conv
    output raised to its code -128 (what the HardSwish table reads), so the
    clipping below -3 is no warning and no error jump."""
    from int8rt.accuracy.compare import compare
    from int8rt.accuracy.taps import flat_floors

    cal = int8rt.make_calibrator({"x": X_CAL}, algorithm="minmax", batch_size=8)
    engine = int8rt.build_engine(_model(False), int8rt.BuilderConfig(calibrator=cal))  # with the check
    s, z = _grid(engine, "c")
    assert flat_floors(engine._native.network()) == {"c": pytest.approx((-128 - z) * s, rel=1e-6)}
    c_eval = _conv_out(X_EVAL)
    assert np.mean(_conv_out(X_CAL) < (-128 - z) * s) > 0.05  # the premise: the grid does clip,
    assert c_eval.min() < (-128 - z) * s - 1.0  # by more than a unit on the compared inputs
    (c,) = [t for t in engine.build_report().tensors if t.name == "c"]
    assert c.clipped < 0.01 and not c.warning, c
    rows = {r.name: r for r in compare(_model(False), engine, {"x": X_EVAL})}
    # the int8 conv's own error (its input's and weights' grids) is a few steps; the clipping's was > 1
    assert rows["c"].sqnr_db > 30.0 and rows["c"].max_abs_error < 4 * s, rows["c"]
