"""auto's "mse" set against the MSE calibrator (accuracy/auto_choice.py, step
1; RESULTS_accuracy.md acc53): the chosen method's final thresholds come from
that method's exact search over every sample's histograms, so an auto build
that chooses mse holds, on every int8 tensor, the thresholds of
IInt8MSECalibrator binning as auto does (``calibrator.AUTO_NUM_BINS`` bins,
``AUTO_POLICY``) on the same samples, bit for bit. On the calibrators' default
binning (2048 bins, "extend") the MSE calibrator's thresholds differ: the
binning, not auto's choice, is what sets auto's mse apart from that
calibrator's engine (acc53 measured it as the method's own spread over
binnings, not a loss of auto's).

auto's entropy searches its candidates up to the bin that holds the maximum
(auto.to_maximum), as TensorRT's does on the calibrators' histograms, whose
range ends there; on auto's power-of-two range the full search often lands
past the maximum."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt.accuracy.auto import method_amax, to_maximum
from int8rt.calib import Histogram
from int8rt.calibrator import AUTO_NUM_BINS, AUTO_POLICY

from accuracy_models import entropy_collapse_case
from golden_methods import amax_entropy


@pytest.fixture(scope="module")
def built():
    """The collapse model (accuracy_models.py, 256 samples in batches of 16),
    auto with no correction or form trial, and the MSE calibrator on auto's
    binning and on its own default: (auto engine, {label: scales})."""
    c = entropy_collapse_case()
    batches = [{"x": c.calib[i:i + 16]} for i in range(0, 256, 16)]

    def build(algorithm: str, **options) -> tuple[int8rt.Engine, dict[str, float]]:
        calibrator = int8rt.make_calibrator(batches, algorithm=algorithm, **options)
        engine = int8rt.build_engine(c.model, int8rt.BuilderConfig(
            calibrator=calibrator, accuracy_check=False, bias_correction=False, equalize=False,
            unsigned_activations=False))
        plan = engine.int8_plan()
        return engine, {t.tensor: (t.scale, tuple(t.channel_scales)) for t in plan.tensors}

    auto, auto_scales = build("auto")
    return auto, {"auto": auto_scales,
                  "mse, auto's binning": build("mse", num_bins=AUTO_NUM_BINS, policy=AUTO_POLICY)[1],
                  "mse, default binning": build("mse")[1]}


def test_auto_mse_is_the_mse_calibrator_on_auto_binning(built) -> None:
    auto, scales = built
    assert auto.build_report().auto_choice["thresholds"] == "mse"
    assert scales["auto"], "no int8 tensor"
    assert scales["auto"] == scales["mse, auto's binning"]


def test_the_calibrators_default_binning_sets_other_mse_thresholds(built) -> None:
    _, scales = built
    mine, theirs = scales["auto"], scales["mse, default binning"]
    assert mine.keys() == theirs.keys()
    assert any(mine[n] != theirs[n] for n in mine), mine


def test_auto_entropy_searches_up_to_the_maximum() -> None:
    """2000 normal values on auto's grid (4096 bins, power of two: the range
    3.58 -> 4): TensorRT's entropy over every bin lands past the maximum
    (3.98); auto's searches the bins up to the one holding it and equals the
    independent NumPy reference (golden_methods.py) run on those bins. An
    "extend" histogram holds its maximum in its last bin: unchanged."""
    x = np.random.default_rng(9).normal(0.0, 1.0, 2000).astype(np.float32)
    h = Histogram(AUTO_NUM_BINS, AUTO_POLICY)
    h.collect(x)
    assert h.compute_amax("entropy") > h.max_abs  # the premise
    counts = h.counts
    top = int(np.flatnonzero(counts)[-1]) + 1
    assert top < len(counts)
    got = method_amax(h, "entropy", {})
    assert got <= float(np.float32(top) * np.float32(h.bin_width))
    assert got == float(np.float32(amax_entropy(counts[:top], h.bin_width, h.max_abs)))
    e = Histogram(2048, "extend")
    e.collect(x)
    assert to_maximum(e) is e
    assert method_amax(e, "entropy", {}) == float(np.float32(e.compute_amax("entropy")))
