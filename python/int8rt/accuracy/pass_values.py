"""Values of the calibration pass that the ``auto`` calibrator's later steps
read again: copied out of the builder right after each batch instead of
computed by another float32 pass over the same samples.

Without the accuracy check, every calibration sample runs through the float32
network once (holdout.py's ``calibrate_held``), and the builder keeps the
batch's values until the next one (``Builder.copy_last_rows``). Two steps of
auto read values of those very samples:

- the choice and the corrections are scored against the float32 outputs of
  the held-out samples (auto_choice.Scorer): their rows of the network's
  outputs are kept here;
- bias correction measures each Conv / Gemm on the inputs the float32
  network gives it for the samples kept for it (at most
  ``bias_correction.SAMPLES``, strided over the whole stream: holdout.py's
  ``search_data``) (``measure_shifts``), against its float32 output before
  any activation: their rows of those layers' inputs, and of the outputs of
  those with no activation fused, are kept here and thinned as the router
  thins its samples, at most ``BUDGET_BYTES`` (past it, the later samples'
  chunks run their own float32 pass as before).

The float32 network computes each sample alone (its kernels are
batch-invariant, builder.h), so the rows are the values a float32 engine
gives for those samples in any batch: the engines, the choice and the
corrections are what the separate passes gave (``tests/test_auto_pass_values.py``
compares both ways byte for byte). Until 2026-12-03 those two passes were a
third of an auto build's time beyond the calibration pass (RESULTS.md §32).
A batch the router keeps whole (``taps.WholeBatch``: a fixed batch, inputs
that are not batch-first) is copied whole (``Builder.copy_last``): it is
one chunk of the later steps as it was one batch of the pass. Where rows
cannot be read (a dimension beyond the batch varies), nothing is kept and
each step runs its own pass.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from .strided import thin
from .taps import batches, spread, whole_picks

__all__ = ["BUDGET_BYTES", "PassValues"]

# Most bytes of layer inputs kept for bias correction: ConvNeXt-Tiny at
# 224x224 gives its Conv / Gemm 10.7 MB of inputs per sample (684 MB for
# bias_correction.SAMPLES), a little below half of what its calibration
# batch of 8 holds in the builder anyway (184 MB per sample).
BUDGET_BYTES = 1 << 30

Rows = dict[str, np.ndarray]


class PassValues:
    """Rows of the calibration pass's values, kept per batch part in the
    order holdout.SampleRouter keeps the parts (its held-out and second-pass
    strided buffers), thinned as they are.

    Args:
        builder: the ``_core.Builder`` whose ``calibrate_batch`` runs the pass.
        outputs: the network's output names (the scorer's reference).
        layer_inputs: the tensors bias correction may read (none: not kept):
            its layers' inputs and outputs (bias_correction.layer_inputs,
            layer_outputs).
        budget: most bytes of ``layer_inputs`` rows kept (default ``BUDGET_BYTES``).
    """

    def __init__(self, builder: Any, outputs: Iterable[str], layer_inputs: Iterable[str],
                 budget: Optional[int] = None, router: Any = None) -> None:
        self._builder = builder
        self._outputs = sorted(outputs)  # in the order an ExecutionContext's run returns them
        self._layer_inputs = list(layer_inputs)
        self._budget = BUDGET_BYTES if budget is None else budget
        self._router = router  # whose strided buffers of held-out and kept samples (holdout.py) these follow
        # (ordinals in the router's buffer or None for a whole batch, (signature, rows)) per part
        self._held: Optional[list[tuple[Optional[np.ndarray], tuple]]] = []   # None: some part could not be read
        self._kept: Optional[list[tuple[Optional[np.ndarray], tuple]]] = [] if self._layer_inputs else None
        self._kept_full = False  # the budget is spent: later parts are not kept
        self._bytes = 0

    def after_batch(self, signature: Optional[tuple], kept: np.ndarray, held: np.ndarray,
                    held_ordinals: Optional[np.ndarray] = None, kept_ordinals: Optional[np.ndarray] = None) -> None:
        """Right after the builder ran a batch: keeps the network outputs of
        its ``held`` rows and the layer inputs of its ``kept`` rows (each:
        the batch's row indices that the router appended to its held-out or
        kept samples; either may be empty), then drops the rows the
        router's strided buffers have dropped since (``held_ordinals``,
        ``kept_ordinals``: those rows' ordinals there, None: never dropped;
        strided.py), so that what is kept here stays the values of the
        router's samples. ``signature``: the inputs' shapes
        past axis 0 (holdout's grouping); None for a batch kept whole (then
        ``held`` or ``kept`` is the whole batch, and its values are copied
        whole: one part, one chunk, as many samples as the indices)."""
        if len(held) and self._held is not None:
            rows = self._rows(self._outputs, held, whole=signature is None)
            self._held = None if rows is None else [*self._held, (held_ordinals, (signature, rows))]
            if self._held is not None and self._router is not None and self._router.held_buffer is not None:
                self._held = _follow(self._held, self._router.held_buffer.stride)
        if len(kept) and self._kept is not None and not self._kept_full:
            rows = self._rows(self._layer_inputs, kept, whole=signature is None)
            size = 0 if rows is None else sum(a.nbytes for a in rows.values())
            if rows is None:
                self._kept = None
            elif self._bytes + size > self._budget:
                self._kept_full = True  # later parts are not kept (the thinning keeps those kept a prefix)
            else:
                self._kept.append((kept_ordinals, (signature, rows)))
        if self._kept and self._router is not None and self._router.search_buffer is not None:
            self._kept = _follow(self._kept, self._router.search_buffer.stride)
            self._bytes = sum(a.nbytes for _, (_, r) in self._kept for a in r.values())

    def _rows(self, names: list[str], rows: np.ndarray, whole: bool = False) -> Optional[Rows]:
        indices = [int(r) for r in rows]
        out: Rows = {}
        for name in names:
            value = self._builder.copy_last(name) if whole else self._builder.copy_last_rows(name, indices)
            if value is None:
                return None
            out[name] = value
        return _Whole(out, len(indices)) if whole else out

    def reference(self, count: int, limit: int, batch_size: int) -> Optional[list[Rows]]:
        """The float32 outputs of ``limit`` held-out samples spread over them
        (auto_choice.judge_for's), in the chunks
        ``taps.batches(spread(held samples, limit), batch_size)`` makes
        of the samples themselves; None unless every one of the router's
        ``count`` held-out samples was read."""
        if not self._held or sum(_rows_of(r) for _, (_, r) in self._held) != count:
            return None
        return _chunks([p for _, p in self._held], limit, batch_size)

    def layer_inputs(self, limit: int) -> list[Rows]:
        """The first ``limit`` kept samples' layer inputs, in the blocks the
        pass kept them in (a batch's kept rows, the last block cut at
        ``limit``; a whole batch one block, taken whole as ``taps.take``
        takes it), from the first: as many as were kept (the budget can end
        them early). Not joined: bias correction sums them block by block
        (a copy of 1 GB on ResNet-50 before). Only where the kept samples
        share one input shape (one group), else none."""
        if not self._kept:
            return []
        kept = [p for _, p in self._kept]
        whole = [isinstance(r, _Whole) for _, r in kept]
        if (any(whole) and not all(whole)) or (not any(whole) and len({sig for sig, _ in kept}) != 1):
            return []
        out, left = [], limit
        for _, block in kept:
            if left <= 0:
                break
            n = _rows_of(block)
            out.append(dict(block) if isinstance(block, _Whole) else
                       block if n <= left else {k: v[:left] for k, v in block.items()})
            left -= n
        return out

    def drop_layer_inputs(self) -> None:
        """Forgets the layer inputs kept (the network changed: cross-layer
        equalization kept after calibration, run.py)."""
        self._kept = None

    def release(self) -> None:
        """Drops what is kept (once bias correction has run)."""
        self._held = self._kept = None


class _Whole(dict):
    """The values of a batch kept whole (``taps.WholeBatch``): one chunk,
    ``samples`` samples (the router's count for it), whatever the tensors'
    axis 0 holds."""

    def __init__(self, values: Rows, samples: int) -> None:
        super().__init__(values)
        self.samples = samples


def _rows_of(rows: Rows) -> int:
    if isinstance(rows, _Whole):
        return rows.samples
    return len(next(iter(rows.values()))) if rows else 0


def _chunks(parts: list[tuple[Optional[tuple], Rows]], limit: int, batch_size: int) -> Optional[list[Rows]]:
    """The parts' values in the chunks ``taps.batches(spread(samples, limit),
    batch_size)`` makes of their samples: each whole batch one chunk, those
    ``taps.whole_picks`` picks (spread's rule); parts
    cut into rows as :func:`_groups` and ``taps.batches`` cut them. Whole
    and cut parts never mix in one run of the router (it keeps every batch
    whole or none); where they do, None."""
    if not any(isinstance(r, _Whole) for _, r in parts):
        return list(batches(spread(_groups(parts), limit), batch_size))
    if not all(isinstance(r, _Whole) for _, r in parts):
        return None
    return [dict(parts[i][1]) for i in whole_picks([_rows_of(r) for _, r in parts], limit)]


def _follow(parts: list[tuple[Optional[np.ndarray], tuple]], stride: int) -> list[tuple[Optional[np.ndarray], tuple]]:
    """``parts`` with only the rows still on the router's stride (parts of
    whole batches, without ordinals, as they are)."""
    if stride == 1:
        return parts
    out = []
    for p in parts:
        out += [p] if p[0] is None else thin([p], stride,
                                             lambda part, keep: (part[0], {k: v[keep] for k, v in part[1].items()}))
    return out


def _groups(parts: list[tuple[tuple, Rows]]) -> list[Rows]:
    """The parts' rows concatenated per input signature, in order of first
    appearance: holdout._groups's grouping of the samples themselves."""
    by_sig: dict[tuple, list[Rows]] = {}
    for sig, rows in parts:
        by_sig.setdefault(sig, []).append(rows)
    return [{k: np.concatenate([p[k] for p in same]) for k in same[0]} for same in by_sig.values()]
