"""auto's candidate sets cross-validated over folds of the calibration
samples, so that the choice sees how each method does on samples its
thresholds were not fitted on, fold by fold, not on one held-out slice.

The held-out split (holdout.py: every 4th sample) is one draw from the
calibration stream; the samples that reach furthest (the brightest crops,
the loudest clips) may all sit among the samples the thresholds came from,
and then the held-out slice rewards thresholds fitted tightly to the rest
(mse, percentile) though the deployment's inputs reach further. On four
networks calibrated on dim crops (benchmarks/RESULTS_realnets.md,
newnetsacc: seed 2 of seg_models.images) auto chose mse on the held-out
slice while minmax, which clips nothing, was up to 0.08 of centred cosine
closer to float32 on brighter evaluation images; on levit_128 one of the
folds below shows it (relative L2 0.41 for mse there, 0.33 for minmax,
where the held-out slice has mse 0.18 and minmax 0.26).

Folds: the held-out slice is fold 0, scored as before (auto_choice.choose,
thresholds from the kept samples). The kept samples (holdout.py's
``search_data``) make ``FOLDS - 1`` more: kept sample ``i`` is in fold
``1 + i % (FOLDS - 1)``; for each, every method's thresholds come from the
histograms of all the other samples (the held-out ones included), and its
engine is scored on the fold (:func:`fold_errors`). auto_choice.choose
then guards its pick by the *worst* fold (the minimax, group-robust
criterion: a set must hold up on every slice of the calibration data, the
one holding the furthest-reaching samples included), not by the mean over
folds, which rewards the tight thresholds as the single slice does (on
levit_128 calibrated on dim crops the mean over four folds still ranked
mse first: RESULTS_accuracy.md, 2026-12-03 late night).

Only where the samples allow it: held-out samples exist, the kept samples
are one group of one input shape (not whole batches, not several image
sizes) of at least ``FOLDS - 1`` samples, and the held-out samples share
that shape; otherwise the choice is the held-out slice's alone.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional

import numpy as np

from .._numerics import scale_from_amax
from .taps import Samples, WholeBatch, batches, fp32_tap_engine, groups

__all__ = ["FOLDS", "MAX_SAMPLES", "fold_errors", "pool"]

logger = logging.getLogger("int8rt")

# Folds in all, the held-out slice included ...
FOLDS = 4
# ... over at most this many kept samples and as many held-out ones (the first).
MAX_SAMPLES = 64

Inputs = dict[str, np.ndarray]


def _signature(group: Inputs) -> tuple:
    return tuple((k, v.shape[1:], v.dtype.kind) for k, v in sorted(group.items()))


def pool(kept: Optional[Samples], held: Optional[Samples]) -> Optional[tuple[Inputs, Inputs]]:
    """The kept and the held-out samples, one array per input each (at most
    ``MAX_SAMPLES`` of each), where the folds can be made of them (module
    docstring); else None."""
    kept_groups = groups(kept) if kept is not None else []
    held_groups = groups(held) if held is not None else []
    if len(kept_groups) != 1 or len(held_groups) != 1 or \
            any(isinstance(g, WholeBatch) for g in kept_groups + held_groups):
        return None
    k, h = dict(kept_groups[0]), dict(held_groups[0])
    if _signature(k) != _signature(h) or any(v.ndim == 0 for v in k.values()):
        return None
    k = {n: v[:MAX_SAMPLES] for n, v in k.items()}
    h = {n: v[:MAX_SAMPLES] for n, v in h.items()}
    if len({len(v) for v in k.values()}) != 1 or len(next(iter(k.values()))) < FOLDS - 1:
        return None
    return k, h


def fold_errors(build: Callable[[dict[str, float]], Any], calibrate: Callable[[Inputs, Any], None],
                new_collector: Callable[[], Any], network: Any, kept: Inputs, held: Inputs, batch_size: int,
                labels: tuple[str, ...], int8_names: set[str]) -> dict[str, list[Any]]:
    """For folds ``1 .. FOLDS - 1`` of ``kept`` (module docstring): label ->
    that method's errors on each fold (auto_choice's per-sample errors),
    its thresholds from every other kept sample and every ``held`` one.

    ``build(scales)`` lowers an engine, ``calibrate(chunk, collector)`` runs
    the float32 network over a chunk into a collector (the builder's
    ``calibrate_batch``), ``new_collector()`` makes an empty collector like
    the calibration's (bins, range policy). Within a fold, sets whose
    thresholds on ``int8_names`` are within 1% of a set scored already
    share its errors (as in auto_choice.choose)."""
    from .auto_choice import Scorer, _close, single_method_sets

    n = len(next(iter(kept.values())))
    out: dict[str, list[Any]] = {label: [] for label in labels}
    fp32 = fp32_tap_engine(network, []).create_execution_context()  # one float32 engine for every fold's reference
    for fold in range(FOLDS - 1):
        scored = np.arange(n) % (FOLDS - 1) == fold
        collector = new_collector()
        for part in ({k: v[~scored] for k, v in kept.items()}, held):
            for chunk in batches(part, batch_size):
                calibrate(chunk, collector)
        sets = single_method_sets(collector, list(collector.names), exact=set(), methods=labels)
        data = [{k: v[scored] for k, v in kept.items()}]
        judge = Scorer(network, data, batch_size, [fp32.run(chunk) for chunk in batches(data, batch_size)])
        errors: dict[str, Any] = {}
        for label, (amaxes, _) in sets.items():
            twin = next((k for k in errors if all(_close(sets[k][0][t], amaxes[t]) for t in int8_names
                                                  if t in amaxes and t in sets[k][0])), None)
            errors[label] = errors[twin] if twin is not None else \
                judge(build({t: scale_from_amax(a) for t, a in amaxes.items()}))
            out[label].append(errors[label])
    logger.debug("auto calibration: %d more folds of %d kept samples", FOLDS - 1, n)
    return out
