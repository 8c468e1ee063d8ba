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

auto's entropy is TensorRT's search over every bin of auto's histogram, as
the entropy calibrator's is over its own, also where it lands past the
maximum (auto.method_amax says why: the cut at the maximum of acc53 was
taken out in acc61)."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from int8rt.accuracy.auto import method_amax
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


def test_auto_entropy_searches_every_bin() -> None:
    """2000 normal values on auto's grid (4096 bins, power of two: the range
    3.58 -> 4): auto's entropy threshold is TensorRT's search over every bin
    and equals the independent NumPy reference (golden_methods.py) run on
    them, here past the maximum (3.98): not cut at the bin holding it."""
    x = np.random.default_rng(9).normal(0.0, 1.0, 2000).astype(np.float32)
    h = Histogram(AUTO_NUM_BINS, AUTO_POLICY)
    h.collect(x)
    counts = h.counts
    assert int(np.flatnonzero(counts)[-1]) + 1 < len(counts)  # the premise: empty bins past the maximum
    got = method_amax(h, "entropy", {})
    assert got == float(np.float32(amax_entropy(counts, h.bin_width, h.max_abs)))
    assert got == float(np.float32(h.compute_amax("entropy")))
    assert got > h.max_abs
