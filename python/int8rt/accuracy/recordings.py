"""Which calibration batches come from the same recording, and the rule
auto's decisions follow where that is known: the recording, not the batch,
is the unit of evidence.

Why. auto judges its choices on held-out calibration batches (holdout.py:
every 4th). Where those are slices of a few long recordings (a network
that carries a state, calibrated on consecutive chunks of streams), the
held-out batches are neighbours of the batches the thresholds and the
corrections were fitted on, and a paired t-test over them counts one
recording's chunks as independent evidence. On Silero VAD calibrated on
one speaker's clip every slice of it ranks entropy ahead of mse, and
streamed on another speaker mse is the better engine (centred cosine 0.92
against 0.72; RESULTS_accuracy.md acc23 / acc26); calibrated on five clips
the held-out batches rank entropy first too, and there the ranking holds
on every left-out clip (entropy 0.91 against mse 0.77, centred cosine,
mean over six; acc27, acc29). What tells the two apart is how many recordings the
evidence spans, which the batches alone do not say.

The rule (:func:`below`, read by auto_choice._Errors.clearly_below and
decision_rule's tests wherever the judged batches carry recordings):

- ``MIN_GROUPS`` (3) recordings or more among the judged batches: an
  engine replaces the default (a set of thresholds replaces mse; a
  correction is kept) where its error is below by the decision's margin
  over all the batches *and* on the worst recording (each recording's
  error is the relative L2 over its batches): the group-robust (minimax)
  criterion crossval.py's folds follow, with recordings as the groups, in
  place of the t-test over batches, which took one recording's neighbouring
  chunks for independent samples. Lower on every recording (a sign test)
  was tried first: on Silero VAD leave one clip out it kept mse on three
  folds of six, on two where entropy was lower on four recordings (by up
  to 14x) and 5% higher on the fifth, a tie, and entropy streamed better
  on all three left-out clips (mean centred cosine 0.853 against 0.937
  with the worst recording; RESULTS_accuracy.md acc29).
- Fewer: the prior, toward the faithful candidate: the default set (mse),
  each correction off. One recording cannot show what another costs.
  (One long stream of a network that carries a state is judged by blocks
  of it instead: "Blocks of one stream" below.)

Where the recordings come from (:class:`Recordings`):

- the user: ``BuilderConfig(calibration_groups=...)``, one label per
  calibration batch in ``get_batch`` order (the clip, speaker, file or
  stream it was cut from); any hashable labels, equal labels one recording;
- else, for a network that returns its state for its next call (the
  state pairs of state_loop.py, learnt from the first batch's outputs):
  a batch starts a new recording where its state input is all zeros (the
  stream was reset) or differs from the state the batch before it returned
  (it was not fed back: relative difference above ``FED_BACK_TOL``);
  batches that follow a held-out one (not run, so nothing to compare)
  continue the recording unless reset.
- else none: every decision reads the batches as before (the t-test over
  samples, the margins), which holds where each sample is its own
  recording (images, sentences).

Blocks of one stream (:meth:`Recordings.blocks`, acc45). Where a state is
fed back but fewer than ``MIN_GROUPS`` recordings were inferred and none
given (one long stream: several speakers run together with the state
carried across look like one recording, and nothing in the input tells
them apart reliably: benchmarks/acc43_change_points.py), the held-out
batches are labelled by contiguous blocks of the stream, cut ``K`` ways
for each ``K`` in ``BLOCK_COUNTS`` (batch ``i`` of ``n`` in block
``i * K // n``), and a change must pass the rule above **for every
``K``**: lower overall and on the worst block, whichever way the stream
is cut. Blocks are not recordings, and one cut is not evidence: cut one
at a time, Silero VAD calibrated on ARCTIC alone took entropy at 3 and 8
blocks and kept mse at 5. Measured (RESULTS_accuracy.md acc45): on the
five-clip stream auto goes from the prior's 0.759 to 0.900 mean centred
cosine over the six left-out clips (entropy alone 0.910; named, 0.937);
on single-clip fits streamed on the five other clips it moves the mean by
-0.055 (ARCTIC: every cut ranks entropy first there, and entropy streams
worse on the amfm-decompy clips) to +0.077 (synth1), +0.011 over the fits.
Only where the finest cut leaves ``MIN_BATCHES`` held-out batches in every
block (a stream of about 64 batches, every 4th held out); else the prior.

Whole batches only (holdout.py routes a state network's batches whole);
the judged batches are spread over each recording (:func:`spread_groups`),
at least ``MIN_BATCHES`` of each, so that every recording is judged.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Mapping, Optional, Sequence

import numpy as np

from .state_loop import pairs
from .taps import WholeBatch, groups, rows, spread

__all__ = ["BLOCK_COUNTS", "FED_BACK_TOL", "MIN_BATCHES", "MIN_GROUPS", "NAME_THEM", "Recordings", "batch_groups",
           "below", "group_errors", "lower_on_each", "recordings_line", "spread_groups"]

# Recordings the judged batches must span for a change to be taken (module docstring).
MIN_GROUPS = 3
# Held-out batches judged per recording, at least.
MIN_BATCHES = 2
# The cuts of one stream into contiguous blocks where no recordings are
# seen (module docstring, "Blocks of one stream"): a change must hold under each.
BLOCK_COUNTS = (3, 5, 8)
# A batch's state input within this relative L2 of the state the batch
# before returned was fed back (float32 runs of one network agree far closer).
FED_BACK_TOL = 1e-3
# What the report adds where fewer recordings were inferred than the rule
# needs: a stream that runs several recordings together with the state carried
# across looks like one, and nothing in the input tells them apart reliably
# (speaker change points found inside single clips as often as between them,
# benchmarks/acc43_change_points.py); named, Silero VAD leave one clip out
# streams at 0.937 against 0.759 (RESULTS_accuracy.md acc29 / acc43).
NAME_THEM = ("; if the calibration stream runs several recordings (speakers, files) together, name them "
             "(BuilderConfig.calibration_groups, one label per batch) or start each from a reset state")

Inputs = Mapping[str, np.ndarray]


class Recordings:
    """Labels each whole calibration batch with its recording (module docstring).

    Args:
        given: one label per calibration batch (``BuilderConfig.calibration_groups``),
            or None to infer recordings from a fed-back state.
    """

    def __init__(self, given: Optional[Sequence[Hashable]] = None) -> None:
        self._given = list(given) if given is not None else None
        self._ids: dict[Hashable, int] = {}
        self._pairs: dict[str, str] = {}   # state input -> the output that feeds it (inferred only)
        self._last: Optional[tuple[int, dict[str, np.ndarray]]] = None  # (batch index, its state outputs)
        self._current = 0
        self.count = 0  # recordings seen
        self.how = "given (BuilderConfig.calibration_groups)" if given is not None else ""

    @property
    def given(self) -> bool:
        """Whether the labels were given (BuilderConfig.calibration_groups)."""
        return self._given is not None

    def label(self, index: int, inputs: Inputs) -> Optional[int]:
        """The recording of batch ``index`` (0-based, in get_batch order),
        whose inputs are ``inputs``; None where none is known."""
        if self._given is not None:
            if index >= len(self._given):
                raise ValueError(f"BuilderConfig.calibration_groups has {len(self._given)} labels, but the "
                                 f"calibrator gave a batch {index + 1}: one label per calibration batch")
            return self._id(self._given[index])
        if index == 0:
            return self._id(0)
        if not self._pairs:
            return None
        if self._starts(index, inputs):
            self._current += 1
        return self._id(self._current)

    def blocks(self, held: Optional[Any], total: int) -> bool:
        """Labels the held-out whole batches ``held`` (``WholeBatch.group``)
        by contiguous blocks of the stream of ``total`` batches, one label
        per cut of ``BLOCK_COUNTS``, where the module docstring's "Blocks of
        one stream" applies; returns whether it did."""
        parts = groups(held) if held is not None else []
        if self._given is not None or not self._pairs or not parts or total <= 0 or any(
                not isinstance(p, WholeBatch) or p.index is None for p in parts):
            return False
        if len({p.group for p in parts}) >= MIN_GROUPS:
            return False
        finest = max(BLOCK_COUNTS)
        per = np.bincount([p.index * finest // total for p in parts], minlength=finest)
        if per.min() < MIN_BATCHES:
            return False
        for p in parts:
            p.group = tuple(p.index * k // total for k in BLOCK_COUNTS)
        self.how += (f"; judged by contiguous blocks of the stream, cut {' / '.join(map(str, BLOCK_COUNTS))} "
                     f"ways")
        return True

    def _id(self, key: Hashable) -> int:
        if key not in self._ids:
            self._ids[key] = len(self._ids)
            self.count = len(self._ids)
        return self._ids[key]

    def _starts(self, index: int, inputs: Inputs) -> bool:
        """Whether batch ``index`` starts a recording: its state reset to
        zeros, or not the state the batch before returned."""
        states = {k: np.asarray(inputs[k]) for k in self._pairs if k in inputs}
        if any(not v.any() for v in states.values()):
            return True
        if self._last is None or self._last[0] != index - 1:
            return False
        for name, value in states.items():
            before = self._last[1][self._pairs[name]]
            if before.shape != value.shape or (
                    np.linalg.norm(value - before) > FED_BACK_TOL * max(float(np.linalg.norm(before)), 1e-30)):
                return True
        return False

    def ran(self, index: int, inputs: Inputs, outputs: Callable[[], Optional[dict[str, np.ndarray]]]) -> None:
        """Batch ``index`` (``inputs``) has run through the float32 network,
        whose outputs ``outputs()`` reads: learns the state pairs at the
        first batch and keeps the state outputs for the next (inferred
        recordings only)."""
        if self._given is not None or (index > 0 and not self._pairs):
            return
        got = outputs()
        if got is None:
            return
        if index == 0:
            self._pairs = pairs([WholeBatch(inputs)], got)
            if self._pairs:
                fed = ", ".join(f"{o} -> {i}" for i, o in self._pairs.items())
                self.how = f"inferred from the state fed back ({fed}) or reset"
        self._last = (index, {o: np.array(got[o]) for o in self._pairs.values()})


def batch_groups(chunks: Sequence[Any]) -> Optional[np.ndarray]:
    """The recording of each of ``chunks`` where every one is a whole batch
    labelled with one (``WholeBatch.group``); else None."""
    labels = [getattr(c, "group", None) if isinstance(c, WholeBatch) else None for c in chunks]
    return None if not labels or any(g is None for g in labels) else np.array(labels)


def spread_groups(held: Optional[Any], limit: int) -> Optional[list[Any]]:
    """The held-out batches to judge on where they carry recordings: each
    recording's spread over its own batches (``taps.spread``; ``limit``
    samples shared among them, at least ``MIN_BATCHES`` batches each), in
    stream order; None where they carry none (the caller spreads them as
    one stream)."""
    parts = groups(held) if held is not None else []
    labels = batch_groups(parts)
    if labels is None:
        return None
    finest = labels if labels.ndim == 1 else labels[:, -1]  # blocks: spread over the finest cut's
    keys = sorted(set(finest.tolist()))
    per = max(limit // len(keys), MIN_BATCHES * max(rows(parts[0]), 1))
    picked = {id(g) for k in keys for g in spread([p for p, lab in zip(parts, finest) if lab == k], per)}
    return [g for g in parts if id(g) in picked]


def _cuts(errors: Any) -> list[np.ndarray]:
    """The labellings of ``errors``' samples: its recordings, or each cut of
    the stream into blocks (``groups`` [samples, len(BLOCK_COUNTS)])."""
    labels = np.asarray(errors.groups)
    return [labels] if labels.ndim == 1 else [labels[:, j] for j in range(labels.shape[1])]


def group_errors(errors: Any, labels: Optional[np.ndarray] = None) -> dict[Any, float]:
    """Recording -> relative L2 over its batches, of ``errors``
    (auto_choice._Errors with ``groups``), by ``labels`` (one per sample;
    default: the recordings, or for blocks ``"<K>:<block>"`` over every cut)."""
    if labels is None and np.asarray(errors.groups).ndim == 2:
        return {f"{k}:{g}": v for k, cut in zip(BLOCK_COUNTS, _cuts(errors))
                for g, v in group_errors(errors, cut).items()}
    labels = np.asarray(errors.groups) if labels is None else labels
    out = {}
    for key in np.unique(labels):
        at = labels == key
        out[int(key)] = float(np.sqrt(errors.err[at].sum() / max(float(errors.ref[at].sum()), 1e-30)))
    return out


def below(a: Any, b: Any, margin: float) -> Optional[bool]:
    """Whether errors ``a`` are below ``b`` (auto_choice._Errors of the same
    batches) by the rule of the module docstring: None where the batches
    carry no recordings (the caller's own test then applies); False with
    fewer than ``MIN_GROUPS``; else below by ``margin`` over all the
    batches and on the worst recording (for blocks of one stream: on the
    worst block of every cut)."""
    if getattr(a, "groups", None) is None or getattr(b, "groups", None) is None:
        return None
    if min(len(np.unique(cut)) for cut in _cuts(a)) < MIN_GROUPS:
        return False
    if not a.relative_l2 < (1.0 - margin) * b.relative_l2:
        return False
    return all(max(group_errors(a, cut).values()) < (1.0 - margin) * max(group_errors(b, cut).values())
               for cut in _cuts(a))


def lower_on_each(a: Any, b: Any) -> Optional[bool]:
    """Whether errors ``a`` are lower than ``b`` (auto_choice._Errors of the
    same batches) on every recording; None where the batches carry none.
    The per-part choice's extra test (auto_parts.py): a part that switches
    on evidence lower on the worst recording but higher on most others lost
    Silero VAD's left-out clip amfm 0.975 -> 0.860 (RESULTS_accuracy.md
    acc40)."""
    if getattr(a, "groups", None) is None or getattr(b, "groups", None) is None:
        return None
    mine, theirs = group_errors(a), group_errors(b)  # blocks: every block of every cut
    return all(mine[g] < theirs[g] for g in theirs)


def recordings_line(source: Recordings, judged: np.ndarray) -> str:
    """The build report's account of the recordings (auto_choice["recordings"])."""
    judged = np.asarray(judged)
    if judged.ndim == 2:
        return (f"{source.count} recordings, {source.how}: a change must lower the error overall and on the "
                f"worst block for every cut{NAME_THEM}")
    n = len(np.unique(judged))
    rule = (f"a change must lower the error overall and on the worst recording (at least {MIN_GROUPS})"
            if n >= MIN_GROUPS else
            f"fewer than {MIN_GROUPS}: the default set, no correction (one recording cannot show what another costs)")
    if n < MIN_GROUPS and not source.given:
        rule += NAME_THEM
    return f"{source.count} recordings, {source.how}; {n} among the judged batches: {rule}"
