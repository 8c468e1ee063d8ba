"""Accuracy of INT8 builds: the build report, the ``auto`` calibrator's
search and the FP32-vs-INT8 comparison (see docs/accuracy.md).

``engine.build_report()`` returns a :class:`BuildReport`; :mod:`.metrics`
holds the error measures every part uses.
"""
from __future__ import annotations

from . import metrics
from .report import BuildReport, OutputCheck, TensorCheck

__all__ = ["BuildReport", "OutputCheck", "TensorCheck", "metrics"]
