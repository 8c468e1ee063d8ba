"""Steps that read calibration samples a second time see the whole stream
and count samples by one rule (issue 12; benchmarks/RESULTS_accuracy.md,
acc21; SmoothQuant's statistics: tests/test_smoothquant_in_pass.py):

- a batch routed whole (inputs not all batch-first: a state ``[2, N, H]``)
  counts its ``N`` samples against the router's limits and in
  ``taps.rows`` / ``take`` / ``spread`` (before: one), and ``spread``
  picks whole batches over the whole stream (before: the first ones);
- auto's fit samples, where nothing is held out, are spread over the kept
  ones (before: the first ``FIT_SAMPLES``)."""
from __future__ import annotations

import numpy as np
import pytest

from int8rt.accuracy import auto_choice, holdout, taps


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
