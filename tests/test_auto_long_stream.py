"""The ``auto`` calibrator's held-out slice and folds drawn from the whole
calibration stream (python/int8rt/accuracy/strided.py, holdout.py,
taps.spread), not from its first samples.

The failure this guards against (benchmarks/RESULTS_accuracy.md, acc16 /
acc17): a sample kind that appears only late in a long calibration stream
set thresholds but reached no judge, since the choice read the first 64
held-out samples and the folds the first 64 kept ones; auto then took a
clipping method fitted to the early kind."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt.accuracy import auto_choice, bias_correction, crossval, holdout, metrics, pass_values, strided, taps

from test_auto_folds_shapes import _conv_model, _samples
from test_auto_pass_values import _float_passes

SIZE = (8, 8)
STREAM = 512       # samples, in batches of BATCH
BATCH = 8
LATE = 288         # the rare kind appears only from this sample on ...
RARE_RATE = 0.08   # ... at random, at this rate (11 samples with seed 4)


def _stream(rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    rare = [i for i in range(LATE, STREAM) if rng.random() < RARE_RATE]
    x = _samples(STREAM, SIZE, rare, rng)
    return [{"x": x[s:s + BATCH]} for s in range(0, STREAM, BATCH)]


def _record_routers(monkeypatch: pytest.MonkeyPatch) -> list[holdout.SampleRouter]:
    """The SampleRouters the builds make from here on, in order."""
    routers: list[holdout.SampleRouter] = []
    init = holdout.SampleRouter.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        routers.append(self)
    monkeypatch.setattr(holdout.SampleRouter, "__init__", recorded)
    return routers


class _First(strided.Strided):
    """The rule before: the first ``cap`` samples offered, never thinned."""

    def admit(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        ordinals = self.offered + np.arange(n, dtype=np.int64)
        self.offered += n
        room = max(0, self.cap - len(self))
        return np.arange(min(n, room)), ordinals[:room]


def test_strided_buffer_spans_the_stream_whatever_the_batches() -> None:
    for cap in (1, 5, 64):
        kept = []
        for size in (1, 3, 7, 64):
            buf = strided.Strided(cap, lambda part, rows: part[rows])
            for start in range(0, 300, size):
                part = np.arange(start, min(start + size, 300))
                on, ordinals = buf.admit(len(part))
                buf.add(ordinals, part[on])
            kept.append(np.concatenate(buf.values()).tolist())
        stride = next(s for s in (2 ** k for k in range(20)) if -(-300 // s) <= cap)
        assert all(k == list(range(0, 300, stride)) for k in kept), (cap, stride)
        assert cap // 2 < len(kept[0]) <= cap


def test_spread_takes_samples_over_every_group() -> None:
    data = [{"x": np.arange(10)}, {"x": np.arange(10, 16)}]
    assert [g["x"].tolist() for g in taps.spread(data, 4)] == [[0, 4, 8], [12]]
    assert [g["x"].tolist() for g in taps.spread(data, 20)] == [list(range(10)), list(range(10, 16))]


@pytest.mark.parametrize("check", [False, True])
def test_a_rare_kind_late_in_the_stream_reaches_the_choice(monkeypatch: pytest.MonkeyPatch, check: bool) -> None:
    """512 calibration samples; the rare kind (30% of its values at +-3.5)
    only from sample 288 on, about one in 12: after the first 64 held-out samples
    (the first 256 of the stream) and the first 64 kept ones. Evaluation
    data holds the kind once in 8. Before (first samples only) no judge
    sees the kind and auto takes percentile 99.99, fitted to the early kind
    (relative L2 0.043 on the evaluation samples; 0.040 with the check); now
    the held-out slice and the folds hold some, auto takes minmax, and its
    engine is closer to float32 on the evaluation samples (relative L2,
    which a constant output cannot pass) than before and than every single
    method (0.030: minmax 0.034, mse 0.032, percentile 0.044, entropy
    0.048; with the check alike)."""
    rng = np.random.default_rng(4)
    calib = _stream(rng)
    evaluation = {"x": _samples(64, SIZE, list(range(3, 64, 8)), rng)}
    model = _conv_model()
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    reference = fp32.run(evaluation)["y"]

    def build(algorithm: str) -> int8rt.Engine:
        return int8rt.build_engine(model, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(calib, algorithm=algorithm), accuracy_check=check))

    def error(engine: int8rt.Engine) -> float:
        return metrics.relative_l2(reference, engine.run(evaluation)["y"])

    after = build("auto")
    with monkeypatch.context() as m:
        m.setattr(holdout, "Strided", _First)
        m.setattr(crossval, "KEPT_SAMPLES", crossval.MAX_SAMPLES)  # the first 64 kept samples
        for module in (auto_choice, crossval, pass_values):
            m.setattr(module, "spread", taps.take)
        before = build("auto")
    chosen_before = before.build_report().auto_choice["thresholds"]
    chosen_after = after.build_report().auto_choice["thresholds"]
    singles = {m: error(build(m)) for m in ("minmax", "mse", "percentile", "entropy")}
    assert chosen_before != "minmax" and chosen_after == "minmax", (chosen_before, chosen_after, singles)
    assert error(after) < 0.8 * error(before), (error(after), error(before))
    assert error(after) <= min(singles.values()), (error(after), singles)


def test_values_kept_from_the_pass_follow_the_thinned_held_out_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the check, 1280 samples hold out 320, more than the router's
    256: its buffer thins them to every 2nd (160), and the choice reads 64
    spread over those. The float32 outputs kept from the calibration pass
    (pass_values.py) are thinned alike, so the choice is scored against
    them without a pass of its own, and the engine and the decisions are
    the same, byte for byte, as with that pass."""
    rng = np.random.default_rng(5)
    x = _samples(1280, SIZE, [i for i in range(700, 1280) if rng.random() < RARE_RATE], rng)
    calib = [{"x": x[s:s + 16]} for s in range(0, 1280, 16)]
    model = _conv_model()
    routers = _record_routers(monkeypatch)

    def build() -> int8rt.Engine:
        return int8rt.build_engine(model, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(calib, algorithm="auto"), accuracy_check=False))

    passes = _float_passes(monkeypatch, auto_choice)
    shared = build()
    assert routers[0].held_buffer.stride == 2 and routers[0].check_count == 160
    assert passes[0] == 0  # the held-out reference came from the calibration pass
    monkeypatch.setattr(pass_values.PassValues, "after_batch", lambda *args, **kwargs: None)  # nothing kept
    separate = build()
    assert passes[0] >= 1
    assert separate.build_report().auto_choice == shared.build_report().auto_choice
    assert separate.serialize() == shared.serialize()


