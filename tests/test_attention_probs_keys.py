"""Attention probabilities on a grid that follows the key count (issues 11 /
12; csrc/engine/ops/int8/probs_keys.h; RESULTS_accuracy.md "acc32").

A softmax output's threshold t calibrated on rows of n_cal keys clips every
row over fewer than 1/t keys (RESULTS.md §133.2, §135). Where the key axis
is dynamic, the lowering records n_cal (the calibration's fewest keys) on
int8rt.QAttention, or on the unfused chain's Quantize and QMatMul, and the
layers grow the grid for rows of n < n_cal keys as the top probability of
a row with one dominant key grows (about n_cal / n for a small calibrated
top, saturating at 1): the calibrated codes at n >= n_cal.

Oracles:
- The rule's arithmetic: the fused layer with probs_calibrated_keys at n
  keys == the same layer without it at probs_scale = scale(n), computed
  here from the formula (float64, then float32 as the layer takes it).
- Fused == unfused (tests/test_int8_matmul.py's chain with the rule on its
  Quantize and QMatMul), both grids, shorter and longer than calibrated.
- A network (tests/test_attention_short_rows.py's attention block, near-
  uniform attention, calibrated at 64 tokens): at 64 and 96 tokens the
  engine's output == the engine built from the same scales without the key
  count (nothing changes at or above the calibrated length); at 8 / 16 / 32
  tokens its centred cosine against FP32 is at least 0.995 (measured
  0.9981 / 0.9997 / 1.0000, fused and unfused alike), where the calibrated
  grid falls below 0.98 at 8 (measured 0.9667) - bounds clear of the measured values, which are float
  arithmetic over seeded data, stable across ISAs only to rounding.
- Save / load keeps the rule (== after a round trip, at a short length).
- The Q/DQ export says that it writes the calibrated scale where it
  quantizes such probabilities (the unfused chain's); a fused layer's it
  leaves float, silently.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt.accuracy.probs_keys import key_count_layers  # noqa: E402
from int8rt.calib import Collector  # noqa: E402

from np_kernels import first_mismatch  # noqa: E402
from test_attention_short_rows import LONG, batches, dynamic_attention  # noqa: E402
from test_int8_matmul import attention_engine, centred_cosine  # noqa: E402

F32 = np.float32
KEY = "probs_calibrated_keys"


def rule_scale(scale: float, zero_point: int, calibrated: int, keys: int) -> float:
    """probs_keys.h's scale(n), from its comment: the top p(n) = rho / (rho +
    n - 1) of a row whose largest weight is rho times the mean of the
    others, rho such that p(n_cal) is the calibrated top T; p(n) / T
    simplified, in the layer's order of float64 operations."""
    top = scale * (127 - zero_point)
    if keys >= calibrated or top >= 1:
        return scale
    return float(F32(scale * (calibrated - 1) / (top * (calibrated - 1) + (keys - 1) * (1 - top))))


def test_the_formula_is_the_saturating_top() -> None:
    """p(n) / T from rho, against the simplified form, and its two limits:
    about n_cal / n for a small top, and a top of 1 at one key."""
    for top, n_cal, n in [(0.005, 257, 82), (0.87, 128, 16), (0.5, 64, 8), (0.3, 10, 1)]:
        rho = top * (n_cal - 1) / (1 - top)
        s = top / 127
        assert rule_scale(s, 0, n_cal, n) == pytest.approx(s * rho / (rho + n - 1) / top, rel=1e-6)
    assert rule_scale(0.005 / 127, 0, 257, 82) == pytest.approx(0.005 / 127 * 256 / 81, rel=0.02)
    assert rule_scale(0.3 / 255, -128, 10, 1) * 255 == pytest.approx(1.0, rel=1e-6)


def attention_feeds(keys: int, seed: int) -> tuple[tuple, dict]:
    rng = np.random.default_rng(seed)
    shapes = ((2, 3, 9, 16), (2, 3, 16, keys), (2, 3, keys, 12))
    return shapes, {n: rng.integers(-128, 128, s, dtype=np.int8) for n, s in zip("qkv", shapes)}


GRIDS = [{"probs_scale": 0.02 / 127}, {"probs_scale": 0.02 / 255, "probs_zero_point": -128},
         {"probs_scale": 1.5 / 127}]  # the last: a calibrated top above 1, kept


@pytest.mark.parametrize("grid", GRIDS, ids=["symmetric", "unsigned", "top_above_1"])
@pytest.mark.parametrize("keys", [1, 5, 40, 64, 65, 100])
@pytest.mark.parametrize("int8_out", [False, True])
def test_the_rule_is_its_formula_and_fused_equals_unfused(grid: dict, keys: int, int8_out: bool) -> None:
    calibrated = 64
    shapes, feeds = attention_feeds(keys, keys)
    attrs = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "scores_factor": 0.25, **grid}
    if int8_out:
        attrs["out_scale"] = 0.03 * 1.5
    ruled = {**attrs, KEY: calibrated}
    fused = attention_engine(shapes, ruled, True).create_execution_context().run(feeds)["y"]
    chain = attention_engine(shapes, ruled, False).create_execution_context().run(feeds)["y"]
    assert first_mismatch(fused, chain) is None, first_mismatch(fused, chain)
    at = {**attrs, "probs_scale": rule_scale(grid["probs_scale"], grid.get("probs_zero_point", 0), calibrated, keys)}
    plain = attention_engine(shapes, at, True).create_execution_context().run(feeds)["y"]
    assert first_mismatch(fused, plain) is None, first_mismatch(fused, plain)
    if keys < calibrated and grid["probs_scale"] * 127 < 1:
        assert at["probs_scale"] > grid["probs_scale"], "short rows get a coarser grid"
    assert np.std(chain) > 0, "a constant output would pass trivially"


