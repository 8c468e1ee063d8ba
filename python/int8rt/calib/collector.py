"""Collector: streams named activation tensors into one histogram each and
turns them into per-tensor thresholds, scales and a TensorRT cache.

A thin face over ``int8rt._core.Collector`` (csrc/calib/collector.cc). Memory
does not grow with the data: each batch is binned and dropped.
"""
from __future__ import annotations

from typing import Any, Mapping

from .. import _core
from .cache import DEFAULT_VERSION
from .histogram import Histogram

__all__ = ["Collector", "METHOD_OPTIONS"]

# Keyword options of the threshold methods (see int8rt.calib.compute_amax).
METHOD_OPTIONS = ("num_bits", "is_unsigned", "start_bin", "stride", "percentile", "reference_order")


class Collector:
    """One histogram per named tensor, and the threshold search over all of them.

    Args:
        algorithm: threshold method: ``"entropy"`` (TensorRT's
            EntropyCalibration2, the default), ``"entropy_legacy"``,
            ``"minmax"``, ``"percentile"`` or ``"mse"``.
        num_bins: histogram bins per tensor (2048, as TensorRT).
        policy: how a histogram's range is set and grown: ``"extend"``,
            ``"power_of_two"`` or ``"two_pass"`` (call :meth:`observe_range`
            over all data first, then :meth:`observe`).
        nonfinite: ``"error"`` (NaN/Inf raise ``InvalidArgumentError`` naming
            the tensor) or ``"skip"`` (such values are skipped and counted).
        **method_options: options of the method: ``num_bits``, ``is_unsigned``,
            ``start_bin``, ``stride``, ``percentile``, ``reference_order``.

    Not safe for concurrent mutation from several threads; to calibrate in
    parallel, give each worker its own Collector and :meth:`merge` them.
    """

    def __init__(self, algorithm: str = "entropy", *, num_bins: int = 2048, policy: str = "extend",
                 nonfinite: str = "error", **method_options: Any) -> None:
        unknown = sorted(set(method_options) - set(METHOD_OPTIONS))
        if unknown:
            raise TypeError(f"Collector: unknown method option(s) {unknown}; "
                            f"accepted: {', '.join(METHOD_OPTIONS)}")
        self._native = _core.Collector(algorithm, num_bins, policy, nonfinite, **method_options)

    @classmethod
    def _wrap(cls, core: Any) -> "Collector":
        obj = cls.__new__(cls)
        obj._native = core
        return obj

    def observe(self, tensors: Mapping[str, Any]) -> None:
        """Adds one batch: tensor name -> array (float32, float16 or float64;
        any shape and strides). May be called any number of times. All or
        nothing: if any array is rejected (wrong dtype, NaN under
        ``nonfinite="error"``), no histogram changes. Runs without the GIL."""
        self._native.observe(_items(tensors))

    def observe_range(self, tensors: Mapping[str, Any]) -> None:
        """First pass of ``policy="two_pass"``: records each tensor's range."""
        self._native.observe_range(_items(tensors))

    @property
    def names(self) -> list[str]:
        """Tensor names in first-observed order."""
        return list(self._native.names)

    @property
    def algorithm(self) -> str:
        """The threshold method's name."""
        return self._native.method

    @property
    def policy(self) -> str:
        """The histogram range policy."""
        return self._native.policy

    @property
    def num_bins(self) -> int:
        """Initial bins per histogram."""
        return self._native.num_bins

    def __len__(self) -> int:
        return len(self._native)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._native

    def histogram(self, name: str) -> Histogram:
        """A copy of the histogram of tensor ``name`` (``InvalidArgumentError`` if unseen)."""
        return Histogram._wrap(self._native.histogram(name))

    def merge(self, other: "Collector") -> None:
        """Adds another collector's histograms (same ``policy``), e.g. from a shard."""
        if not isinstance(other, Collector):
            raise TypeError(f"Collector.merge expects a Collector, got {type(other).__name__}")
        self._native.merge(other._native)

    def add_histogram(self, name: str, histogram: Histogram) -> None:
        """Adds ``histogram`` (same ``policy``) as the histogram of tensor
        ``name``, which must be new to the collector (``InvalidArgumentError``
        otherwise): for a tensor whose histogram is made from others' (a
        SmoothQuant-smoothed activation, accuracy/smooth_stats.py)."""
        if not isinstance(histogram, Histogram):
            raise TypeError(f"Collector.add_histogram expects a Histogram, got {type(histogram).__name__}")
        self._native.add_histogram(name, histogram._native)

    def amaxes(self) -> dict[str, float]:
        """Threshold (amax) per tensor in observed order; searches run in parallel."""
        return dict(self._native.amaxes())

    def scales(self) -> dict[str, float]:
        """TensorRT scale ``amax / 127`` (float32) per tensor, in observed order."""
        return dict(self._native.scales())

    def cache(self, version: int = DEFAULT_VERSION) -> bytes:
        """The TensorRT calibration cache of :meth:`scales` (header named after the algorithm)."""
        return self._native.cache(version)

    def __getstate__(self) -> Any:
        return self._native.__getstate__()

    def __setstate__(self, state: Any) -> None:
        core = _core.Collector.__new__(_core.Collector)
        core.__setstate__(state)
        self._native = core

    def __repr__(self) -> str:
        return (f"Collector(algorithm={self.algorithm!r}, num_bins={self.num_bins}, "
                f"policy={self.policy!r}, tensors={len(self)})")


def _items(tensors: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if not isinstance(tensors, Mapping):
        raise TypeError(f"expected a mapping {{tensor name: array}}, got {type(tensors).__name__}")
    items = list(tensors.items())
    for name, _ in items:
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {name!r} ({type(name).__name__})")
    return items
