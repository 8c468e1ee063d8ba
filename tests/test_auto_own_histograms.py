"""auto's candidates hold the classic calibrators' thresholds exactly
(python/int8rt/accuracy/own_histograms.py; RESULTS_accuracy.md acc48).

auto bins its histograms 4096 over a power-of-two range, the calibrators
TensorRT's 2048 over the first batch's maximum, grown; run.py feeds a
second collector with the calibrators' settings from the same batches, and
entropy / mse / percentile searched on it (exactly; an input's LayerNorm image held at its
range) are sets judged with auto's own. Checked on the tests' entropy-
collapse CNN (accuracy_models.py), where the two binnings move the
searches: with the check on (the default: every calibrator then calibrates
on the same kept samples) each such set is the calibrator's cache, bit for
bit, on every tensor; auto made to choose one builds that calibrator's
engine (the same outputs); with the check off (auto's choice reads the kept
samples, every sample sets the final thresholds) the final thresholds of a
chosen own set are the calibrator's over every sample. The last two tests
pin the pieces: the final search and the folds' paired collectors."""
from __future__ import annotations

import os

import numpy as np
import pytest

import int8rt
from int8rt._numerics import scale_from_amax
from int8rt.accuracy import auto, auto_choice, own_histograms
from int8rt.calib import read_cache
from int8rt.calib.collector import Collector

from accuracy_models import entropy_collapse_case

OWN = {m: m + auto.OWN_SUFFIX for m in ("entropy", "mse", "percentile 99.99")}
CALIBRATOR = {"entropy": "entropy", "mse": "mse", "percentile 99.99": "percentile"}
# every other auto decision off, so that the thresholds alone make the engine
FIXED = dict(bias_correction=False, equalize=False, unsigned_activations=False)


@pytest.fixture(scope="module")
def case():
    return entropy_collapse_case(0)


def _batches(calib: np.ndarray) -> list[dict[str, np.ndarray]]:
    return [{"x": calib[i:i + 32]} for i in range(0, len(calib), 32)]


def _calibrator_engine(case, tmp_path: str, method: str, check: bool = True):
    cache = os.path.join(tmp_path, f"{method}.cache")
    cal = int8rt.make_calibrator(_batches(case.calib), algorithm=method, cache_file=cache)
    engine = int8rt.build_engine(case.model, int8rt.BuilderConfig(calibrator=cal, accuracy_check=check))
    return engine, read_cache(open(cache, "rb").read())[2]


def _auto_engine(case, monkeypatch, check: bool = True, cache: str = ""):
    seen: dict = {}
    choose = auto_choice.choose

    def recording(build, sets, *args, **kwargs):
        seen.update(sets)
        return choose(build, sets, *args, **kwargs)

    monkeypatch.setattr("int8rt.accuracy.run.auto_choice.choose", recording)
    cal = int8rt.make_calibrator(_batches(case.calib), algorithm="auto", cache_file=cache or None)
    config = int8rt.BuilderConfig(calibrator=cal, accuracy_check=check, **FIXED)
    return int8rt.build_engine(case.model, config), seen


def _force(monkeypatch, label: str) -> None:
    monkeypatch.setattr(auto_choice, "DEFAULT_METHOD", label)
    monkeypatch.setattr(auto_choice._Errors, "clearly_below", lambda self, other: False)
    monkeypatch.setattr(auto_choice, "FOLD_GAIN", 1.0)  # no fold can override


def test_each_own_set_is_its_calibrators_thresholds(case, tmp_path, monkeypatch) -> None:
    engine, sets = _auto_engine(case, monkeypatch)
    moved = 0
    for method, label in OWN.items():
        _, scales = _calibrator_engine(case, str(tmp_path), CALIBRATOR[method])
        own, binned = sets[label][0], sets[method][0]
        names = [n for n in scales if n in own]
        assert len(names) >= 3
        for n in names:
            assert np.float32(scale_from_amax(own[n])) == np.float32(scales[n]), (method, n)
        moved += any(abs(binned[n] - own[n]) > 0.01 * own[n] for n in names)
    # auto's own binning moves the searches on this network (why the sets are needed)
    assert moved >= 1
    assert set(own_histograms.OWN_LABELS) <= set(engine.build_report().auto_choice["errors"])


@pytest.mark.parametrize("method", ["entropy", "mse"])
def test_auto_choosing_an_own_set_builds_that_calibrators_engine(case, tmp_path, monkeypatch, method) -> None:
    single, _ = _calibrator_engine(case, str(tmp_path), CALIBRATOR[method])
    _force(monkeypatch, OWN[method])
    engine, _ = _auto_engine(case, monkeypatch)
    assert engine.build_report().auto_choice["thresholds"] == OWN[method]
    x = case.eval_x[:64]
    np.testing.assert_array_equal(engine.run({"x": x})["logits"], single.run({"x": x})["logits"])