def _rare_rows(x: np.ndarray) -> int:
    """How many of the samples ``x`` are of the rare kind (30% of the values at +-3.5)."""
    return int((np.mean(np.abs(x.reshape(len(x), -1)) == 3.5, axis=1) > 0.2).sum())


@pytest.mark.parametrize("check", [False, True])
def test_a_rare_kind_late_in_the_stream_reaches_bias_correction(monkeypatch: pytest.MonkeyPatch, check: bool) -> None:
    """Bias correction (and the equalization trial, which reads the same
    samples: holdout.search_data) measures on calibrating samples strided over
    the whole stream (at most bias_correction.SAMPLES), not on the first
    ones: the rare kind, only from sample 288 on, is among them (before:
    none of the first 128 calibrating samples is), and the shifts folded into
    the biases are those measured on exactly the strided samples. minmax
    with bias correction on (the auto calibrator reads the same samples)."""
    rng = np.random.default_rng(4)
    calib = _stream(rng)
    stream = np.concatenate([b["x"] for b in calib])
    # the calibrating samples, in stream order: with the check all but every 4th (holdout.py's
    # split; 128 held out, fewer than max_check), without it (and not auto) every sample
    kept = stream[np.arange(STREAM) % 4 != 3] if check else stream
    assert _rare_rows(stream) == 11 and _rare_rows(stream[:LATE]) == 0
    model = _conv_model()
    calls: list[tuple] = []
    real = bias_correction.measure_shifts

    def spy(network, scales, data, batch_size, fp32_layers, values=(), **kwargs):
        got = real(network, scales, data, batch_size, fp32_layers, values, **kwargs)
        calls.append((network, dict(scales), taps.take(data, kwargs.get("limit") or bias_correction.SAMPLES),
                      batch_size, set(fp32_layers), kwargs, got))
        return got
    monkeypatch.setattr(bias_correction, "measure_shifts", spy)

    def build() -> None:
        calls.clear()
        int8rt.build_engine(model, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(calib, algorithm="minmax"), accuracy_check=check, bias_correction=True))

    build()
    network, scales, data, batch_size, fp32_layers, kwargs, deltas = calls[0]
    stride = next(s for s in (2 ** k for k in range(10)) if -(-len(kept) // s) <= bias_correction.SAMPLES)
    assert stride == 4
    measured = np.concatenate([g["x"] for g in data])
    np.testing.assert_array_equal(measured, kept[::stride])  # 96 (128) samples over all 384 (512) calibrating ones
    assert _rare_rows(measured) >= 2, _rare_rows(measured)
    # the shifts of exactly those samples (float64 sums in other chunks: float32-rounded results agree closely)
    want = real(network, scales, {"x": kept[::stride]}, 8, fp32_layers, (), **{k: v for k, v in kwargs.items()
                                                                                    if k != "limit"})
    assert set(want) == set(deltas) and want
    for name in want:
        np.testing.assert_allclose(deltas[name], want[name], rtol=1e-5, atol=1e-7, err_msg=name)
    with monkeypatch.context() as m:  # the rule before: the first samples
        m.setattr(holdout, "Strided", _First)
        build()
    assert _rare_rows(np.concatenate([g["x"] for g in calls[0][2]])) == 0


def test_layer_inputs_kept_from_the_pass_follow_the_thinned_kept_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the check, the collapse model's 256 samples keep 192
    calibrating ones, more than bias_correction.SAMPLES (128): the router's
    second-pass buffer thins them to every 2nd (96), and the layer inputs
    kept from the calibration pass (pass_values.py) are thinned alike, so
    bias correction measures the kept samples without a float32 pass of its
    own (the held-out ones take one where it is kept: run.py's refit), and
    the engine and the decisions are those with that pass, byte for byte."""
    from accuracy_models import entropy_collapse_case

    case = entropy_collapse_case()
    calib = [{"x": case.calib[s:s + 16]} for s in range(0, len(case.calib), 16)]
    monkeypatch.setattr("int8rt.accuracy.run.UNSIGNED_MSE", "mse")  # the sets before acc44's "mse unsigned"
    routers = _record_routers(monkeypatch)

    def build() -> int8rt.Engine:
        return int8rt.build_engine(case.model, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(calib, algorithm="auto"), accuracy_check=False, bias_correction=True))

    shifts = _float_passes(monkeypatch, bias_correction)
    shared = build()
    assert routers[0].search_buffer.stride == 2 and len(routers[0].search_buffer) == 96
    assert shifts[0] == 1  # the held-out samples' refit only
    monkeypatch.setattr(pass_values.PassValues, "after_batch", lambda *args, **kwargs: None)  # nothing kept
    separate = build()
    assert shifts[0] >= 3
    assert separate.build_report().auto_choice == shared.build_report().auto_choice
    assert separate.serialize() == shared.serialize()
