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
``fold_data``: strided over the whole calibration stream, as the held-out
samples the choice reads are) make ``FOLDS - 1`` more: kept sample ``i`` is in fold
``1 + i % (FOLDS - 1)``; for each, every method's thresholds come from the
histograms of all the other samples (the held-out ones included: the
merge of the other folds' collectors, each fold run once), and its
engine is scored on the fold (:class:`Folds`). auto_choice.choose
then guards its pick by the *worst* fold (the minimax, group-robust
criterion: a set must hold up on every slice of the calibration data, the
one holding the furthest-reaching samples included), not by the mean over
folds, which rewards the tight thresholds as the single slice does (on
levit_128 calibrated on dim crops the mean over four folds still ranked
mse first: RESULTS_accuracy.md, 2026-12-03 late night).

Only where the samples allow it: held-out samples exist, every input has a
samples axis, and there are at least ``FOLDS - 1`` kept samples; otherwise
the choice is the held-out slice's alone.

Whole batches (holdout.py routes a batch whole where the network fixes its
batch or its inputs are not all batch-first) make folds of whole batches:
kept batch ``i`` (of at most ``KEPT_SAMPLES`` samples' worth, strided over
the stream) is in fold ``1 + i % (FOLDS - 1)``, at least one batch per
fold, each batch run as it came (until 2026-12-05, acc23, whole batches
made no folds). A network exported with a fixed batch of one so gets the
samples in its folds and held-out slice that its twin with a free batch
gets (scored uncentred: auto_choice compares a whole batch's outputs as
they are); the collapse model of the tests takes minmax from its folds
with a fixed batch of 1 or 8 as with a free one. Not where the network
returns a state for its next run (:func:`steps_on_state`: an output shaped
as an input, Silero VAD's ``stateN`` [2, N, 128] for ``state``): such a
network is deployed step by step on its own state, over a stream, and its
calibration batches are consecutive chunks of a few streams, so its folds
are slices of the same streams. On Silero VAD calibrated on one speaker's
clip every slice of it (the held-out slice, folds of every third batch or
of three contiguous blocks) ranks entropy or minmax ahead of mse, and the
folds override mse; streamed on another speaker mse keeps a centred
cosine of 0.92 against entropy's 0.72 and minmax's 0.76, and auto's
0.88 fell to 0.73 / 0.76 with the folds (benchmarks/silero_auto_stream.py).
A stream's slices cannot show what another stream costs, so the default
method's guard is kept there (RESULTS_accuracy.md, acc23).

Samples of several input shapes (a segmenter calibrated on several image
sizes) make folds as one shape does: kept
sample ``i`` counts over the groups in order, and a fold holds its samples
of each group (until 2026-12-04 such networks had no folds; on issue 11's
LRASPP row the one silhouette crop among 16 calibration samples, which the
held-out slice did not hold, then decided nothing: RESULTS_accuracy.md,
acc16).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping, Optional

import numpy as np

from .._numerics import scale_from_amax
from .state_loop import shaped_like_input
from .taps import Samples, WholeBatch, batches, count, fp32_tap_engine, groups, rows, spread

__all__ = ["FOLDS", "Folds", "KEPT_SAMPLES", "MAX_SAMPLES", "calibrated", "pool", "steps_on_state"]

logger = logging.getLogger("int8rt")

# Folds in all, the held-out slice included ...
FOLDS = 4
# ... over at most this many held-out samples (auto_choice.CHOICE_SAMPLES's,
# spread evenly over those the router kept: taps.spread) ...
MAX_SAMPLES = 64
# ... and this many kept ones, strided over the whole calibration stream
# (holdout.py's fold_data, strided.py). With 64, which 64 of the bundled
# digits model's 192 kept samples made the folds decided its choice (the
# first 64: minmax's worst fold 0.0137 against mse's 0.0186, and minmax was
# taken; 64 spread over all: 0.0148 against 0.0186, not taken, and 0.0107
# -> 0.0166 relative L2 on its test digits); with up to 128, 0.0123 against
# 0.0237 (RESULTS_accuracy.md, acc17).
KEPT_SAMPLES = 128

Inputs = dict[str, np.ndarray]


def pool(kept: Optional[Samples], held: Optional[Samples]) -> Optional[tuple[list[Inputs], list[Inputs]]]:
    """The kept and the held-out samples, one group (one array per input)
    per input shape each, or the whole batches as they are (at most
    ``KEPT_SAMPLES`` and ``MAX_SAMPLES``, spread over them: ``taps.spread``),
    where the folds can be made of them (module docstring); else None."""
    kept_groups = groups(kept) if kept is not None else []
    held_groups = groups(held) if held is not None else []
    if not kept_groups or not held_groups:
        return None
    whole = [isinstance(g, WholeBatch) for g in kept_groups + held_groups]
    if any(whole):  # folds of whole batches, at least one per fold
        if not all(whole):
            return None
        k, h = spread(kept_groups, KEPT_SAMPLES), spread(held_groups, MAX_SAMPLES)
        return (k, h) if len(k) >= FOLDS - 1 else None
    if any(v.ndim == 0 for g in kept_groups + held_groups for v in g.values()) or \
            any(len({len(v) for v in g.values()}) != 1 for g in kept_groups + held_groups):
        return None
    k, h = spread(kept_groups, KEPT_SAMPLES), spread(held_groups, MAX_SAMPLES)
    if count(k) < FOLDS - 1:
        return None
    return k, h


def steps_on_state(held: Optional[Samples], outputs: Optional[Mapping[str, np.ndarray]]) -> bool:
    """Whole batches (``held``, the held-out ones) of a network that returns
    a state for its next run: one of ``outputs`` (the float32 outputs of a
    calibration batch) has the shape and type of a float input of rank >= 2
    of the first batch (Silero VAD's ``stateN`` and ``state``;
    state_loop.shaped_like_input, the rule's home). Such networks get no
    folds (module docstring). False for samples that are not whole batches,
    or without outputs to compare."""
    return shaped_like_input(held, outputs)


def _fold_part(kept: list[Inputs], fold: int) -> list[Inputs]:
    """Fold ``1 + fold``'s samples: kept sample ``i`` (counted over the
    groups in order) is in fold ``1 + i % (FOLDS - 1)``; one group per
    input shape that has any. Whole batches (:func:`pool`): kept batch
    ``i`` is in fold ``1 + i % (FOLDS - 1)``, as it is."""
    if kept and all(isinstance(g, WholeBatch) for g in kept):
        return [g for i, g in enumerate(kept) if i % (FOLDS - 1) == fold]
    out, start = [], 0
    for g in kept:
        n = rows(g)
        which = (start + np.arange(n)) % (FOLDS - 1) == fold
        start += n
        if which.any():
            out.append({k: v[which] for k, v in g.items()})
    return out


def calibrated(part: Samples, batch_size: int, calibrate: Callable[[Inputs, Any], None],
               new_collector: Callable[[], Any], last_outputs: Optional[Callable[[], Optional[Inputs]]] = None
               ) -> tuple[Any, Optional[list[Inputs]]]:
    """``part`` run through the float32 network chunk by chunk
    (``batches(part, batch_size)``) into a new collector; beside it, the
    network's outputs of each chunk as those runs left them
    (``last_outputs()``, :class:`Folds`), or None where one cannot be read
    or no ``last_outputs`` is given."""
    collector = new_collector()
    reference: Optional[list[Inputs]] = [] if last_outputs is not None else None
    for chunk in batches(part, batch_size):
        calibrate(chunk, collector)
        outputs = last_outputs() if reference is not None else None
        reference = None if outputs is None else [*reference, outputs]
    return collector, reference


class Folds:
    """Folds ``1 .. FOLDS - 1`` of the kept samples (module docstring), each
    calibrated once, when a method is first asked of it; :meth:`errors`
    scores one method on every fold.

    Args:
        build: ``build(scales) -> _core.Engine``, the build's lowering.
        calibrate: ``calibrate(chunk, collector)`` runs the float32 network
            over a chunk into a collector (the builder's ``calibrate_batch``).
        last_outputs: ``last_outputs()``, the network's float32 outputs as
            the last ``calibrate`` computed them (the builder's ``copy_last``
            of each output), or None where they cannot be read: then a
            float32 engine runs the folds again for their reference.
        held_run: :func:`calibrated` of ``held`` made already (the held-out
            samples' histograms and float32 outputs, which the choice's
            scorer read first); None: the folds calibrate them.
        new_collector: an empty collector like the calibration's (bins,
            range policy).
        network: the builder's optimized network (the float32 reference).
        kept, held: :func:`pool`'s samples.
        batch_size: samples per run.
        int8_names: the tensors the engine holds in int8: only their
            thresholds are searched per fold (the others change nothing in
            the engine and keep ``base``'s).
        base: label -> thresholds of every tensor (auto_choice's sets).
        at_range: the tensors every set holds at their calibration range
            (auto_choice.RANGE_METHOD: input_range.py), per fold as well.
        unsigned: the tensors the engine holds unsigned, which the set
            auto.UNSIGNED_MSE searches on that grid (auto.tensor_label).
    """

    def __init__(self, build: Callable[[dict[str, float]], Any], calibrate: Callable[[Inputs, Any], None],
                 new_collector: Callable[[], Any], network: Any, kept: Samples, held: Samples, batch_size: int,
                 int8_names: set[str], base: Mapping[str, Mapping[str, float]],
                 last_outputs: Optional[Callable[[], Optional[Inputs]]] = None,
                 held_run: Optional[tuple[Any, Optional[list[Inputs]]]] = None,
                 at_range: frozenset[str] | set[str] = frozenset(),
                 unsigned: frozenset[str] | set[str] = frozenset()) -> None:
        self._build, self._calibrate, self._new_collector = build, calibrate, new_collector
        self._last_outputs, self._held_run = last_outputs, held_run
        self._network, self._kept, self._held, self._batch_size = network, groups(kept), held, batch_size
        self._int8_names, self._base, self._at_range, self._unsigned = int8_names, base, at_range, unsigned
        self._folds: list[tuple[Any, Any]] = []  # (collector, scorer) per fold, made on first use
        self._scored: list[dict[str, tuple[dict[str, float], Any]]] = []  # per fold: label -> (amaxes, errors)
        self.seconds = 0.0  # spent in errors(), calibrating the folds included

    @property
    def samples(self) -> int:
        """Kept samples the folds are made of."""
        return count(self._kept)

    def _fold(self, fold: int) -> tuple[Any, Any]:
        from .auto_choice import Scorer

        if not self._folds:
            # Each fold's samples and the held-out ones run once, each into a
            # collector of its own; a fold's thresholds come from the merge of
            # the others' (histograms merge: one float32 pass over the samples
            # for all folds, not one per fold). Each fold's float32 reference
            # is the outputs its own runs left, else an engine's.
            parts = [_fold_part(self._kept, g) for g in range(FOLDS - 1)]
            runs = [calibrated(part, self._batch_size, self._calibrate, self._new_collector, self._last_outputs)
                    for part in parts]
            held = self._held_run or calibrated(self._held, self._batch_size, self._calibrate, self._new_collector)
            collected = [c for c, _ in runs] + [held[0]]
            references = [r for _, r in runs]
            fp32 = None
            for g, part in enumerate(parts):
                merged = self._new_collector()
                for other in collected[:g] + collected[g + 1:]:
                    merged.merge(other)
                reference = references[g]
                if reference is None:
                    fp32 = fp32 or fp32_tap_engine(self._network, []).create_execution_context()
                    reference = [fp32.run(chunk) for chunk in batches(part, self._batch_size)]
                self._folds.append((merged, Scorer(self._network, part, self._batch_size, reference)))
                self._scored.append({})
        return self._folds[fold]

    def errors(self, label: str) -> list[Any]:
        """Method ``label`` (an auto.CANDIDATES label) fitted on all but each
        fold and scored on that fold (auto_choice's per-sample errors), one
        per fold. Within a fold, a method whose thresholds on the int8
        tensors are within 1% of one scored already shares its errors (as
        in auto_choice.choose)."""
        from .auto import method_amax, options, tensor_label
        from .auto_choice import RANGE_METHOD, _close

        t0 = time.perf_counter()
        per = {n: RANGE_METHOD if n in self._at_range else tensor_label(label, n in self._unsigned)
               for n in self._int8_names}
        out = []
        for fold in range(FOLDS - 1):
            collector, judge = self._fold(fold)
            scored = self._scored[fold]
            if label not in scored:
                amaxes = dict(self._base[label])
                amaxes.update({n: method_amax(collector.histogram(n), per[n], options(per[n]))
                               for n in self._int8_names if n in collector})
                twin = next((k for k, (a, _) in scored.items()
                             if all(_close(a[t], amaxes[t]) for t in self._int8_names if t in a and t in amaxes)),
                            None)
                scored[label] = (amaxes, scored[twin][1] if twin is not None else
                                 judge(self._build({t: scale_from_amax(a) for t, a in amaxes.items()})))
            out.append(scored[label][1])
        self.seconds += time.perf_counter() - t0
        logger.debug("auto calibration: %s scored on %d more folds of %d kept samples", label, FOLDS - 1,
                     self.samples)
        return out
