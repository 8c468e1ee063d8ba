"""The auto calibrator's runs of the samples it holds apart, for
:class:`run.CalibrationRun` (a mixin: the methods read the run's router,
builder and network): collectors like the session's, the kept and held-out
samples pooled into folds (crossval.py), the held-out samples' run into the
folds' histograms, and the float32 outputs the builder's last calibration
batch computed. Split out of run.py (one job per file, STYLE.md); the
behaviour is run.py's as it was.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _core

__all__ = ["FoldRuns"]


class FoldRuns:
    """The held-out and fold runs of :class:`run.CalibrationRun`."""

    def _new_collector(self, session: Any) -> Any:
        """An empty collector like the session's (method, bins, range policy)."""
        from ..calib import Collector

        c = session.collector
        return Collector(c.algorithm, num_bins=c.num_bins, policy=c.policy,
                         nonfinite=getattr(self._calibrator, "_int8rt_options", {}).get("nonfinite", "error"))

    def _pooled(self) -> Any:
        from . import crossval

        if self._state:
            return None
        return crossval.pool(self.router.fold_data(), self.router.held_data())

    def _held_run(self, session: Any) -> Optional[tuple[Any, Optional[list[dict[str, np.ndarray]]]]]:
        """The folds' run of the held-out samples (crossval.calibrated),
        where folds can be made; None elsewhere."""
        from . import crossval

        pooled = self._pooled()
        if pooled is None:
            return None
        return crossval.calibrated(pooled[1], self._chunk, self._calibrate_into, lambda: self._new_collector(session),
                                   self._last_outputs)

    def _calibrate_into(self, chunk: dict[str, np.ndarray], collector: Any) -> None:
        self._builder.calibrate_batch(chunk, collector._native)

    def _folds(self, session: Any, sets: dict[str, Any], held_run: Any = None) -> Any:
        """The folds of the kept samples auto_choice.choose scores the sets
        on (crossval.py); None where the samples do not make folds.
        ``held_run``: :meth:`_held_run`'s, made already."""
        from . import crossval

        pooled = self._pooled()
        if pooled is None:
            return None
        return crossval.Folds(
            self._builder.build, self._calibrate_into, lambda: self._new_collector(session),
            self._network, *pooled, self._chunk, self._int8_names, {k: v[0] for k, v in sets.items()},
            last_outputs=self._last_outputs, held_run=held_run, at_range=self._at_range, unsigned=self._unsigned_grid)

    def _last_outputs(self) -> Optional[dict[str, np.ndarray]]:
        """The network's float32 outputs as the builder's last
        ``calibrate_batch`` computed them (None where one cannot be read)."""
        out = {}
        for i in self._network.outputs():
            name = self._network.tensor(i)["name"]
            try:
                value = self._builder.copy_last(name)
            except _core.Error:  # no batch has run in this builder
                return None
            if value is None:
                return None
            out[name] = value
        return out
