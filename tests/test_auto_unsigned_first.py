"""auto decides unsigned activations before it chooses the thresholds
(python/int8rt/accuracy/run.py, ``CalibrationRun.thresholds``): the trial
runs at the default set's (mse) thresholds, and where unsigned is kept
every set, and every fold, is scored in that form. So the mse set's
held-out error is the unsigned trial's own, exactly (the same engine), and
the folds' errors are those of unsigned engines. Before, the sets were
scored symmetric and unsigned decided afterwards at the final thresholds,
where the two errors differ."""
from __future__ import annotations

import int8rt
from accuracy_models import entropy_collapse_case


def _auto(seed: int, **config) -> dict:
    c = entropy_collapse_case(seed=seed)
    engine = int8rt.build_engine(c.model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator({"x": c.calib[:96]}, algorithm="auto", batch_size=16),
        accuracy_check=False, **config))
    return engine.build_report().auto_choice


def test_sets_are_scored_in_the_unsigned_form_auto_keeps() -> None:
    choice = _auto(1)
    assert choice["unsigned_activations"].startswith("on (auto"), choice
    errors = choice["errors"]
    assert errors["mse"] == errors["unsigned on"]  # the trial's engine is the mse set's
    assert errors["unsigned on"] < errors["unsigned off"]


def test_unsigned_forced_off_leaves_the_sets_symmetric() -> None:
    """BuilderConfig(unsigned_activations=False): no trial, the sets are
    scored as before (symmetric), and the folds too."""
    choice = _auto(1, unsigned_activations=False)
    assert choice["unsigned_activations"] == "off (BuilderConfig)"
    assert "unsigned on" not in choice["errors"] and "mse" in choice["errors"]
