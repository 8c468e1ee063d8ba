"""Which calibration samples set thresholds and which check them.

The builder's calibration loop hands every batch from ``get_batch`` to a
:class:`SampleRouter`. Counting samples over the whole stream (axis 0 of
the inputs, global index ``j`` from 0), sample ``j`` is a held-out slot
when ``j % every == every - 1`` (every 4th sample by default: 3, 7, 11,
...); every other sample goes to the histograms. A batch is split along
axis 0 when it mixes both, so a single calibration batch is split too, and
a batch of one held-out sample is not observed at all. Sample 0 always
calibrates. Where batches cannot be split (below), batch ``b`` (counted
over the batches) is a held-out slot, whole, when ``b % every == every - 1``.

The held-out samples kept are those of a buffer strided over the slots
(strided.py: room for ``max_check`` samples, in batches by the first
batch's count where batches are whole), so the check's samples span the
whole stream, however long (until 2026-12-05, acc23, the first ``max_check``
were held out and every later slot calibrated). With the check on (the
held-out samples set no threshold), each slot is offered to the buffer in
stream order: one it passes over calibrates; one it keeps and later drops
(its stride doubled) is lost to both, at most half the buffer per doubling
(4096 samples, every 4th a slot, room for 256: 256 lost, RESULTS_accuracy.md
acc23). Which samples are held out, calibrate or are lost is a function of
their index in the stream alone. A stream of at most ``every * max_check``
samples (``+ every - 1``) is routed as before: every slot is held out.
(With ``calibrate_held``, below, every sample calibrates anyway.)

When no sample could be held out (fewer than ``every`` samples, or a network
whose batch dimension is fixed so batches cannot be split and the stream had
fewer than ``every`` batches), the check runs on the calibration samples
themselves and the report says ``held_out=False``.

Samples are counted along the batch dimension of the inputs that have one
(``taps.batch_samples``): a batch of a network with a 0-d input (a sample
rate) or whose inputs are not all batch-first (a state ``[2, N, H]``) is
routed whole, and counts its ``N`` samples in the report's figures (until
2026-12-05 it counted one) and against every limit here (``max_check``,
``max_search``; its ``taps.WholeBatch`` carries the count, which
``taps.rows``, ``take`` and ``spread`` read: until 2026-12-05 (acc21) the
limits counted such a batch as one sample).

Samples are measured in one array per input, so where a network's inputs have
dynamic dimensions beyond the batch and the batches differ in them, only the
batches shaped like the first are measured (all of them set thresholds).

Calibrating samples are also kept (their inputs only, grouped by shape)
for the ``auto`` calibrator's later steps, which need the data again after
the histograms are complete (TensorRT's ``get_batch`` stream can be read
only once), each set taken over the whole stream at a stride that doubles
as it grows (strided.py): calibrating sample ``k`` (counted over the
calibrating ones) is kept when ``k`` is a multiple of the least power of
two that leaves at most the set's cap. So a sample kind that appears only
late in a long stream still reaches them. At most ``max_search`` for the
second pass (:meth:`SampleRouter.search_data`: bias correction, the
equalization trial; until 2026-12-05 the first ``max_search``,
RESULTS_accuracy.md, acc18), at most ``max_fold`` for the folds
(crossval.py, :meth:`SampleRouter.fold_data`; until 2026-12-04 the first
``max_search``, acc17). Where batches cannot be split, the second pass's
are whole batches, strided over the batches alike (as many as make
``max_search`` samples of the first batch's :func:`batch_samples`). Which
samples are held out and which are kept depends on their index in the
stream only, not on how it is split into batches. The ``auto`` calibrator holds samples out also
when nothing is measured: it scores its final choice on them
(auto_choice.py); then they set the final thresholds as well
(``calibrate_held``), so that auto's are computed from the histograms every
other calibrator would have, and every ``every``-th sample of the whole
stream is held out (none is lost to the thresholds), of which at most
``max_check`` are kept, at the same doubling stride over the held-out ones.
"""
from __future__ import annotations

import logging
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from .. import _core
from .recordings import Recordings
from .strided import Strided
from .taps import Samples, WholeBatch, batch_samples, count, groups, rows

