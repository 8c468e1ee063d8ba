"""SmoothQuant measured by the calibration pass itself
(accuracy/smoothquant.py ``InPass``, accuracy/smooth_stats.py): the factors
come from every batch's per-channel maxima, nothing of the stream is held
or replayed, and each smoothed activation's histogram is rebuilt from its
input's per-channel histograms (RESULTS_accuracy.md, acc25)."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt import _core
from int8rt.accuracy import smoothquant
from int8rt.accuracy.metrics import relative_l2
from int8rt.accuracy.smooth_stats import BINS, ChannelHistograms
from int8rt.calib import Collector, Histogram

from test_equalize import _fp32_outputs, outlier_linear

STREAM, BATCH = 512, 8
LATE = [300, 377, 450]  # the only samples where channel 5 of h is wide
GAIN = np.ones(32, np.float32)
GAIN[[3, 10, 17, 30]] = 40.0  # outlier_linear's h = x * GAIN


def _late_outlier_stream() -> np.ndarray:
    x = np.random.default_rng(0).normal(0, 1, (STREAM, 6, 32)).astype(np.float32)
    x[LATE, 2, 5] = 60.0
    return x


def _config(x: np.ndarray, algorithm: str = "minmax", **options) -> int8rt.BuilderConfig:
    cal = int8rt.make_calibrator([{"x": x[s:s + BATCH]} for s in range(0, len(x), BATCH)], algorithm=algorithm)
    return int8rt.BuilderConfig(calibrator=cal, channel_activations=False, smoothquant=True,
                                **{"accuracy_check": False, **options})


def test_a_late_outlier_channel_reaches_the_smoothquant_factors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The maxima the factors come from equal max |x * g| over all 512
    samples, channel 5's late 60 included, and the engine made from them is
    closer to float32 on the late kind and on ordinary inputs than one made
    from the first 64 samples' maxima (the rule before acc21)."""
    x = _late_outlier_stream()
    seen: dict[str, np.ndarray] = {}
    calls = smoothquant.rewrite_calls

    def recorded(network, sites, amax, alpha=smoothquant.DEFAULT_ALPHA):
        seen.update(amax)
        return calls(network, sites, amax, alpha)
    monkeypatch.setattr(smoothquant, "rewrite_calls", recorded)
    engine = int8rt.build_engine(outlier_linear(), _config(x))
    assert np.array_equal(seen["h"], np.abs(x * GAIN).reshape(-1, 32).max(axis=0))
    assert seen["h"][5] == 60.0
    monkeypatch.undo()
    first = _explicit_engine(x[:64], x)  # factors from the first 64 samples, calibrated on all
    ev = np.concatenate([x[LATE], np.random.default_rng(1).normal(0, 1, (29, 6, 32)).astype(np.float32)])
    ref = _fp32_outputs(outlier_linear(), ev)
    errors = {}
    for name, e in (("whole", engine), ("first", first)):
        out = next(iter(e.create_execution_context().run({"x": ev}).values()))
        errors[name] = relative_l2(ref[:3], out[:3]), relative_l2(ref[3:], out[3:])
    assert all(w < 0.8 * f for w, f in zip(errors["whole"], errors["first"])), errors


def _explicit_engine(measured: np.ndarray, calibrated: np.ndarray, algorithm: str = "minmax") -> object:
    """SmoothQuant the explicit way: factors from ``measured`` through a
    float32 engine (smoothquant.smooth), then every batch of ``calibrated``
    through the smoothed network into one collector, its thresholds, the
    engine."""
    builder = _core.Builder(int8rt.onnx.import_model(outlier_linear()), channel_activations=False)
    smoothquant.smooth(builder, {"x": measured})
    collector = Collector(algorithm)
    for s in range(0, len(calibrated), BATCH):
        builder.calibrate_batch({"x": calibrated[s:s + BATCH]}, collector._native)
    return builder.build(collector.scales())


def test_minmax_in_pass_equals_measuring_first_and_calibrating_the_smoothed_network() -> None:
    """minmax reads the histogram's max only, which the rebuilt histogram
    holds exactly (max_j max|x_j| * f_j, as the Mul computes it): the
    first smoothed activation's scale equals (==) that of an engine whose
    factors were measured over the same stream first and whose smoothed
    network was then calibrated directly; the tensors after it were
    calibrated on the network before the rewrite, equal in float32 up to
    its rounding (1e-5), and so are the outputs."""
    x = _late_outlier_stream()[:128]
    engine = int8rt.build_engine(outlier_linear(), _config(x))
    explicit = _explicit_engine(x, x)
    got = {t.tensor: t.scale for t in engine.int8_plan().tensors}
    want = {t.tensor: t.scale for t in explicit.int8_plan().tensors}
    assert got.keys() == want.keys() and {"h::smoothed", "r::smoothed"} <= got.keys()
    assert got["h::smoothed"] == want["h::smoothed"]  # r is after h's rewrite: float32-equal only
    for name in got:
        assert got[name] == pytest.approx(want[name], rel=1e-5), name
    ev = np.random.default_rng(2).normal(0, 1, (16, 6, 32)).astype(np.float32)
    out = next(iter(engine.create_execution_context().run({"x": ev}).values()))
    ref = next(iter(explicit.create_execution_context().run({"x": ev}).values()))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))


