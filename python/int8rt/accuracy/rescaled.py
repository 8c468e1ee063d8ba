"""The histograms the ``auto`` calibrator's trial of cross-layer
equalization needs, collected during the calibration pass itself.

Equalization (equalize.py) divides each channel c of a pair's first conv
output by a factor s_c that depends on the weights only, so the equalized
network's tensor is the original one divided by s_c along axis 1 (up to
the float rounding of the rescaled weights). Its factors are computed
before the pass, and after each batch the pass runs, the rows of those
tensors the builder keeps (``Builder.copy_last_rows``, as pass_values.py
reads them) are divided by them and binned into a collector of their own.
The trial's rescaled tensors then get their thresholds from every sample
the pass calibrated on, as every other tensor does, instead of from a
second float32 pass over the few kept samples: on PP-OCR cls the kept 64 of
256 lines gave thresholds whose engine scored held-out error 0.082 against
0.065 without equalization, where the thresholds from all 256 score 0.042
(RESULTS_accuracy.md, 2026-12-03 afternoon). Where rows cannot be read (a
fixed batch, inputs that are not batch-first), nothing is collected and
the trial falls back to the kept samples (run.py).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

__all__ = ["RescaledHistograms"]


class RescaledHistograms:
    """Histograms of the tensors equalization would rescale, as rescaled.

    Args:
        builder: the ``_core.Builder`` whose ``calibrate_batch`` runs the pass.
        factors: tensor -> the factor each channel (axis 1) is divided by.
        collector: an empty ``int8rt.calib.Collector`` like the session's.
    """

    def __init__(self, builder: Any, factors: dict[str, list[float]], collector: Any, plan: Any = None) -> None:
        self._builder = builder
        self.factors = {n: np.asarray(f, np.float32) for n, f in factors.items()}
        self.plan = plan  # the equalize.Plan the factors came from: the trial applies it (run.py)
        self.collector = collector
        self.samples = 0
        self.failed = False

    @classmethod
    def for_network(cls, builder: Any, network: Any, skip: set[str],
                    make_collector: Callable[[], Any]) -> Optional["RescaledHistograms"]:
        """For ``builder``'s optimized ``network``; None when it has no pair
        to equalize (``skip``: layers kept in float)."""
        from .equalize import plan

        computed = plan(network, skip=skip)
        return cls(builder, computed.factors, make_collector(), computed) if computed.factors else None

    def wrap(self, feed: Callable[[dict[str, np.ndarray]], None]) -> Callable[[dict[str, np.ndarray]], None]:
        """``feed`` (which runs the builder on a batch), then the batch's
        rows of the rescaled tensors into :attr:`collector`."""
        def run(inputs: dict[str, np.ndarray]) -> None:
            feed(inputs)
            if not self.failed:
                self._observe(inputs)
        return run

    def _observe(self, inputs: dict[str, np.ndarray]) -> None:
        shapes = [np.shape(a) for a in inputs.values()]
        n = shapes[0][0] if shapes and shapes[0] else 0
        if not n or any(not s or s[0] != n for s in shapes):
            self.failed = True
            return
        values = {}
        for name, f in self.factors.items():
            v = self._builder.copy_last_rows(name, list(range(n)))
            if v is None or v.ndim < 2 or v.shape[1] != len(f):
                self.failed = True
                return
            values[name] = v / f.reshape((1, -1) + (1,) * (v.ndim - 2))
        self.collector.observe(values)
        self.samples += n

    def complete(self, factors: dict[str, list[float]]) -> bool:
        """Whether the pass collected every batch, for the tensors and
        factors ``factors`` (those of the trial's equalized copy)."""
        return (not self.failed and self.samples > 0 and set(factors) == set(self.factors)
                and all(np.array_equal(np.asarray(f, np.float32), self.factors[n]) for n, f in factors.items()))
