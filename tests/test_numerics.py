"""One home for the quantization numerics (csrc/include/int8rt/quantization.h)
and the calibration-method table (csrc/calib/methods.cc), read from Python.

The oracle is NumPy written from the published rules (DESIGN.md,
"Numerics"): scale = float32(amax) / float32(127), amax = scale * 127 in
float32, weights q = clip(rint(w / s), -127, 127) per output channel with an
all-zero channel at s = 1, the cache's hex the float32's bits. Every result is
compared bit for bit (uint32 views), on the edge values: zero, subnormal,
FLT_MIN, FLT_MAX, inf, and quotients that lie exactly half-way between two
integers. The Python path (int8rt._numerics) and the C++ path (the Collector's
scales, the engine's lowered weights, write_cache's hex) must agree.
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt import _core, _numerics
from int8rt.calib import Collector, cache_algorithm_name, read_cache, write_cache
from int8rt.calibrator import CalibrationAlgoType

F32 = np.finfo(np.float32)
EDGE_AMAXES = np.array([0.0, np.float32(1e-45), F32.tiny, F32.tiny * 127, 1e-30, 0.5, 1.0, 126.99999,
                        127.0, 128.0, 3.0e38, F32.max, np.inf], dtype=np.float32)


def bits(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def numpy_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weight rule on rows [C, K], written out in NumPy (finite input).

    A row whose amax / 127 is below float32's smallest normal (zero or
    subnormal) gets s = 1, so its values round to 0; a NaN quotient
    (an infinite row: inf / inf) clamps to -127 as std::min(127, std::max(-127, q)) does."""
    amax = np.max(np.abs(w), axis=1, initial=np.float32(0)).astype(np.float32)
    s = (amax / np.float32(127)).astype(np.float32)
    s = np.where(s >= np.finfo(np.float32).tiny, s, np.float32(1)).astype(np.float32)  # zero or subnormal: 1 (quantization.h)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        r = np.rint(w / s[:, None])
    q = np.clip(np.where(np.isnan(r), np.float32(-127), r), -127, 127).astype(np.int8)
    return q, s


def test_scale_from_amax_is_float32_division_on_edges():
    rng = np.random.default_rng(3)
    values = np.concatenate([EDGE_AMAXES, rng.random(500, dtype=np.float32) * 10.0 ** rng.integers(-30, 30, 500)])
    values = values.astype(np.float32)
    got = np.array([_numerics.scale_from_amax(float(a)) for a in values], dtype=np.float32)
    want = values / np.float32(127)
    assert np.array_equal(bits(got), bits(want)), values[bits(got) != bits(want)]
    assert _numerics.scale_from_amax(0.0) == 0.0  # TensorRT writes 0 for an all-zero tensor
    assert np.isnan(_numerics.scale_from_amax(float("nan")))


def test_amax_from_scale_is_float32_product_on_edges():
    scales = np.concatenate([EDGE_AMAXES / np.float32(127), EDGE_AMAXES]).astype(np.float32)
    with np.errstate(over="ignore"):
        want = scales * np.float32(127)
    got = np.array([_numerics.amax_from_scale(float(s)) for s in scales], dtype=np.float32)
    assert np.array_equal(bits(got), bits(want))


def test_collector_scales_equal_python_scales():
    """The C++ path (Collector.scales: scale_from_amax in calib) and the
    Python path (CalibrationSession.finish: int8rt._numerics) agree."""
    rng = np.random.default_rng(0)
    col = Collector("minmax")
    col.observe({"zero": np.zeros(8, np.float32), "tiny": np.full(4, 1e-44, np.float32),
                 "huge": np.array([F32.max, -1.0], np.float32), "x": rng.standard_normal(100).astype(np.float32)})
    amaxes, scales = col.amaxes(), col.scales()
    for name in col.names:
        assert bits(scales[name]) == bits(_numerics.scale_from_amax(amaxes[name])), name


@pytest.mark.parametrize("scale_of_one", [1.0, 2.0 ** -20, 2.0 ** 100])
def test_weights_round_half_way_to_even(scale_of_one):
    """amax = 127 * s with s a power of two: w / s is exact, so k + 0.5 lies
    exactly half-way and must round to the even neighbour."""
    s = np.float32(scale_of_one)
    halves = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 62.5, -63.5, 125.5, 126.5, -126.5], np.float32)
    w = np.concatenate([[127.0], halves]).astype(np.float32) * s
    q, scales = _numerics.quantize_weights(w.reshape(1, -1), 0)
    assert bits(scales[0]) == bits(s)
    assert q[0].tolist() == [127, 0, 2, 2, 4, 0, -2, -2, 62, -64, 126, 126, -126]


