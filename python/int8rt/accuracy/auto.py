"""IInt8AutoCalibrator's candidates: the thresholds of the classic methods,
computed from a tensor's histogram by the existing threshold functions
(csrc/calib: entropy as TensorRT's EntropyCalibration2 over every bin of
auto's histogram, :func:`method_amax` says why, minmax, MSE, and percentiles
99.9 / 99.99 / 99.999). auto_choice.py applies each of
auto_choice.GLOBAL_METHODS to every tensor (but an input's linear image that
a LayerNorm reads, which every set holds at its calibration range:
input_range.py) and judges the resulting engines by the network's outputs
on held-out calibration samples.

Until 2026-12-03 auto also chose per tensor, the candidate that least
disturbed the layers consuming the tensor (each consumer run in float32 on
kept samples once per candidate, AdaRound's and NNCF's per-layer objective
restricted to these thresholds), and refined the set block by block. On
every network of the benchmarks (PP-OCR cls / rec / det, digits, torch
ShuffleNetV2 / ResNet-50 / EfficientNet-Lite0 / ConvNeXt, BERT) the
whole-network choice then took a single method (mse on each in the last
table): the
per-tensor set and the refinements never beat it on held-out samples, and
they were half of an auto build's time (benchmarks/RESULTS_accuracy.md,
2026-12-03 early and morning). They were removed; the time goes to
measuring bias correction instead (run.py), which did pay.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CANDIDATES", "UNSIGNED_MSE", "method_amax", "options", "tensor_label"]

# Each method the whole-network choice applies to every tensor, with its
# options: minmax first (no search: its engine is built first, to learn
# which tensors the engine holds in int8), mse (auto_choice.DEFAULT_METHOD),
# TensorRT's current entropy. The legacy entropy (TensorRT's deprecated
# EntropyCalibration) is not one: its search is the slowest and it is the
# method that collapses PP-OCR cls and rec. Percentiles 99.9 and 99.999 were
# per-tensor candidates and never the chosen set.
CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("minmax", {}), ("mse", {}), ("percentile 99.99", {"percentile": 99.99}), ("entropy", {}))

# One more set where auto holds tensors unsigned (zero point -128: 255 steps
# over [0, threshold], twice as fine as TensorRT's symmetric grid): MSE
# searched on that grid (pytorch-quantization's unsigned quantizer,
# ``is_unsigned``) for those tensors, as MSE elsewhere. The mse set searches
# them on the symmetric grid's 127 steps, whose rounding error is 4x as
# large, so its optimum sits lower: on the CRNNs' conv ReLUs at 68-86 % of
# the calibration maximum, 5-15 % below this set's, and evaluation lines
# that run past the calibration maximum lose by it (RESULTS_accuracy.md,
# acc43 / acc44). A set of its own, judged as the others are, not a change
# of the mse set: on the held-out slices of the tests' collapse model it is
# higher than mse (0.055 against 0.050) where its folds are lower.
UNSIGNED_MSE = "mse unsigned"
_GRID_CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = ((UNSIGNED_MSE, {"is_unsigned": True}),)


def options(label: str) -> dict[str, Any]:
    """The options of method ``label``: a CANDIDATES label or ``UNSIGNED_MSE``."""
    return dict(CANDIDATES + _GRID_CANDIDATES)[label]


def tensor_label(label: str, unsigned: bool) -> str:
    """The method a tensor gets in set ``label``: ``UNSIGNED_MSE``'s only
    where the engine holds the tensor unsigned (``unsigned``), MSE on the
    symmetric grid elsewhere; any other set's own."""
    return "mse" if label == UNSIGNED_MSE and not unsigned else label


# MSE and the legacy entropy search try every bin as a threshold at O(bins)
# each; on histograms the "extend" policy has grown to thousands of bins
# that is half a second per tensor, so they try every k-th bin instead, at
# most this many candidates (entropy, minmax and percentile are fast as they are).
MAX_SEARCH_CANDIDATES = 256


def method_amax(hist: Any, label: str, options: dict[str, Any], *, exact: bool = False) -> float:
    """The threshold of method ``label`` (a CANDIDATES label) for histogram
    ``hist``; MSE and the legacy entropy over strided candidates unless
    ``exact``.

    Entropy searches every bin of auto's histogram, as the entropy
    calibrator's own search does on its histogram. On auto's power-of-two
    range that search can land past the data's maximum (a threshold that
    clips nothing on a coarser grid); from acc53 to acc61 (2026-12-07) the
    search stopped at the bin holding the maximum instead. With the float
    heads of acc54 / acc56 that cut no longer paid where it was measured
    (MTCNN PNet / RNet / ONet, 4 draws each, equal to the digit; PESTO 0.0128
    -> 0.0120 / 0.0116 relative L2 without it) and cost MiniLM 0.004 centred
    cosine (its bias correction turned off; benchmarks/RESULTS_accuracy.md
    acc61), so it was taken out."""
    method = label.split()[0]
    if method in ("mse", "entropy_legacy") and not exact:
        options = {**options, "stride": max(1, -(-len(hist.counts) // MAX_SEARCH_CANDIDATES))}
    return float(np.float32(hist.compute_amax(method, **options)))