def test_the_stream_is_read_once_batch_by_batch_at_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is measured as the pass runs it, before the next is
    asked for (the prefetch before read the whole stream first and held it
    to replay), and what the statistics hold does not grow with the
    stream: 96 and 512 samples, the same bytes."""
    events: list[str] = []
    sizes: list[int] = []
    observe, finish = ChannelHistograms.observe, smoothquant.InPass.finish

    def observed(self, values):
        events.append("measure")
        return observe(self, values)

    def finished(self, splice, collectors):
        sizes.append(self.stats.nbytes)
        return finish(self, splice, collectors)
    monkeypatch.setattr(ChannelHistograms, "observe", observed)
    monkeypatch.setattr(smoothquant.InPass, "finish", finished)
    x = _late_outlier_stream()
    for n in (96, 512):
        events.clear()
        config = _config(x[:n])
        ask = config.calibrator.get_batch

        def get_batch(names, ask=ask):
            events.append("get")
            return ask(names)
        config.calibrator.get_batch = get_batch
        int8rt.build_engine(outlier_linear(), config)
        assert events == ["get", "measure"] * (n // BATCH) + ["get"]
    assert sizes[0] == sizes[1] > 0


def test_channel_histograms_grow_by_powers_of_two_exactly() -> None:
    """Each channel's counts equal numpy's histogram of its |x| over [0, R_j)
    in BINS bins, R_j the smallest power of two above its max, however its
    range grew batch by batch."""
    rng = np.random.default_rng(4)
    batches = [rng.normal(0, 1, (5, 7, 6)).astype(np.float32) * (1 + 3 * k) for k in range(6)]
    batches[4][0, 0, 2] = 0.0
    stats = ChannelHistograms(["t"])
    for b in batches:
        stats.observe({"t": b})
    a = np.abs(np.concatenate(batches).reshape(-1, 6)).astype(np.float64)
    t = stats._tensors["t"]
    assert np.array_equal(t.amax, a.max(axis=0).astype(np.float32))
    for j in range(6):
        top = 2.0 ** (np.floor(np.log2(a[:, j].max())) + 1)
        assert t.top[j] == top
        want = np.bincount(np.minimum((a[:, j] / (top / BINS)).astype(np.int64), BINS - 1), minlength=BINS)
        assert np.array_equal(t.counts[j], want), j


@pytest.mark.parametrize("policy", ["extend", "two_pass", "power_of_two"])
def test_the_rebuilt_histogram_is_the_scaled_tensors(policy: str) -> None:
    """The histogram of |x * f| rebuilt from x's per-channel histograms
    against the one binned from x * f itself batch by batch under the same
    policy (extend: the width the first batch set, bins appended for the
    later maxima): the same count, max and grid (==), the cumulative counts within 0.5%
    of the total, the thresholds of the methods that read the spread within
    1.5% (entropy's KL search is not compared: it moves between near-equal
    minima on a change of a few counts)."""
    rng = np.random.default_rng(5)
    k = 48
    spread = np.exp(rng.normal(0, 1, k)).astype(np.float32)
    spread[7] *= 30
    xs = [(rng.standard_t(4, (8, 16, k)) * spread).astype(np.float32) for _ in range(24)]
    stats = ChannelHistograms(["t"])
    for x in xs:
        stats.observe({"t": x})
    f = (1.0 / np.sqrt(stats.maxima()["t"])).astype(np.float32)
    got = stats.scaled("t", f, 2048, policy)
    want = Histogram(2048, policy)
    if policy == "two_pass":
        for x in xs:
            want.observe_range(x * f)
    for x in xs:
        want.collect(x * f)
    assert got.total_count == want.total_count and got.max_abs == want.max_abs
    assert got.bin_width == want.bin_width and len(got.counts) == len(want.counts)
    cdf = np.abs(np.cumsum(got.counts.astype(float)) - np.cumsum(want.counts.astype(float)))
    assert cdf.max() < 0.005 * want.total_count
    for method in ("minmax", "percentile", "mse"):
        assert got.compute_amax(method) == pytest.approx(want.compute_amax(method), rel=0.015), method


def test_sharded_calibration_measures_on_the_driver(ray_cluster: object) -> None:
    """With calibration on Ray workers the driver, whose builder runs no
    batch, measures the sites with a float32 engine of its own as the
    batches go out: the same factors and, with minmax, the same scales as
    one process."""
    from int8rt.calib.distributed import RayCalibration

    x = _late_outlier_stream()[:96]
    single = int8rt.build_engine(outlier_linear(), _config(x))
    sharded = int8rt.build_engine(outlier_linear(), _config(
        x, distributed=RayCalibration(num_workers=2, batches_per_task=3)))
    assert sharded.scales() == single.scales()
    assert {"h::smoothed", "r::smoothed"} <= set(sharded.scales())
    ev = np.random.default_rng(3).normal(0, 1, (8, 6, 32)).astype(np.float32)
    assert np.array_equal(sharded.run({"x": ev})["y"], single.run({"x": ev})["y"])


@pytest.mark.parametrize("check", [False, True])
def test_auto_gets_the_smoothed_histograms_in_each_collector_it_reads(monkeypatch: pytest.MonkeyPatch,
                                                                      check: bool) -> None:
    """auto without the check chooses from histograms of the kept samples
    (a collector of its own, fed the kept rows) while every sample
    calibrates the session's: each gets the smoothed activations'
    histograms from the statistics of the samples it was fed; with the
    check (held-out samples calibrate nothing) only the session's exists.
    The engine is closer to float32 than auto's without SmoothQuant."""
    got: list[tuple[str, int]] = []
    finish = smoothquant.InPass.finish

    def finished(self, splice, collectors):
        builder = finish(self, splice, collectors)
        for collector, which in collectors:
            if collector is not None:
                hist = collector.histogram("h::smoothed")
                stats = self.stats if which == "stats" else self.fit
                assert hist.total_count == stats._tensors["h"].counts.sum()
                got.append((which, hist.total_count))
        return builder
    monkeypatch.setattr(smoothquant.InPass, "finish", finished)
    x = _late_outlier_stream()[:128]
    engine = int8rt.build_engine(outlier_linear(), _config(x, "auto", accuracy_check=check))
    monkeypatch.undo()
    total = 128 * 6 * 32
    if check:
        assert [w for w, _ in got] == ["stats"] and got[0][1] < total
    else:
        assert [w for w, _ in got] == ["stats", "fit"] and got[0][1] == total and 0 < got[1][1] < total
    cal = int8rt.make_calibrator([{"x": x[s:s + BATCH]} for s in range(0, len(x), BATCH)], algorithm="auto")
    plain = int8rt.build_engine(outlier_linear(), int8rt.BuilderConfig(
        calibrator=cal, channel_activations=False, accuracy_check=check))
    ev = np.random.default_rng(4).normal(0, 1, (32, 6, 32)).astype(np.float32)
    ref = _fp32_outputs(outlier_linear(), ev)
    assert relative_l2(ref, engine.run({"x": ev})["y"]) < 0.8 * relative_l2(ref, plain.run({"x": ev})["y"])