def test_weights_edges_match_numpy_rule_bitwise():
    rows = np.array([
        [0.0, 0.0, 0.0, 0.0],                              # all zero: s = 1
        [1e-45, -1e-45, 0.0, 1e-45],                       # subnormal amax: s = 1, values 0
        [F32.tiny, -F32.tiny / 2, F32.tiny / 3, 0.0],      # FLT_MIN and subnormals below it
        [F32.max, -F32.max, F32.max / 2, 1.0],             # FLT_MAX: w / s stays finite
        [1.27, -0.635, 0.0064, 0.00635],                   # ordinary, -63.5 half-way
        [-3.0, 1.0, 2.0, 0.0],                             # negative amax side
    ], dtype=np.float32)
    q, s = _numerics.quantize_weights(rows, 0)
    q_ref, s_ref = numpy_weights(rows)
    assert np.array_equal(bits(s), bits(s_ref)), (s, s_ref)
    assert np.array_equal(q, q_ref), (q, q_ref)
    assert q.dtype == np.int8 and s.dtype == np.float32 and s[0] == 1.0


@pytest.mark.parametrize("axis", [None, 0, 1, 3, -1])
def test_weights_any_axis_matches_numpy_rule(axis):
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((5, 3, 2, 4)) * 10.0 ** rng.integers(-3, 3, (5, 3, 2, 4))).astype(np.float32)
    w[1] = 0.0
    q, s = _numerics.quantize_weights(w, axis)
    if axis is None:
        q_ref, s_ref = numpy_weights(w.reshape(1, -1))
        q_ref, s_ref = q_ref.reshape(w.shape), s_ref.reshape(())
    else:
        moved = np.moveaxis(w, axis, 0)
        q_rows, s_ref = numpy_weights(moved.reshape(moved.shape[0], -1))
        q_ref = np.moveaxis(q_rows.reshape(moved.shape), 0, axis)
    assert q.shape == w.shape and s.shape == s_ref.shape
    assert np.array_equal(q, q_ref) and np.array_equal(bits(s), bits(s_ref))


@pytest.mark.parametrize("value", [0.0, 1e-45, float(F32.tiny), 1.0 / 127, 1.0, float(F32.max), float("inf")])
def test_cache_hex_matches_bits_and_write_cache(value):
    b = int(bits(np.float32(value)))
    text = _core.scale_to_hex(value)
    assert text == format(b, "x")  # lowercase, no leading zeros, "0" for 0
    assert bits(_core.scale_from_hex(text)) == b and bits(_core.scale_from_hex(text.upper())) == b
    assert write_cache({"t": value}, "entropy").decode().splitlines()[1] == f"t: {text}"


@pytest.mark.parametrize("bad", ["", "123456789", "3c01020g", "0x1", " 1"])
def test_scale_from_hex_refuses_non_hex(bad):
    with pytest.raises(int8rt.FormatError, match="hexadecimal"):
        _core.scale_from_hex(bad)


def test_method_table_round_trips_through_cache_header():
    table = _core.calibration_methods()
    assert [m.name for m in table] == ["entropy", "entropy_legacy", "minmax", "percentile", "mse"]
    headers = [m.cache_header for m in table]
    assert len(set(headers)) == len(headers)
    for m in table:
        assert cache_algorithm_name(m.name) == m.cache_header == cache_algorithm_name(m.cache_header)
        data = write_cache({"a": 0.5}, m.name, 101303)
        assert data.startswith(f"TRT-101303-{m.cache_header}\n".encode())
        algorithm, version, scales = read_cache(data)
        assert (algorithm, version, scales) == (m.cache_header, 101303, {"a": 0.5})
        # The header read back names the same method again.
        h = int8rt.calib.Histogram()
        h.collect(np.linspace(0, 3, 1000, dtype=np.float32))
        for alias in [m.cache_header, *m.aliases]:
            assert h.compute_amax(alias) == h.compute_amax(m.name), (m.name, alias)
        assert CalibrationAlgoType(m.trt_algorithm).method == m.name
        assert CalibrationAlgoType(m.trt_algorithm).cache_name == m.cache_header
        assert set(m.options) <= {"num_bits", "is_unsigned", "start_bin", "stride", "percentile",
                                  "reference_order"}
    # Every TensorRT-style algorithm but int8rt's Python-side "auto" is a row.
    rows = {m.trt_algorithm: m.name for m in table}
    for algo in CalibrationAlgoType:
        if algo is not CalibrationAlgoType.AUTO_CALIBRATION:
            assert rows[algo.value] == algo.method, algo


def test_every_calibrator_class_reads_back_its_own_cache():
    """A cache written under each algorithm's header is taken as is by the
    same calibrator class, and refused (recalibrated) by another."""
    classes = [int8rt.IInt8EntropyCalibrator2, int8rt.IInt8EntropyCalibrator, int8rt.IInt8MinMaxCalibrator,
               int8rt.IInt8LegacyCalibrator, int8rt.IInt8MSECalibrator]
    for cls in classes:
        header = cls().get_algorithm().cache_name
        cache = write_cache({"x": 0.25}, header)

        class Cached(cls):
            def read_calibration_cache(self):
                return cache

        session = int8rt.calib.CalibrationSession(Cached())
        assert session.from_cache, cls.__name__
        result = session.finish()
        assert result.scales == {"x": 0.25} and result.algorithm == header
        assert result.amaxes == {"x": _numerics.amax_from_scale(0.25)}
