"""Steps that read calibration samples a second time see the whole stream
and count samples by one rule (issue 12; benchmarks/RESULTS_accuracy.md,
acc21):

- SmoothQuant's migration factors come from every calibration batch
  (smoothquant.Prefetch), so an outlier channel that shows only late in the
  stream reaches them (before: the first 64 samples only);
- a batch routed whole (inputs not all batch-first: a state ``[2, N, H]``)
  counts its ``N`` samples against the router's limits and in
  ``taps.rows`` / ``take`` / ``spread`` (before: one), and ``spread``
  picks whole batches over the whole stream (before: the first ones);
- auto's fit samples, where nothing is held out, are spread over the kept
  ones (before: the first ``FIT_SAMPLES``)."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import int8rt
from int8rt.accuracy import auto_choice, holdout, smoothquant, taps
from int8rt.accuracy.metrics import relative_l2

from test_equalize import _fp32_outputs, outlier_linear

STREAM, BATCH = 512, 8
LATE = [300, 377, 450]  # the only samples where channel 5 of h is wide
GAIN = np.ones(32, np.float32)
GAIN[[3, 10, 17, 30]] = 40.0  # outlier_linear's h = x * GAIN


def _late_outlier_stream() -> np.ndarray:
    x = np.random.default_rng(0).normal(0, 1, (STREAM, 6, 32)).astype(np.float32)
    x[LATE, 2, 5] = 60.0
    return x


def _smoothed(x: np.ndarray, monkeypatch: pytest.MonkeyPatch, budget: int | None = None
              ) -> tuple[dict[str, np.ndarray], object]:
    """A minmax SmoothQuant build of outlier_linear on ``x`` in batches of
    BATCH; the channel maxima its factors came from, and the engine."""
    seen: dict[str, np.ndarray] = {}
    maxima = smoothquant.channel_maxima

    def recorded(*args, **kwargs):
        seen.update(maxima(*args, **kwargs))
        return seen
    monkeypatch.setattr(smoothquant, "channel_maxima", recorded)
    if budget is not None:
        monkeypatch.setattr(smoothquant, "Prefetch", functools.partial(smoothquant.Prefetch, budget=budget))
    cal = int8rt.make_calibrator([{"x": x[s:s + BATCH]} for s in range(0, len(x), BATCH)], algorithm="minmax")
    engine = int8rt.build_engine(outlier_linear(), int8rt.BuilderConfig(
        calibrator=cal, channel_activations=False, smoothquant=True, accuracy_check=False))
    monkeypatch.undo()
    return seen, engine


def test_a_late_outlier_channel_reaches_the_smoothquant_factors(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _late_outlier_stream()
    whole = np.abs(x * GAIN).reshape(-1, 32).max(axis=0)  # the float32 product the engine's Mul makes
    seen, engine = _smoothed(x, monkeypatch)
    assert np.array_equal(seen["h"], whole)
    assert seen["h"][5] == 60.0
    # The rule before: the first 64 samples (a budget that holds 8 batches)
    # never see channel 5 wide, and the engine made from them is worse on
    # every kind of input, the late kind most.
    first, before = _smoothed(x, monkeypatch, budget=64 * 6 * 32 * 4 - 1)
    assert np.array_equal(first["h"], np.abs(x[:64] * GAIN).reshape(-1, 32).max(axis=0))
    assert first["h"][5] < 5.0
    ev = np.concatenate([x[LATE], np.random.default_rng(1).normal(0, 1, (29, 6, 32)).astype(np.float32)])
    ref = _fp32_outputs(outlier_linear(), ev)
    errors = {}
    for name, e in (("whole", engine), ("first", before)):
        out = next(iter(e.create_execution_context().run({"x": ev}).values()))
        errors[name] = relative_l2(ref[:3], out[:3]), relative_l2(ref[3:], out[3:])
    # Measured 0.0247 / 0.0221 (whole stream) against 0.0372 / 0.0319 (first 64).
    assert all(w < 0.8 * f for w, f in zip(errors["whole"], errors["first"])), errors


def test_prefetch_replays_every_batch_and_measures_them_all() -> None:
    batches = [{"x": np.full((2, 3), i, np.float32)} for i in range(5)]
    cal = int8rt.make_calibrator(batches, algorithm="minmax")
    pre = smoothquant.Prefetch(cal, ["x"])
    assert pre.samples == 10 and pre.first_rows == 2
    assert [p["x"][0, 0] for p in pre.data] == [0, 1, 2, 3, 4]
    replayed = [pre.get_batch(["x"]) for _ in range(6)]
    assert [float(np.asarray(b["x"] if isinstance(b, dict) else b[0])[0, 0]) for b in replayed[:5]] == [0, 1, 2, 3, 4]
    assert not replayed[5]


def _state_batches(n: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    return [{"x": rng.standard_normal((3, 8)).astype(np.float32),
             "state": rng.standard_normal((2, 3, 4)).astype(np.float32)} for _ in range(n)]


def test_whole_batches_count_their_samples_against_the_limits() -> None:
    """Batches of 3 samples with a state [2, 3, 4] (shapes fixed at import):
    held out every 2nd batch until 4 samples are held, so 2 batches (6
    samples; before: 4 batches, each counted as one); the second pass's
    cap of 6 samples is 2 whole batches; rows / take / spread count 3 a batch."""
    shapes = {"x": [3, 8], "state": [2, 3, 4]}
    router = holdout.SampleRouter(every=2, max_check=4, max_search=6, splittable=False, input_shapes=shapes)
    route = router.wrap(lambda inputs: None, lambda: None)
    for b in _state_batches(12):
        route(b)
    held = router.held_data()
    assert router.check_count == 6 and len(held) == 2
    assert all(isinstance(g, taps.WholeBatch) and taps.rows(g) == 3 for g in held)
    assert taps.count(held) == 6 and router.samples(router.check_data()) == 6
    assert len(taps.take(held, 4)) == 2 and len(taps.take(held, 3)) == 1
    assert len(taps.spread(held, 3)) == 1
    # spread over whole batches: as many as hold the limit, evenly over all of them
    ten = [taps.WholeBatch({"x": np.full((3, 1), i)}, 3) for i in range(10)]
    assert [int(g["x"][0, 0]) for g in taps.spread(ten, 9)] == [0, 3, 6]
    assert [int(g["x"][0, 0]) for g in taps.spread(ten, 30)] == list(range(10))
    assert [taps.rows(c) for c in taps.batches(held, 1)] == [3, 3]  # whole, and still counted so
    searched = router.search_data()
    assert taps.count(searched) <= 6 and len(searched) == 2  # strided over the 10 calibrating batches
    # the rule without declared shapes: the one size both inputs have
    assert taps.rows(taps.WholeBatch(_state_batches(1)[0])) == 3


def test_fit_samples_spread_over_the_kept_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing held out: the choice is judged on FIT_SAMPLES of the kept
    samples spread over all of them (sample i * n // FIT_SAMPLES), not the first."""
    scored = []
    monkeypatch.setattr(auto_choice, "Scorer", lambda network, data, *args: scored.append(data) or data)
    fit = [{"x": np.arange(40, dtype=np.float32)[:, None]}, {"x": np.arange(40, 88, dtype=np.float32)[:, None]}]
    _, where = auto_choice.judge_for(None, fit, None, 8)
    assert where == "fit"
    n = 88
    want = [i * n // auto_choice.FIT_SAMPLES for i in range(auto_choice.FIT_SAMPLES)]
    assert np.concatenate([g["x"][:, 0] for g in scored[0]]).tolist() == want