def test_one_layer_follows_the_length_run_after_run() -> None:
    """One engine with a dynamic key axis, run at alternating lengths: each
    run uses its own length's grid (no state from the previous run)."""
    attrs = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "probs_scale": 0.02 / 255, "probs_zero_point": -128}
    dynamic = ((2, 3, 9, 16), (2, 3, 16, -1), (2, 3, -1, 12))
    ctx = attention_engine(dynamic, {**attrs, KEY: 64}, True).create_execution_context()
    for keys in (8, 64, 8, 30):
        shapes, feeds = attention_feeds(keys, 3)
        want = attention_engine(shapes, {**attrs, "probs_scale": rule_scale(0.02 / 255, -128, 64, keys)},
                                True).create_execution_context().run(feeds)["y"]
        got = ctx.run(feeds)["y"]
        assert first_mismatch(got, want) is None, (keys, first_mismatch(got, want))


def test_a_negative_key_count_is_refused() -> None:
    shapes, _ = attention_feeds(8, 0)
    attrs = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "probs_scale": 0.01, KEY: -1}
    with pytest.raises(int8rt.InvalidArgumentError, match=KEY):
        attention_engine(shapes, attrs, True)


def calibrated(model: onnx.ModelProto) -> tuple[_core.Builder, dict[str, float]]:
    builder = _core.Builder(int8rt.onnx.import_model(model.SerializeToString()))
    collector = Collector("minmax")
    for feed in batches(LONG, 8, 1):
        builder.calibrate_batch(feed, collector._native)
    return builder, collector.scales()


def outputs(engine: int8rt.Engine, seq: int) -> np.ndarray:
    x = np.concatenate([b["x"] for b in batches(seq, 4, 99)])
    return engine.create_execution_context().run({"x": x})["y"]


@pytest.fixture(scope="module")
def fp32() -> int8rt.Engine:
    return int8rt.build_engine(dynamic_attention().SerializeToString(), int8rt.BuilderConfig(precision="fp32"))


@pytest.mark.parametrize("probs_output", [False, True], ids=["fused", "unfused"])
def test_short_rows_hold_and_the_calibrated_length_is_unchanged(fp32, probs_output: bool) -> None:
    builder, scales = calibrated(dynamic_attention(probs_output=probs_output))
    assert builder.calibration_keys()["probs"] == LONG
    ruled = int8rt.Engine(builder.build(scales))
    layers = key_count_layers(ruled.network())
    assert set(layers.values()) == {LONG}
    assert len(layers) == (2 if probs_output else 1)  # the chain's Quantize and QMatMul, or the QAttention
    fused = any("runs as one int8rt.QAttention" in line for line in ruled.report())
    assert fused != probs_output
    assert not any("attention probabilities" in line for line in ruled.report())
    builder.set_calibration_keys({})  # as from a cache alone: the calibrated grid at every length, and a warning
    fixed = int8rt.Engine(builder.build(scales))
    assert key_count_layers(fixed.network()) == {}
    assert any(line.startswith("warning: the attention probabilities 'probs'") for line in fixed.report())
    for seq in (LONG, 96):
        assert np.array_equal(outputs(ruled, seq), outputs(fixed, seq)), seq
    for seq in (8, 16, 32):
        assert centred_cosine(outputs(ruled, seq), outputs(fp32, seq)) > 0.995, seq
    assert centred_cosine(outputs(fixed, 8), outputs(fp32, 8)) < 0.98  # what the rule cures


def test_save_and_load_keep_the_rule(tmp_path) -> None:
    builder, scales = calibrated(dynamic_attention())
    engine = int8rt.Engine(builder.build(scales))
    path = tmp_path / "attention.i8rt"
    engine.save(path)
    loaded = int8rt.Engine.load(path)
    assert key_count_layers(loaded.network()) == key_count_layers(engine.network())
    assert np.array_equal(outputs(loaded, 8), outputs(engine, 8))


def test_build_engine_records_the_key_count() -> None:
    """The whole build (int8rt.build_engine, the auto calibrator's builders
    included) lowers with the calibration's fewest keys: 8 when half the
    batches are 8 tokens long."""
    engine = int8rt.build_engine(dynamic_attention().SerializeToString(),
                                 int8rt.BuilderConfig(calibrator=batches(LONG, 4, 1) + batches(8, 4, 2)))
    assert set(key_count_layers(engine.network()).values()) == {8}


@pytest.mark.parametrize("probs_output", [False, True], ids=["fused", "unfused"])
def test_the_qdq_export_says_it_writes_the_calibrated_scale(probs_output: bool, tmp_path, caplog) -> None:
    from int8rt.qdq_export import export_qdq

    m = dynamic_attention(probs_output=probs_output)
    engine = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=batches(LONG, 4, 1)))
    with caplog.at_level(logging.WARNING, logger="int8rt"):
        export_qdq(m, engine, tmp_path / "qdq.onnx")
    said = [r.getMessage() for r in caplog.records if "writes the calibrated scale" in r.getMessage()]
    assert len(said) == (1 if probs_output else 0), said
    if probs_output:
        assert "'probs::quantize'" in said[0] and f"below {LONG} keys" in said[0]
