"""What made auto builds faster must not change what they compute (issue 12,
build time): the kept samples' histograms taken from the calibration pass's
own activations (``Builder.observe_rows``) equal those of running the kept
rows again, and an auto build gives the same engine bytes either way; the
MSE search's rounding without a library call picks what the NumPy
reference picks, ties at half a level included."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import int8rt
from int8rt import _core
from int8rt.builder import _builder_args, _to_network
from int8rt.quickstart import DATA_PATH, MODEL_PATH
from golden_methods import amax_mse

DIGITS = np.load(DATA_PATH)


def _builder(model) -> _core.Builder:
    return _core.Builder(_to_network(model, None, None), **_builder_args(int8rt.BuilderConfig()))


def _histograms(collector: int8rt.calib.Collector) -> dict[str, tuple]:
    out = {}
    for name in collector.names:
        h = collector.histogram(name)
        out[name] = (h.counts.tobytes(), float(h.bin_width), float(h.max_abs))
    return out


def test_observe_rows_equals_running_the_rows_alone() -> None:
    builder = _builder(MODEL_PATH.read_bytes())
    session, by_rows, rerun = (int8rt.calib.Collector("minmax") for _ in range(3))
    keep = [0, 1, 2, 4, 5, 6, 8]  # every 4th sample held out, as auto's router does
    for start in (0, 9, 18):
        x = np.ascontiguousarray(DIGITS["calib"][start:start + 9])
        builder.calibrate_batch({"input": x}, session._native)
        assert builder.observe_rows(keep, by_rows._native) is True
        builder.calibrate_batch({"input": np.ascontiguousarray(x[keep])}, rerun._native)
    assert _histograms(by_rows) == _histograms(rerun)
    assert len(by_rows) == len(session) > 5


def test_observe_rows_declines_where_the_batch_is_not_the_leading_dynamic_axis() -> None:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "fixed",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
    builder = _builder(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    collector = int8rt.calib.Collector("minmax")
    with pytest.raises(int8rt.InvalidArgumentError, match="no calibration batch"):
        builder.observe_rows([0], collector._native)
    builder.calibrate_batch({"x": np.ones((4, 8), np.float32)}, int8rt.calib.Collector("minmax")._native)
    assert builder.observe_rows([0, 2], collector._native) is False
    assert len(collector) == 0


def test_observe_rows_rejects_rows_out_of_order_or_range() -> None:
    builder = _builder(MODEL_PATH.read_bytes())
    builder.calibrate_batch({"input": np.ascontiguousarray(DIGITS["calib"][:4])},
                            int8rt.calib.Collector("minmax")._native)
    for rows in ([1, 0], [0, 4], [-1], [2, 2]):
        with pytest.raises(int8rt.InvalidArgumentError, match="ascending"):
            builder.observe_rows(rows, int8rt.calib.Collector("minmax")._native)


def test_auto_engine_bytes_equal_with_and_without_a_second_float_pass(monkeypatch) -> None:
    batches = [{"input": DIGITS["calib"][i:i + 16]} for i in range(0, 64, 16)]

    def build() -> bytes:
        calibrator = int8rt.make_calibrator(batches, algorithm="auto")
        return int8rt.build_engine(MODEL_PATH.read_bytes(), int8rt.BuilderConfig(
            calibrator=calibrator, accuracy_check=False)).serialize()

    calls = []
    native = _core.Builder

    class Rerun(native):  # observe_rows declines: the kept rows run through the network again
        def observe_rows(self, rows, collector):
            calls.append(len(rows))
            return False

    fast = build()
    monkeypatch.setattr(_core, "Builder", Rerun)
    assert build() == fast
    assert calls == [12, 12, 12, 12]


@pytest.mark.parametrize("num_bits,unsigned", [(8, False), (8, True), (4, False), (16, True)])
def test_mse_search_matches_the_reference_on_half_level_ties(num_bits: int, unsigned: bool) -> None:
    # Bin width 1/8 and candidates at bin centres: centre * (bound / amax)
    # often lands exactly on k + 0.5, where rounding must go to even.
    rng = np.random.default_rng(num_bits)
    for _ in range(6):
        counts = np.zeros(400, np.int64)
        filled = rng.choice(400, 60, replace=False)
        counts[filled] = rng.integers(1, 1000, 60)
        h = int8rt.calib.Histogram.from_counts(counts, 0.125)
        got = h.compute_amax("mse", num_bits=num_bits, is_unsigned=unsigned)
        assert got == amax_mse(counts, 0.125, num_bits, unsigned), (num_bits, unsigned)