def test_unforced_auto_keeps_its_mse_default_and_scores_the_calibrators_sets_after(case, monkeypatch) -> None:
    """auto's mse stays the default (the calibrator's mse as the default,
    scored first, changed the decisions after it: GoogLeNet -0.042 centred
    cosine, acc48); the calibrators' sets follow auto's, so a calibrator's
    set within 1% of auto's set of the method shares its errors (percentile
    here: the same errors object, reported alike)."""
    engine, sets = _auto_engine(case, monkeypatch)
    choice = engine.build_report().auto_choice
    assert list(sets)[-3:] == list(own_histograms.OWN_LABELS)
    assert choice["errors"]["percentile 99.99"] == choice["errors"][OWN["percentile 99.99"]]
    assert choice["thresholds"] in {**sets, "mse unsigned": None}


def test_a_chosen_set_whose_calibrators_set_is_its_twin_takes_the_calibrators_thresholds() -> None:
    """own_histograms.twin_methods: the chosen label's calibrator's set,
    scored as its twin (auto_choice.choose shares the errors object), is the
    one the final search reads; an own set with errors of its own is not."""
    shared, other = object(), object()
    methods = {"a": "auto:all mse", "b": "auto:minmax", "c": "auto:all mse unsigned"}
    twin = auto_choice.Choice("mse", {}, {}, {"mse": shared, OWN["mse"]: shared}, {})
    label, got = own_histograms.twin_methods(twin, methods)
    assert label == OWN["mse"]
    assert got == {"a": f"auto:all {OWN['mse']}", "b": "auto:minmax", "c": "auto:all mse unsigned"}
    apart = auto_choice.Choice("mse", {}, {}, {"mse": shared, OWN["mse"]: other}, {})
    assert own_histograms.twin_methods(apart, methods) == ("mse", methods)
    chosen_own = auto_choice.Choice(OWN["mse"], {}, {}, {OWN["mse"]: shared}, {})
    assert own_histograms.twin_methods(chosen_own, methods) == (OWN["mse"], methods)


def test_without_the_check_the_final_thresholds_are_the_calibrators_over_every_sample(case, tmp_path,
                                                                                      monkeypatch) -> None:
    _, scales = _calibrator_engine(case, str(tmp_path), "entropy", check=False)
    _force(monkeypatch, OWN["entropy"])
    cache = os.path.join(str(tmp_path), "auto.cache")
    engine, sets = _auto_engine(case, monkeypatch, check=False, cache=cache)
    assert engine.build_report().auto_choice["thresholds"] == OWN["entropy"]
    got = read_cache(open(cache, "rb").read())[2]
    # every tensor but the logits, the float32 output: a threshold that changes
    # nothing in the engine keeps the kept samples' search (auto_choice.apply_methods)
    held = [n for n in scales if n in sets[OWN["entropy"]][0] and n != "logits"]
    assert len(held) >= 4
    for n in held:
        assert np.float32(got[n]) == np.float32(scales[n]), n


def _two_binnings(seed: int) -> tuple[Collector, Collector]:
    rng = np.random.default_rng(seed)
    mine = Collector("entropy", num_bins=4096, policy="power_of_two")
    theirs = Collector("entropy", num_bins=own_histograms.OWN_BINS, policy=own_histograms.OWN_POLICY)
    for _ in range(4):
        batch = {"t": np.maximum(rng.standard_normal((64, 256)) * rng.gamma(2.0, 1.0, (64, 1)), 0).astype(np.float32)}
        mine.observe(batch)
        theirs.observe(batch)
    return mine, theirs


def test_the_final_search_reads_the_calibrators_histograms_for_own_sets_only() -> None:
    mine, theirs = _two_binnings(3)
    label = OWN["entropy"]
    exact = lambda c, m: auto.method_amax(c.histogram("t"), m, auto.options(m), exact=True)  # noqa: E731
    got = auto_choice.apply_methods(mine, {"t": f"auto:all {label}"}, {"t"}, {}, own=theirs)
    assert got["t"] == exact(theirs, label) == float(np.float32(theirs.histogram("t").compute_amax("entropy")))
    assert exact(theirs, label) != exact(mine, "entropy")
    assert auto_choice.apply_methods(mine, {"t": "auto:all entropy"}, {"t"}, {}, own=theirs)["t"] == exact(mine, "entropy")
    # the folds' paired collectors: an own set reads the calibrators' half
    paired = own_histograms.Paired(mine, theirs)
    assert auto_choice.apply_methods(paired, {"t": f"auto:all {label}"}, {"t"}, {})["t"] == exact(theirs, label)
    assert own_histograms.own_source(paired, "entropy") is paired and "t" in paired and paired.names == ["t"]
    assert own_histograms.is_own(label) and not own_histograms.is_own("entropy")
    assert "minmax" not in " ".join(own_histograms.OWN_LABELS)


def test_paired_collectors_merge_both_halves() -> None:
    a_mine, a_theirs = _two_binnings(5)
    b_mine, b_theirs = _two_binnings(6)
    merged = own_histograms.Paired(Collector("entropy", num_bins=4096, policy="power_of_two"),
                                   Collector("entropy", num_bins=own_histograms.OWN_BINS,
                                             policy=own_histograms.OWN_POLICY))
    merged.merge(own_histograms.Paired(a_mine, a_theirs))
    merged.merge(own_histograms.Paired(b_mine, b_theirs))
    a_theirs.merge(b_theirs)
    a_mine.merge(b_mine)
    assert np.array_equal(merged.own.histogram("t").counts, a_theirs.histogram("t").counts)
    assert np.array_equal(merged.histogram("t").counts, a_mine.histogram("t").counts)
