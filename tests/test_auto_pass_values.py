"""The auto calibrator's values kept from the calibration pass
(python/int8rt/accuracy/pass_values.py, Builder.copy_last_rows) and its
engines lowered once: the same engine, byte for byte, and the same
decisions as with the float32 passes of their own that they replace; and
the MSE search's eight candidates per pass (csrc/calib/mse.cc) against the
golden reference where the candidates do not fill the lanes."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt import _core
from int8rt.accuracy import auto_choice, bias_correction, pass_values
from int8rt.calib import Collector

from accuracy_models import entropy_collapse_case
from golden_methods import amax_mse
from test_equalize import separable_cnn


def _auto(model: bytes, calib: dict[str, np.ndarray], batch: int, unsigned: bool | None = False) -> int8rt.Engine:
    # unsigned activations pinned off where a case is about one decision (they change the engine it measures)
    return int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(calib, algorithm="auto", batch_size=batch), accuracy_check=False,
        unsigned_activations=unsigned))


def _float_passes(monkeypatch: pytest.MonkeyPatch, module) -> list[int]:
    """Counts the float32 engines ``module`` makes for a pass of its own."""
    calls = [0]
    make = module.fp32_tap_engine

    def counted(*args, **kwargs):
        calls[0] += 1
        return make(*args, **kwargs)
    monkeypatch.setattr(module, "fp32_tap_engine", counted)
    return calls


@pytest.mark.parametrize("case", ["bias kept", "bias left off", "equalized"])
def test_kept_values_give_the_same_engine_and_choice(monkeypatch, case):
    """The collapse model (class scores), where auto keeps bias correction
    (seed 0: the engine measured is the build's) and where it leaves it off
    (seed 2: the chosen set's engine is the build's); the separable CNN,
    where it keeps cross-layer equalization after calibration, so the layer
    inputs kept before it are dropped and bias correction measures the
    equalized network with a pass of its own."""
    if case != "equalized":
        c = entropy_collapse_case(seed=0 if case == "bias kept" else 2)
        model, calib, batch = c.model, {"x": c.calib[:96]}, 16
    else:
        model, batch = separable_cnn(), 16
        calib = {"x": np.random.default_rng(5).normal(0, 1, (64, 3, 12, 12)).astype(np.float32)}
    scorer, shifts = _float_passes(monkeypatch, auto_choice), _float_passes(monkeypatch, bias_correction)
    shared = _auto(model, calib, batch)
    choice = shared.build_report().auto_choice
    assert scorer[0] == 0  # the held-out reference came from the calibration pass
    if case != "equalized":
        assert choice["bias_correction"] == ("on (auto)" if case == "bias kept" else "off (auto)"), choice
        # so did bias correction's layer inputs; kept, its shifts are measured again with the
        # held-out samples too (run.py, _refit_shifts), whose layer inputs take a pass of their own
        assert shifts[0] == (1 if case == "bias kept" else 0)
    else:
        assert choice["equalization"].startswith("on (auto"), choice
        assert shifts[0] == 1  # measured on the equalized network
    monkeypatch.setattr(pass_values.PassValues, "after_batch", lambda *args: None)  # nothing kept
    separate = _auto(model, calib, batch)
    assert scorer[0] == 1 and shifts[0] >= 1
    assert separate.build_report().auto_choice == choice
    assert separate.serialize() == shared.serialize()


def test_kept_values_with_unsigned_activations_decided_by_auto(monkeypatch):
    """auto deciding unsigned activations too: bias correction then measures
    on the unsigned grid (its layer inputs still from the calibration
    pass); the engine and every decision are those of separate passes."""
    c = entropy_collapse_case(seed=2)
    calib = {"x": c.calib[:96]}
    shared = _auto(c.model, calib, 16, unsigned=None)
    choice = shared.build_report().auto_choice
    assert "unsigned_activations" in choice, choice
    monkeypatch.setattr(pass_values.PassValues, "after_batch", lambda *args: None)  # nothing kept
    separate = _auto(c.model, calib, 16, unsigned=None)
    assert separate.build_report().auto_choice == choice
    assert separate.serialize() == shared.serialize()


def test_a_budget_that_keeps_part_of_the_layer_inputs(monkeypatch):
    """Past the budget the remaining chunks run a float32 pass of their
    own: the shifts, and so the engine, are the same."""
    c = entropy_collapse_case(seed=2)
    calib = {"x": c.calib[:96]}
    full = _auto(c.model, calib, 16)
    monkeypatch.setattr(pass_values, "BUDGET_BYTES", 12 * 2 * 16 * 8 * 8 * 4 + 1)  # the first batch's 12 kept rows
    shifts = _float_passes(monkeypatch, bias_correction)
    part = _auto(c.model, calib, 16)
    assert shifts[0] == 1
    assert part.serialize() == full.serialize()


def test_copy_last_rows_is_the_rows_alone():
    """Rows of an intermediate tensor and of the output after a batch equal
    a float32 engine's run on those rows alone (batch-invariant kernels);
    None for what is not kept; rows out of order are refused."""
    c = entropy_collapse_case()
    network = int8rt.onnx.import_model(c.model)
    builder = _core.Builder(network)
    x = np.ascontiguousarray(c.calib[:8])
    collector = Collector("entropy")
    builder.calibrate_batch({"x": x}, collector._native)
    opt = builder.optimized_network()
    rows = [1, 4, 6]
    relu = "r1"  # the first conv's fused ReLU output
    assert opt.find_tensor(relu) >= 0
    alone = int8rt.build_engine(c.model, int8rt.BuilderConfig(precision="fp32")).run({"x": x[rows]})
    assert np.array_equal(builder.copy_last_rows("logits", rows), alone["logits"])
    from int8rt.accuracy.taps import fp32_tap_engine
    tapped = fp32_tap_engine(opt, [relu]).create_execution_context().run({"x": x[rows]})
    assert np.array_equal(builder.copy_last_rows(relu, rows), tapped[relu])
    assert builder.copy_last_rows("no such tensor", rows) is None
    with pytest.raises(int8rt.InvalidArgumentError):
        builder.copy_last_rows("logits", [4, 1])


@pytest.mark.parametrize("bins,stride", [(5, 1), (9, 1), (23, 1), (130, 3), (300, 7)])
def test_mse_candidates_not_filling_the_lanes(bins, stride):
    """3..43 candidates (groups of eight, the last padded): the golden
    reference's threshold, bit for bit."""
    rng = np.random.default_rng(bins)
    for trial in range(5):
        counts = rng.integers(0, 50, bins).astype(np.int64)
        counts[rng.random(bins) < 0.3] = 0
        counts[0] += 1
        got = _core._amax_from_counts(counts, 0.25, bins * 0.25, "mse", stride=stride, start_bin=2)
        assert np.float32(got) == amax_mse(counts, 0.25, stride=stride, start_bin=2), (bins, stride, trial)
