"""auto's sets on the classic calibrators' own histograms (python/int8rt/
accuracy/auto.py, OWN_LABELS; RESULTS_accuracy.md acc46): auto keeps its
histograms at 4096 bins over a power-of-two range, the calibrators at
TensorRT's 2048 over the first batch's maximum; run.py feeds a second set
of histograms with the calibrators' settings from the same batches, and
entropy / mse / percentile searched on them are sets judged with the others,
so auto's candidates hold the engine each calibrator builds.

Checked on the tests' entropy-collapse CNN (accuracy_models.py), where the
two binnings give the entropy search different thresholds: the set
"entropy (calibrator's histogram)" has the EntropyCalibrator2's thresholds
(its cache's scales, bit for bit) on every tensor the engine holds in int8,
and auto made to choose it builds the entropy calibrator's engine (the same
outputs, bit for bit); the final exact search reads the calibrators'
histograms for those sets only. Without the change there is no such set
(the first two tests fail on it: KeyError / the label unknown) and the
final search would read auto's histograms."""
from __future__ import annotations

import os

import numpy as np
import pytest

import int8rt
from int8rt._numerics import scale_from_amax
from int8rt.accuracy import auto, auto_choice
from int8rt.calib import read_cache
from int8rt.calib.collector import Collector

from accuracy_models import entropy_collapse_case

OWN_ENTROPY = "entropy (calibrator's histogram)"
# every other auto decision off, so that the thresholds alone make the engine
FIXED = dict(bias_correction=False, equalize=False, unsigned_activations=False)


@pytest.fixture(scope="module")
def case():
    return entropy_collapse_case(0)


def _batches(calib: np.ndarray) -> list[dict[str, np.ndarray]]:
    return [{"x": calib[i:i + 32]} for i in range(0, len(calib), 32)]


def _entropy_engine(case, tmp_path) -> tuple[int8rt.Engine, dict[str, float]]:
    cache = os.path.join(tmp_path, "entropy.cache")
    cal = int8rt.make_calibrator(_batches(case.calib), algorithm="entropy", cache_file=cache)
    engine = int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=cal))
    return engine, read_cache(open(cache, "rb").read())[2]


def _auto_engine(case, monkeypatch) -> tuple[int8rt.Engine, dict[str, tuple[dict[str, float], dict[str, str]]]]:
    seen: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    choose = auto_choice.choose

    def recording(build, sets, *args, **kwargs):
        seen.update(sets)
        return choose(build, sets, *args, **kwargs)

    monkeypatch.setattr("int8rt.accuracy.run.auto_choice.choose", recording)
    cal = int8rt.make_calibrator(_batches(case.calib), algorithm="auto")
    return int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=cal, **FIXED)), seen


def test_the_own_entropy_set_is_the_entropy_calibrators_thresholds(case, tmp_path, monkeypatch) -> None:
    _, scales = _entropy_engine(case, str(tmp_path))
    engine, sets = _auto_engine(case, monkeypatch)
    own, binned = sets[OWN_ENTROPY][0], sets["entropy"][0]
    held = [n for n in scales if n in own and n != "x"]
    assert held
    for n in held:
        assert np.float32(scale_from_amax(own[n])) == np.float32(scales[n]), n
    # auto's own binning moves the entropy search on this network (why the set is needed)
    assert any(abs(binned[n] - own[n]) > 0.01 * own[n] for n in held)
    assert set(auto.OWN_LABELS) <= set(engine.build_report().auto_choice["errors"])


def test_auto_choosing_the_own_set_builds_the_entropy_calibrators_engine(case, tmp_path, monkeypatch) -> None:
    entropy, _ = _entropy_engine(case, str(tmp_path))
    monkeypatch.setattr(auto_choice, "DEFAULT_METHOD", OWN_ENTROPY)
    monkeypatch.setattr(auto_choice._Errors, "clearly_below", lambda self, other: False)
    monkeypatch.setattr(auto_choice, "FOLD_GAIN", 1.0)  # no fold can override
    engine, _ = _auto_engine(case, monkeypatch)
    assert engine.build_report().auto_choice["thresholds"] == OWN_ENTROPY
    x = case.eval_x[:64]
    np.testing.assert_array_equal(engine.run({"x": x})["logits"], entropy.run({"x": x})["logits"])


def test_the_final_search_reads_the_calibrators_histograms_for_those_sets_only() -> None:
    rng = np.random.default_rng(3)
    mine = Collector("entropy", num_bins=4096, policy="power_of_two")
    theirs = Collector("entropy", num_bins=auto.OWN_BINS, policy=auto.OWN_POLICY)
    for _ in range(4):
        batch = {"t": np.maximum(rng.standard_normal((64, 256)) * rng.gamma(2.0, 1.0, (64, 1)), 0).astype(np.float32)}
        mine.observe(batch)
        theirs.observe(batch)
    exact = lambda c, m: auto.method_amax(c.histogram("t"), m, auto.options(m), exact=True)  # noqa: E731
    got = auto_choice.apply_methods(mine, {"t": f"auto:all {OWN_ENTROPY}"}, {"t"}, {}, own=theirs)
    assert got["t"] == exact(theirs, OWN_ENTROPY) == float(np.float32(theirs.histogram("t").compute_amax("entropy")))
    assert auto_choice.apply_methods(mine, {"t": "auto:all entropy"}, {"t"}, {}, own=theirs)["t"] == exact(mine, "entropy")
    # without the calibrators' histograms (the equalization trial's rescaled ones): the method on those given
    assert auto_choice.apply_methods(mine, {"t": f"auto:all {OWN_ENTROPY}"}, {"t"}, {})["t"] == exact(mine, "entropy")
    assert auto.is_own(OWN_ENTROPY) and not auto.is_own("entropy") and "minmax" not in " ".join(auto.OWN_LABELS)
