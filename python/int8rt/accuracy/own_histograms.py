"""The classic calibrators' own histograms beside auto's, so that auto's
candidate sets hold, for every tensor, exactly the thresholds the
standalone entropy, mse and percentile calibrators would produce on the
samples auto fits on (acc48; minmax reads the same maximum on either
histogram, so auto's minmax set is already the minmax calibrator's).

Why: auto's histograms are 4096 bins over a power-of-two range
(calibrator.IInt8AutoCalibrator says why), the calibrators' 2048 over the
first batch's maximum, grown as needed ("extend": TensorRT's). The same
method searched on the two gives other thresholds, and on networks that
sensitive another engine: Silero VAD's single-clip fits, where auto's mse
streamed 0.868 / 0.897 against the mse calibrator's 0.895 / 0.906, and its
entropy on the unlabelled stream's amfm clip 0.754 against the entropy
calibrator's 0.904 (RESULTS_accuracy.md, acc46 / acc47). So auto keeps a
second collector with the calibrators' settings (``OWN_BINS`` /
``OWN_POLICY``, the IInt8Calibrator defaults) fed from the same batches by
the builder's ``observe_last`` / ``observe_rows`` (no second float32
pass), searches each method on it with the calibrators' own exact search
(the sets ``OWN_LABELS``; an input's linear image that a LayerNorm reads
is held at its range in these sets too, input_range.py: there they differ
from the calibrators' by design), and judges them
with its own sets (auto_choice.choose). The chosen one's final thresholds
come from the same search over every sample's histograms
(auto_choice.apply_methods): a choice ``"entropy (calibrator's
histogram)"`` is the entropy calibrator's thresholds. Where auto's set of
a method is chosen and the calibrator's set of that method was scored as
its twin (within 1% on every tensor the engine holds in int8, so not built
again: auto_choice.choose), the build takes the calibrator's thresholds
(:func:`twin_methods`): the same engine by the twin rule's premise, and the
one the calibrator gives. Making the calibrator's mse the default instead
(scored first) changed the decisions that follow it: GoogLeNet 0.9443 ->
0.9026 centred cosine (acc48), so auto's mse stays the default.

The folds (crossval.py) calibrate :class:`Paired` collectors, so an own
set is refitted per fold on the calibrators' binning too.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

import numpy as np

from .auto import CANDIDATES, OWN_SUFFIX

__all__ = ["OWN_BINS", "OWN_LABELS", "OWN_POLICY", "Paired", "calibrate_into", "is_own", "mirrored", "observe_both",
           "own_source", "same_settings", "twin_methods"]


def _calibrator_defaults() -> tuple[int, str]:
    """The classic calibrators' histogram settings: IInt8Calibrator's defaults (one home)."""
    from ..calibrator import IInt8Calibrator

    params = inspect.signature(IInt8Calibrator.__init__).parameters
    return int(params["num_bins"].default), str(params["policy"].default)


OWN_BINS, OWN_POLICY = _calibrator_defaults()
OWN_LABELS: tuple[str, ...] = tuple(label + OWN_SUFFIX for label, _ in CANDIDATES if label != "minmax")


def is_own(label: str) -> bool:
    """Whether set ``label`` is searched on the calibrators' histograms (OWN_LABELS)."""
    return label.endswith(OWN_SUFFIX)


def same_settings(collector: Any) -> bool:
    """Whether ``collector`` already bins as the calibrators do (then no second collector)."""
    return (collector.num_bins, collector.policy) == (OWN_BINS, OWN_POLICY)


def mirrored(feed: Callable[[Any], None], builder: Any, collector: Any) -> Callable[[Any], None]:
    """``feed``, then the batch it ran observed into ``collector`` too, as it
    ran (``observe_last``): the same samples, in the same order, as the
    session's collector."""

    def fed(inputs: Any) -> None:
        feed(inputs)
        builder.observe_last(collector._native)
    return fed


def observe_both(observe: Callable[[Any, Optional[np.ndarray], Any], None], builder: Any, fit: Any,
                 own: Any) -> Callable[[Any, Optional[np.ndarray]], None]:
    """A ``fit_feed`` (holdout.SampleRouter.wrap) that streams the kept rows
    into ``fit`` (``observe``, which may run the rows again where the batch's
    values cannot be cut) and into ``own``: cut from the batch where it can
    be, else from the rows' own run (the builder's last batch is then exactly
    those rows), never rows of a batch run since."""

    def fed(inputs: Any, rows: Optional[np.ndarray]) -> None:
        if rows is not None and builder.observe_rows([int(r) for r in rows], own._native):
            observe(inputs, rows, fit)
            return
        observe(inputs, rows, fit)
        builder.observe_last(own._native)
    return fed


class Paired:
    """A fold's collector (crossval.py): auto's histograms, and beside them
    ``own``, the same samples' with the calibrators' settings. Reads as
    auto's (``histogram``, ``in``, ``len``, ``names``); ``merge`` merges both."""

    def __init__(self, main: Any, own: Any) -> None:
        self.main, self.own = main, own

    def merge(self, other: "Paired") -> None:
        self.main.merge(other.main)
        self.own.merge(other.own)

    def histogram(self, name: str) -> Any:
        return self.main.histogram(name)

    @property
    def names(self) -> list[str]:
        return self.main.names

    def __contains__(self, name: object) -> bool:
        return name in self.main

    def __len__(self) -> int:
        return len(self.main)


def calibrate_into(builder: Any, chunk: Any, collector: Any) -> None:
    """``chunk`` through the builder's float32 network into ``collector`` (a
    Collector, or a :class:`Paired`: both, one run)."""
    if isinstance(collector, Paired):
        builder.calibrate_batch(chunk, collector.main._native)
        builder.observe_last(collector.own._native)
        return
    builder.calibrate_batch(chunk, collector._native)


def own_source(collector: Any, label: str, own: Any = None) -> Any:
    """The collector set ``label`` is searched on: for an OWN_LABELS label
    ``own``, else a :class:`Paired` ``collector``'s own histograms, else
    ``collector`` (the equalization trial's rescaled histograms have only
    auto's); ``collector`` for any other label."""
    if not is_own(label):
        return collector
    if own is not None:
        return own
    return collector.own if isinstance(collector, Paired) else collector


def twin_methods(choice: Any, methods: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The chosen set's label and ``methods`` (tensor -> ``"auto:[all
    ]<label>"``), with the label (``choice.label``, an auto_choice.Choice)
    replaced by its calibrator's set where that set was scored as its twin
    (the same errors object: auto_choice.choose shares a twin's)."""
    label = choice.label
    own = label + OWN_SUFFIX
    if is_own(label) or own not in choice.errors or choice.errors[own] is not choice.errors.get(label):
        return label, methods
    return own, {n: m + OWN_SUFFIX if m in (f"auto:{label}", f"auto:all {label}") else m for n, m in methods.items()}
