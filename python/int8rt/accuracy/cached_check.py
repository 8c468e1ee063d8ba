"""The accuracy check's samples for an engine whose scales came from a cache.

A present calibration cache skips calibration, as in TensorRT: the
calibrator's ``get_batch`` is never called. When the calibrator serves data
the user handed over in memory (:class:`int8rt.data_calibrator.ArrayCalibrator`:
``make_calibrator(data, cache_file=...)``, ``int8rt build --cache C
--calib-data D``), that data is read anyway, after the build, for the check
alone: routed by the same :class:`holdout.SampleRouter` a calibrating build
uses, so the check measures the slice such a build holds out of its
thresholds (the cache's own calibration data is unknown: if it was this data,
by a build with the same ``holdout_every``, those samples are unseen by the
thresholds). The other rows are read and dropped. A calibrator of the user's
own class is not asked for batches (its ``get_batch`` may be costly, or
TensorRT code that expects no call after a cache hit); the report says so.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ..calib.session import _BatchChecker
from ..data_calibrator import ArrayCalibrator
from .holdout import SampleRouter
from .taps import Samples

__all__ = ["held_out_data"]

NOT_ASKED = ("the scales came from the calibration cache, so the calibrator was not asked for data (as TensorRT); "
             "a calibrator made from arrays (make_calibrator, int8rt build --calib-data) is measured on its data")
NO_DATA = ("the scales came from the calibration cache and no calibration data was given to measure on "
           "(int8rt build --calib-data, or make_calibrator(data, cache_file=...))")


def held_out_data(calibrator: Any, router: SampleRouter, input_names: Sequence[str],
                  input_shapes: Optional[Mapping[str, Sequence[int]]] = None) -> tuple[Optional[Samples], str]:
    """``(samples, "")`` to measure an engine built from the cache on, or
    ``(None, why not)``. Each batch is checked as the calibration loop checks
    it (count, names, dtype, rank, batch size) and routed by ``router``."""
    if not isinstance(calibrator, ArrayCalibrator):
        return None, NOT_ASKED
    if calibrator.num_batches == 0:
        return None, NO_DATA
    names = list(input_names)
    check = _BatchChecker(type(calibrator).__name__, names, int(calibrator.get_batch_size()), input_shapes)
    route = router.wrap(lambda inputs: None, skip=lambda: None)  # thresholds are the cache's: nothing to feed
    index = 0
    while True:
        index += 1
        inputs = check(calibrator.get_batch(names), index)
        if inputs is None:
            break
        route(inputs)
    return router.check_data(), ""