__all__ = ["SampleRouter", "batch_samples"]

logger = logging.getLogger("int8rt")

Inputs = dict[str, np.ndarray]


def _take(inputs: Inputs, rows: np.ndarray) -> Inputs:
    return {n: a[rows] for n, a in inputs.items()}


def _signature(inputs: Inputs) -> tuple:
    """What must agree for samples to share one array: each input's shape past axis 0."""
    return tuple((n, a.shape[1:]) for n, a in sorted(inputs.items()))


def _concat(parts: list[Inputs]) -> Optional[Samples]:
    """The parts as one array per input. A network with dynamic dimensions
    beyond the batch may get parts of several shapes (a detector calibrated
    on images of their natural sizes): only those shaped like the first are
    kept, since the check compares outputs sample by sample."""
    if not parts:
        return None
    if any(isinstance(p, WholeBatch) for p in parts):
        return list(parts)
    first = _signature(parts[0])
    same = [p for p in parts if _signature(p) == first]
    if len(same) < len(parts):
        logger.info("accuracy data: %d of %d calibration batches have other input shapes than the first; "
                    "they set thresholds but are not measured", len(parts) - len(same), len(parts))
    return {n: np.concatenate([p[n] for p in same]) for n in parts[0]}


class SampleRouter:
    """Routes calibration samples to thresholds or to the accuracy check.

    Args:
        every: hold out one sample in ``every`` (>= 2), or 0 to hold out none.
        max_check: most samples held out.
        max_search: most calibrating samples kept for a second pass, over
            the whole stream (0: none; :meth:`search_data`).
        max_fold: most calibrating samples kept for the folds, over the
            whole stream (0: none; :meth:`fold_data`).
        splittable: False when the network's batch dimension is fixed, so
            whole batches are held out (every ``every``-th batch) instead.
        input_shapes: the network inputs' declared shapes (-1: free), which
            say where a batch's samples are (:func:`batch_samples`).
        calibrate_held: the held-out samples set the final thresholds too
            (every sample reaches ``feed``'s histograms, in stream order,
            exactly as with any other calibrator), while the kept ones also
            go to a second feed (:meth:`wrap`'s ``fit_feed``) whose
            histograms the ``auto`` calibrator makes its choice from: the
            choice is still scored on samples it was not fitted to, then its
            methods are applied to every sample. Only where nothing is
            measured (a check on samples the thresholds saw would not be
            held out).
        recordings: labels each whole batch (``WholeBatch.group``) with the
            recording it comes from (recordings.py); None: no labels.
    """

    def __init__(self, *, every: int = 4, max_check: int = 256, max_search: int = 0, max_fold: int = 0,
                 splittable: bool = True, nonfinite: str = "error", calibrate_held: bool = False,
                 input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                 recordings: Optional[Recordings] = None) -> None:
        if every == 1 or every < 0:
            raise ValueError(f"holdout every must be 0 (none) or >= 2, got {every}")
        self.nonfinite = nonfinite  # the calibrator's policy, applied to held-out samples too
        self.every, self.max_check, self.max_search, self.splittable = every, max_check, max_search, splittable
        self.calibrate_held = calibrate_held
        self.input_shapes = dict(input_shapes or {})
        self.recordings = recordings  # labels each whole batch with its recording (recordings.py)
        self._seen = 0          # samples (or batches, when not splittable) seen
        # held-out samples, strided over the whole stream (strided.py); made at
        # the first batch, whose sample count sets the cap where batches are whole
        self.held_buffer: Optional[Strided] = None
        # the folds' samples, strided over the whole stream (fold_data); where their
        # cap is the second pass's, the same samples: that buffer serves both
        self.max_fold = max_fold
        self.fold_buffer = Strided(max_fold, _take) if splittable and 0 < max_fold != max_search else None
        # the second pass's samples, strided over the whole stream (search_data); made
        # at the first batch, whose sample count sets the cap where batches are whole
        self.search_buffer: Optional[Strided] = None
        self._first: list[Inputs] = []   # calibrating samples, for a check without held-out data
        self.threshold_count = 0  # samples that set thresholds (batch_samples of each batch's rows)
        self.batches = 0
        self.first_rows: Optional[int] = None  # samples in the first batch: the chunk size for later runs

    def _held(self, index: int) -> bool:
        return self.every >= 2 and index % self.every == self.every - 1

    @property
    def _check(self) -> list[Inputs]:
        """The held-out samples kept (a part per batch, in stream order)."""
        return self.held_buffer.values() if self.held_buffer is not None else []

    @property
    def check_count(self) -> int:
        """Held-out samples kept (a whole batch counts its samples)."""
        return count(self._check)

    def wrap(self, feed: Callable[[Inputs], None], skip: Callable[[], None],
             fit_feed: Optional[Callable[[Inputs, Optional[np.ndarray]], None]] = None,
             after_feed: Optional[Callable[[Optional[tuple], np.ndarray, np.ndarray, Optional[np.ndarray],
                                           Optional[np.ndarray]], None]] = None
             ) -> Callable[[Inputs], None]:
        """A feed for ``pull_batches``: calibrating rows go to ``feed``; a
        batch with none calls ``skip`` (which must count it as a batch).
        With ``calibrate_held``, every row goes to ``feed`` and the
        calibrating rows also to ``fit_feed`` (without one, held-out rows
        stay out of ``feed``), right after ``feed`` got their whole batch:
        ``fit_feed(rows' inputs, their indices in that batch)`` (indices
        None for a :class:`WholeBatch`); before it, ``after_feed(the inputs'
        shapes past axis 0, indices of the rows just kept for the second
        pass (:meth:`search_data`), of the rows just held out and kept,
        their ordinals in the held-out samples' strided buffer, the kept
        rows' ordinals in the second pass's)`` (pass_values.py); for a
        :class:`WholeBatch` the shapes are None, either index list is the
        whole batch's or empty, and either ordinal is the batch's (until
        2026-12-05, acc23, the held-out one was None: whole batches were
        held out first come, never thinned)."""
        both = self.calibrate_held and fit_feed is not None

        def route(inputs: Inputs) -> None:
            self.batches += 1
            n = _rows(inputs)
            whole = not self.splittable or n is None
            if self.batches == 1:
                self.first_rows = n
                if self.every >= 2 and self.max_check > 0:  # whole batches: as many as make max_check samples
                    per_batch = batch_samples(inputs, self.input_shapes) if whole else 1
                    self.held_buffer = Strided(-(-self.max_check // per_batch), _take)
            # Held-out samples (rows, or a whole batch) are kept on held_buffer's
            # stride, so the check's span the stream (module docstring). Without
            # calibrate_held, one the stride passes over calibrates instead.
            admitted: Optional[np.ndarray] = None  # the held-out rows' ordinals in held_buffer, admitted now
            if not whole:
                slots = np.flatnonzero([self._held(self._seen + i) for i in range(n)])
                self._seen += n
                check = slots if self.held_buffer is not None else slots[:0]
                if len(check) and not self.calibrate_held:
                    check, admitted = self._admit_rows(inputs, slots, n)
                calib = np.setdiff1d(np.arange(n), check)
            else:
                samples = batch_samples(inputs, self.input_shapes)
                is_held = self._held(self._seen) and self.held_buffer is not None
                self._seen += 1
                if is_held:
                    on, ordinals = self.held_buffer.admit(1)
                    admitted = ordinals if len(on) else None
                    is_held = admitted is not None or self.calibrate_held
                check = np.arange(samples) if is_held else np.arange(0)
                calib = np.arange(0) if is_held else np.arange(samples)
                group = self.recordings.label(self.batches - 1, inputs) if self.recordings is not None else None
                inputs = WholeBatch(inputs, samples, group, self.batches - 1)  # never cut or joined later
            if len(check) and (whole or admitted is None):
                check = self._finite_rows(inputs, check, n)
            check, check_ordinals = self._keep_check(inputs, check, n, admitted)
            if len(calib) == 0 and not both:
                skip()
                return
            part = inputs if whole or len(calib) == n else _take(inputs, calib)
            searched, search_ordinals = self._keep_search(inputs, calib, n, whole)
            if not whole and self.fold_buffer is not None and len(calib):
                _offer(self.fold_buffer, inputs, calib, n)
            if len(calib):
                self._keep_first(part)
            if both:  # every row sets the final thresholds, in stream order; the kept ones the choice's
                self.threshold_count += batch_samples(inputs, self.input_shapes)
                feed(inputs)
                if after_feed is not None:
                    after_feed(None if whole else _signature(inputs), searched, check, check_ordinals,
                               search_ordinals)
                if len(calib):
                    fit_feed(part, None if whole else calib)
                return
            self.threshold_count += batch_samples(part, self.input_shapes) if whole else len(calib)
            feed(part)

        return route

    def _finite_rows(self, inputs: Inputs, rows: np.ndarray, n: Optional[int]) -> np.ndarray:
        """The held-out rows without NaN/Inf: the calibrator's ``nonfinite``
        policy applies to them as to the calibrating ones (which the
        collector checks), so a bad sample is never missed for being held out."""
        bad = np.zeros(len(rows), dtype=bool)
        for name, a in inputs.items():
            a = np.asarray(a)
            if a.dtype.kind != "f":
                continue
            if n is None or a.ndim == 0:
                finite = np.full(len(rows), bool(np.isfinite(a).all()))
            else:
                finite = np.isfinite(a[rows].reshape(len(rows), -1)).all(axis=1)
            if not finite.all() and self.nonfinite == "error":
                raise _core.InvalidArgumentError(
                    f"calibration batch {self.batches}, input {name!r}: NaN or Inf in a sample held out for "
                    "the accuracy check; NonFinitePolicy::kSkip (Python: nonfinite='skip', int8rt build "
                    "--nonfinite skip) leaves such samples out")
            bad |= ~finite
        return rows[~bad] if n is not None else (rows if not bad.any() else rows[:0])

    def _admit_rows(self, inputs: Inputs, slots: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The held-out slots ``slots`` of a split batch, the check on: each
        in turn offered to the held-out buffer and kept (a part of its own)
        where on its stride then, so which rows are held out, which
        calibrate and which are lost to both is a function of their index in
        the stream alone, however it is cut into batches. A kept row with
        NaN/Inf follows the calibrator's policy (:meth:`_finite_rows`).
        Returns the rows held out (indices into the batch) and their
        ordinals (already kept: :meth:`_keep_check` adds none)."""
        held, ordinals = [], []
        for row in slots:
            on, ordinal = self.held_buffer.admit(1)
            if len(on):
                held.append(row)
                if len(self._finite_rows(inputs, np.array([row]), n)):
                    self.held_buffer.add(ordinal, _take(inputs, np.array([row])))
                    ordinals.append(int(ordinal[0]))
        return np.array(held, dtype=np.int64), np.array(ordinals, dtype=np.int64)

    def _keep_check(self, inputs: Inputs, offered: np.ndarray, n: Optional[int], admitted: Optional[np.ndarray]
                    ) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Keeps the ``offered`` held-out rows of a batch in the strided
        buffer: a :class:`WholeBatch` at its ordinal ``admitted`` (None: not
        on the stride, not kept); split rows ``admitted`` already
        (:meth:`_admit_rows`, kept there); else those on its stride.
        Returns the rows kept (indices into the batch, before any later
        thinning) and their ordinals in the buffer."""
        if not len(offered) or self.held_buffer is None:
            return offered[:0], None
        if isinstance(inputs, WholeBatch):
            if admitted is None:
                return offered[:0], None
            self.held_buffer.add(admitted, inputs)
            return offered, admitted
        if admitted is not None:
            return offered, admitted
        return _offer(self.held_buffer, inputs, offered, n)

    def _keep_search(self, inputs: Inputs, calib: np.ndarray, n: Optional[int], whole: bool
                     ) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Offers the calibrating rows ``calib`` of a batch to the second
        pass's strided buffer (:meth:`search_data`); a whole batch is one
        sample of it. Returns the rows kept (indices into the batch, before
        any later thinning: all of a whole batch's or none) and their
        ordinals in the buffer."""
        if self.max_search <= 0 or not len(calib):
            return calib[:0], None
        if self.search_buffer is None:  # whole batches: as many as make max_search samples by the first's count
            per_batch = batch_samples(inputs, self.input_shapes) if whole else 1
            self.search_buffer = Strided(-(-self.max_search // per_batch), _take)
        if not whole:
            return _offer(self.search_buffer, inputs, calib, n)
        on, ordinals = self.search_buffer.admit(1)
        if len(on):
            self.search_buffer.add(ordinals, inputs)
        return (calib if len(on) else calib[:0]), ordinals

    def _keep_first(self, part: Inputs) -> None:
        """Keeps calibrating rows for a check without held-out samples."""
        if not self.check_count and sum(rows(p) for p in self._first) < self.max_check:
            self._first.append(part)

    @property
    def held_out(self) -> bool:
        """True when the check data was not used for thresholds."""
        return self.check_count > 0 and not self.calibrate_held

    def check_data(self) -> Optional[Samples]:
        """The samples to measure on: the held-out ones, or (none held out)
        the first calibrating samples."""
        return _concat(self._check) if self._check else _concat(self._first)

    def samples(self, data: Optional[Samples]) -> int:
        """Samples in ``data`` (:meth:`check_data`'s, say), each group
        counted along its batch dimension (:func:`batch_samples`)."""
        return sum(batch_samples(g, self.input_shapes) for g in groups(data)) if data is not None else 0

    def held_data(self) -> Optional[list[Inputs]]:
        """The held-out samples, one group per input shape (all of them, unlike
        :meth:`check_data`): the ``auto`` calibrator's choice is scored on
        them (auto_choice.py). None when none was held out."""
        return _groups(self._check) if self._check else None

    def search_data(self) -> Optional[list[Inputs]]:
        """The calibrating samples kept for the second pass: at most
        ``max_search`` strided over the whole stream (module docstring;
        whole batches where batches cannot be split); one group
        (one array per input) per input shape, so that a network calibrated
        on several sizes (a recogniser on lines of their own widths) is
        searched on all of them, not only on those shaped like the first."""
        if self.search_buffer is None or not len(self.search_buffer):
            return None
        return _groups(self.search_buffer.values())

    def fold_data(self) -> Optional[list[Inputs]]:
        """The calibrating samples the ``auto`` calibrator's folds are made
        of: those the strided buffer kept over the whole stream (module
        docstring; more than ``max_fold / 2`` once the stream has more; with
        ``max_fold == max_search`` the second pass's buffer, the same
        samples), one group per input shape; where batches cannot be split
        (or no buffer), :meth:`search_data`'s."""
        buffer = self.fold_buffer if self.fold_buffer is not None or self.max_fold <= 0 else self.search_buffer
        if buffer is None or not len(buffer) or not self.splittable:
            return self.search_data()
        return _groups(buffer.values())

    def describe(self) -> str:
        if self.every == 0:
            return "no samples held out"
        unit = "sample" if self.splittable else "batch"
        return (f"every {self.every}th calibration {unit} (index {self.every - 1}, {2 * self.every - 1}, ...), "
                f"at most {self.max_check} samples")


def _offer(buffer: Strided, inputs: Inputs, offered: np.ndarray, n: Optional[int]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Offers rows ``offered`` of a batch of ``n`` to ``buffer``; returns
    the rows it kept (indices into the batch, before any later thinning)
    and their ordinals there."""
    on, ordinals = buffer.admit(len(offered))
    rows = offered[on]
    if len(rows):
        buffer.add(ordinals, inputs if len(rows) == n else _take(inputs, rows))
    return rows, ordinals


def _groups(parts: list[Inputs]) -> list[Inputs]:
    """``parts`` as one array per input per input shape, in order of first
    appearance (each :class:`WholeBatch` as it is)."""
    if any(isinstance(p, WholeBatch) for p in parts):
        return list(parts)
    by_shape: dict[tuple, list[Inputs]] = {}
    for part in parts:
        by_shape.setdefault(_signature(part), []).append(part)
    return [{n: np.concatenate([p[n] for p in same]) for n in same[0]} for same in by_shape.values()]


def _rows(inputs: Inputs) -> Optional[int]:
    """The common axis-0 length of the inputs, or None when they disagree or are scalars."""
    sizes = {a.shape[0] if a.ndim else None for a in inputs.values()}
    if len(sizes) != 1:
        return None
    n = sizes.pop()
    return n