def _flattened_linear() -> bytes:
    """h = x * g [N, 6, 32] -> Reshape [N * 6, 32] -> MatMul -> y: the
    smoothed activation's axis 0 is not the batch's, so the builder cannot
    cut a batch's rows of it (Builder.observe_rows declines)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(6)
    nodes = [helper.make_node("Mul", ["x", "g"], ["h"]),
             helper.make_node("Reshape", ["h", "shape"], ["hr"]),
             helper.make_node("MatMul", ["hr", "w"], ["y"])]
    inits = [numpy_helper.from_array(GAIN, "g"), numpy_helper.from_array(np.array([-1, 32], np.int64), "shape"),
             numpy_helper.from_array(rng.normal(0, 0.2, (32, 24)).astype(np.float32), "w")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 6, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 24])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_auto_without_the_check_on_a_site_whose_rows_cannot_be_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """The auto choice's collector is fed each batch's kept rows; where the
    site's axis 0 is not the batch's its statistics take the whole batch
    (the values the pass measured, not a second run), and the build goes
    through with the smoothed activation's histogram in both collectors."""
    totals: dict[str, int] = {}
    finish = smoothquant.InPass.finish

    def finished(self, splice, collectors):
        builder = finish(self, splice, collectors)
        totals.update({which: c.histogram("hr::smoothed").total_count for c, which in collectors if c is not None})
        return builder
    monkeypatch.setattr(smoothquant.InPass, "finish", finished)
    x = _late_outlier_stream()[:64]
    engine = int8rt.build_engine(_flattened_linear(), _config(x, "auto"))
    assert totals == {"stats": 64 * 6 * 32, "fit": 64 * 6 * 32}
    assert "hr::smoothed" in engine.scales()
