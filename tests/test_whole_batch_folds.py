"""Calibration that comes as whole batches (holdout.py routes a batch whole
where the network fixes its batch or its inputs are not all batch-first):
the batches held out are strided over the whole stream (not the first until
``max_check``), and the ``auto`` calibrator's folds are made of whole
batches (crossval.py), none where the network returns a state for its next
run (RESULTS_accuracy.md, acc23)."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt.accuracy import crossval, metrics
from int8rt.accuracy.holdout import SampleRouter
from int8rt.accuracy.taps import WholeBatch


def _stream(router: SampleRouter, batches: int, size: int = 2) -> tuple[list[int], list[int]]:
    """Routes ``batches`` batches of ``size`` samples (batch ``i`` all ``i``);
    returns the batches fed to the thresholds and those to the fit feed."""
    fed, fit = [], []
    route = router.wrap(lambda b: fed.append(int(b["x"][0, 0])), lambda: None,
                        fit_feed=lambda b, rows: fit.append(int(b["x"][0, 0])))
    for i in range(batches):
        route({"x": np.full((size, 1), i, np.float32)})
    return fed, fit


def test_held_out_whole_batches_span_the_stream() -> None:
    """64 whole batches of 2, every 4th held out (16: batches 3, 7, ..., 63),
    room for 8 samples (4 batches): the check holds batches 3, 19, 35, 51
    (the held-out ones at stride 4, strided.py), not the first four
    (3, 7, 11, 15). With the check on, a held-out batch the stride passes
    over calibrates; one kept and later thinned is lost to both (ordinals 1,
    2, 3, 6 of the held-out: batches 7, 11, 15, 27)."""
    router = SampleRouter(every=4, max_check=8, splittable=False)
    fed, _ = _stream(router, 64)
    held = [int(b["x"][0, 0]) for b in router.check_data()]
    assert held == [3, 19, 35, 51]
    assert all(isinstance(b, WholeBatch) for b in router.check_data())
    assert router.check_count == 8 and router.held_out
    lost = {7, 11, 15, 27}
    assert fed == [i for i in range(64) if i not in set(held) | lost]
    assert router.threshold_count == 2 * len(fed)
    # Without the check (auto's calibrate_held): every batch calibrates, the
    # same four are kept, and the held-out ones stay out of the fit feed.
    router = SampleRouter(every=4, max_check=8, splittable=False, calibrate_held=True)
    fed, fit = _stream(router, 64)
    assert [int(b["x"][0, 0]) for b in router.check_data()] == [3, 19, 35, 51]
    assert fed == list(range(64)) and fit == [i for i in range(64) if i % 4 != 3]
    # A stream that fits the room holds out every 4th batch, as before.
    router = SampleRouter(every=4, max_check=8, splittable=False)
    fed, _ = _stream(router, 16)
    assert [int(b["x"][0, 0]) for b in router.check_data()] == [3, 7, 11, 15]
    assert fed == [i for i in range(16) if i % 4 != 3]


def _whole(n: int, rows: int = 2, state: bool = False) -> list[WholeBatch]:
    rng = np.random.default_rng(n)
    out = []
    for i in range(n):
        b = {"x": np.full((rows, 4), i, np.float32)}
        if state:
            b["state"] = rng.standard_normal((2, rows, 3)).astype(np.float32)
        out.append(WholeBatch(b, rows))
    return out


def test_folds_of_whole_batches() -> None:
    kept, held = crossval.pool(_whole(5), _whole(2))
    assert len(kept) == 5 and len(held) == 2
    # kept batch i in fold 1 + i % 3, each whole
    assert [[int(b["x"][0, 0]) for b in crossval._fold_part(kept, f)] for f in range(3)] == [[0, 3], [1, 4], [2]]
    assert all(isinstance(b, WholeBatch) for f in range(3) for b in crossval._fold_part(kept, f))
    assert crossval.pool(_whole(2), _whole(2)) is None                          # fewer kept batches than folds
    assert crossval.pool(_whole(5), {"x": np.zeros((2, 4), np.float32)}) is None  # whole and split mixed
    # nor a 0-d input (a sample rate), nor inputs not batch-first
    assert crossval.pool(_whole(5, state=True), _whole(2, state=True)) is not None
    rate = [WholeBatch({**b, "sr": np.array(16000, np.int64)}, 2) for b in _whole(5)]
    assert crossval.pool(rate, rate[:2]) is not None
    # at most KEPT_SAMPLES / MAX_SAMPLES samples' worth, spread over the stream
    kept, held = crossval.pool(_whole(100), _whole(100))
    assert len(kept) == crossval.KEPT_SAMPLES // 2 and len(held) == crossval.MAX_SAMPLES // 2
    assert int(kept[-1]["x"][0, 0]) > 90


def test_a_state_returned_for_the_next_run_is_recognised() -> None:
    held = _whole(2, rows=2, state=True)  # state [2, 2, 3]: axis 0 alone cannot tell it from a batch
    state = np.zeros((2, 2, 3), np.float32)
    assert crossval.steps_on_state(held, {"y": np.zeros((2, 1), np.float32), "state_out": state})
    assert not crossval.steps_on_state(held, {"y": np.zeros((2, 1), np.float32)})
    assert not crossval.steps_on_state(held, {"y": state.astype(np.float64)})  # another type
    assert not crossval.steps_on_state(held, None)
    split = {"x": np.zeros((4, 4), np.float32)}  # samples, not whole batches: not this rule's
    assert not crossval.steps_on_state(split, {"y": np.zeros((4, 4), np.float32)})


def _collapse_auto(batch: int, folds: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, float]:
    """The collapse model (tests/accuracy_models.py, seed 2) imported with a
    fixed batch, auto calibrated on 96 digit images (check off): its choice
    and the relative L2 against float32 on the evaluation images."""
    from accuracy_models import entropy_collapse_case

    c = entropy_collapse_case(seed=2)
    net = lambda: int8rt.onnx.import_model(c.model, input_shapes={"x": [batch, *c.calib.shape[1:]]})  # noqa: E731
    if not folds:
        monkeypatch.setattr(crossval, "pool", lambda kept, held: None)
    engine = int8rt.build_engine(net(), int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(
        {"x": c.calib[:96]}, algorithm="auto", batch_size=batch), accuracy_check=False))
    monkeypatch.undo()
    fp32 = int8rt.build_engine(net(), int8rt.BuilderConfig(precision="fp32"))
    ev = c.eval_x[: len(c.eval_x) // batch * batch]
    run = lambda e: np.concatenate([e.run({"x": ev[i:i + batch]})["logits"]  # noqa: E731
                                    for i in range(0, len(ev), batch)])
    return engine.build_report().auto_choice, metrics.relative_l2(run(fp32), run(engine))


def test_a_fixed_batch_gets_folds_and_their_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a fixed batch of 8 (12 batches: 3 held out, 9 kept, folds of 3
    batches) the folds show mse's thresholds failing where minmax's hold, as
    folds of samples do with a free batch (test_auto_folds.py): auto takes
    minmax, and on the 270 evaluation images its engine is closer to float32
    than the held-out slice's choice (relative L2 0.0534 against 0.0540).
    Before (no folds for whole batches) it kept mse."""
    choice, err = _collapse_auto(8, True, monkeypatch)
    assert (choice["held_out_choice"], choice["thresholds"]) == ("mse", "minmax")
    assert set(choice["worst_fold_errors"]) >= {"mse", "minmax"}
    old_choice, old_err = _collapse_auto(8, False, monkeypatch)
    assert old_choice["thresholds"] == "mse" and "worst_fold_errors" not in old_choice
    assert err <= old_err, (err, old_err)


@pytest.mark.parametrize("n", [2, 3])
def test_no_folds_where_the_network_returns_its_state(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state [2, N, 4] in and out beside x [N, 8] (test_auto_edges' model,
    batch fixed; with N = 2 every input has 2 on axis 0): whole batches,
    held out and judged, but no folds; the same batches without the state
    output's shape match (the rule patched off) do make folds."""
    from test_auto_edges import _state_model

    rng = np.random.default_rng(4)
    batches = [{"x": rng.standard_normal((n, 8)).astype(np.float32),
                "state": rng.standard_normal((2, n, 4)).astype(np.float32)} for _ in range(24)]

    def auto() -> dict:
        return int8rt.build_engine(_state_model(n), int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator(batches, algorithm="auto"), accuracy_check=False)).build_report().auto_choice

    choice = auto()
    assert choice["samples"] == 6 * n and "worst_fold_errors" not in choice
    monkeypatch.setattr(crossval, "steps_on_state", lambda held, outputs: False)
    assert "worst_fold_errors" in auto()
