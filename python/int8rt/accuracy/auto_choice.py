"""IInt8AutoCalibrator's whole-network choice: which set of thresholds the
engine gets, judged by the network's outputs, the final word on samples that
no threshold and no earlier choice saw.

A per-layer criterion (auto.py) can lose to a single method on the whole
network (clipping an outlier a LayerNorm or attention needs costs little in
the next layer and much later), and any choice made by measuring on a few
samples can fit those samples rather than the network (on the dynamic-width
PP-OCR recogniser a choice that halved the error on its 32 calibration lines
lost to mse on other lines). So, after the per-tensor search:

1. Sets: the per-tensor thresholds, and each single method of
   ``GLOBAL_METHODS`` applied to every tensor.
2. Start: each set is lowered (``Builder.build``) and run on the held-out
   calibration samples (holdout.py: every ``holdout_every``-th sample, at
   most ``CHOICE_SAMPLES``), which no histogram the sets come from saw and
   the per-tensor search and the refinement never run on. Without the
   accuracy check they then set the final thresholds like every other
   sample: the chosen methods are applied to histograms of every sample
   (:func:`apply_methods`, run.py), so a choice "method X for every
   tensor" is exactly calibrator X's engine. The start is
   ``DEFAULT_METHOD`` (mse), unless another single method's outputs are
   *clearly* closer to float32 there: lower by ``MIN_GAIN`` in relative L2
   over all outputs, and by a paired t-test on the samples' errors at
   level ``T_LEVEL`` (so not by one borderline sample); then the lowest of
   those. The per-tensor set replaces it where it is clearly lower still.
   A default rather than the lowest error because the held-out samples are
   few (8 of 32 calibration images): between methods that a few dozen
   samples cannot tell apart, the lowest error picked by noise, and cost
   0.002-0.01 of centred cosine against mse on PP-OCR cls, the
   dynamic-width recogniser and EfficientNet-Lite0 (RESULTS_accuracy.md,
   2026-12-02 night); mse was the closest to float32, or within noise of
   it, on those networks. Outputs that look like class scores (``[N, C]``)
   are compared by centred cosine: each side minus its mean over the
   samples and the INT8 side scaled by the gain that fits float32 best, so
   that what depends on the input decides, not a shared offset (on
   random-weight ShuffleNetV2 minmax had the lower plain error and centred
   cosine 0.871 against mse's 0.887), and an output that does not vary
   scores as badly as it is (relative error 1).
3. Refine: the tensors the engine holds in int8, in network order, are cut
   into ``SEGMENTS`` runs; for each run in turn its thresholds are replaced
   by those of each of the ``ALTERNATIVES`` next-best sets, and a change that
   clearly lowers the error on the kept calibrating samples (the *fit*
   samples, at most ``FIT_SAMPLES``) is kept: the block-output
   criterion, a choice per group of consecutive layers by its effect on the
   outputs, which the per-layer search cannot see.
4. Confirm: the refined set replaces the start only where its held-out
   error is clearly lower.

So the result is never worse, on samples that no choice was fitted to,
than the best single method.

Without held-out samples (fewer than ``holdout_every`` calibration samples,
or a network with a fixed batch and fewer than ``holdout_every`` batches)
steps 2 and 4 are judged on the fit samples, and the log says so. This is
the split TensorRT-style calibration lacks and issue 12 asks for: thresholds
from one part of the calibration data, the choice scored on the other
(cross-validation's rule, applied to choosing among calibration methods).
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

import numpy as np

from .._numerics import scale_from_amax
from .auto import CANDIDATES, method_amax
from .metrics import looks_like_class_scores
from .taps import Samples, WholeBatch, batches, count, fp32_tap_engine, rows, take

__all__ = ["apply_methods", "ALTERNATIVES", "CHOICE_SAMPLES", "DEFAULT_METHOD", "FIT_SAMPLES",
           "GLOBAL_METHODS", "MIN_GAIN", "SEGMENTS", "T_LEVEL", "choose"]

logger = logging.getLogger("int8rt")

# Whole-network alternatives to the per-tensor choice (step 1) ...
GLOBAL_METHODS = ("minmax", "mse", "percentile 99.99", "entropy")
# ... and the one the others must clearly beat to be the start (step 2).
DEFAULT_METHOD = "mse"
# Step 3 runs on at most this many kept calibrating samples; steps 2 and 4
# on at most this many held-out ones (the accuracy check may hold out more).
FIT_SAMPLES = 8
CHOICE_SAMPLES = 64
# Step 3: the int8 tensors are cut into this many runs, in network order,
# each tried with the thresholds of the next-best sets ...
SEGMENTS = 4
ALTERNATIVES = 2
# ... and a change is kept (step 3), or a set other than the best single
# method chosen (steps 2, 4), when it lowers the output error by this share
# at least: below it, a few dozen samples cannot tell the sets apart.
MIN_GAIN = 0.01
# ... and is lower by a paired one-sided t-test at this level.
T_LEVEL = 0.975

Thresholds = dict[str, float]
Methods = dict[str, str]


def _in_network_order(network: Any, names: list[str]) -> list[str]:
    tensors = network.tensors()
    order = [tensors[t]["name"] for t in network.inputs()]
    for node in network.nodes():
        order += [tensors[t]["name"] for t in node["outputs"]]
    rank = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))


class _Errors:
    """Squared output errors of one engine, per sample (``err``), beside the
    float32 outputs' energy per sample (``ref``)."""

    def __init__(self, err: np.ndarray, ref: np.ndarray) -> None:
        self.err, self.ref = err, ref

    @property
    def relative_l2(self) -> float:
        """``||int8 - fp32|| / ||fp32||`` over every output of every sample."""
        return float(np.sqrt(self.err.sum() / max(self.ref.sum(), 1e-30)))

    def clearly_below(self, other: "_Errors") -> bool:
        """Lower than ``other`` (same samples) by ``MIN_GAIN`` in relative L2,
        and by a paired one-sided Student t-test on the per-sample squared
        errors at level ``T_LEVEL``: a difference a single borderline sample
        makes (a classifier's probabilities on 64 samples) is not taken for
        a better set. (The bootstrap used before is overconfident on the 8
        held-out images of a 32-image calibration: it took percentile for
        clearly better than mse on EfficientNet-Lite0 at t = -1.9 with 5 of
        8 samples lower, and mse was closer to float32 on other images.)
        A single sample (one whole batch) says nothing of its spread: then
        the lower error counts."""
        if not self.relative_l2 < (1.0 - MIN_GAIN) * other.relative_l2:
            return False
        diff = self.err - other.err
        if len(diff) < 2:
            return True
        spread = float(np.std(diff, ddof=1))
        if spread == 0.0:
            return True  # lower on every sample by the same amount
        return float(np.mean(diff)) / (spread / np.sqrt(len(diff))) < -_t_quantile(len(diff) - 1)


# One-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom;
# past 30 the Cornish-Fisher expansion around the normal 1.95996 (error < 1e-3).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def _t_quantile(df: int) -> float:
    """Student t's 97.5% quantile (``T_LEVEL``) for ``df`` degrees of freedom."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


class _Scorer:
    """Errors of an INT8 engine's outputs against float32 on fixed samples;
    outputs that look like class scores centred (module docstring, step 2)."""

    def __init__(self, network: Any, data: list[dict[str, np.ndarray]], batch_size: int) -> None:
        self.data, self.batch_size = data, batch_size
        ref = self._run(fp32_tap_engine(network, []))
        self.centred = _class_score_outputs(ref, data, batch_size)
        self.ref = _centre(ref, self.centred)
        self.energy = self._per_sample(self.ref, self.ref, zero=True)

    def _run(self, engine: Any) -> list[dict[str, np.ndarray]]:
        ctx = engine.create_execution_context()
        return [ctx.run(chunk) for chunk in batches(self.data, self.batch_size)]

    def _per_sample(self, got: list[dict[str, np.ndarray]], ref: list[dict[str, np.ndarray]],
                    zero: bool = False) -> np.ndarray:
        """Sum of squares of ``got - ref`` (``got`` itself with ``zero``) per
        sample: along axis 0 where every output has the chunk's rows there,
        else per chunk."""
        out = []
        for g, r, chunk in zip(got, ref, batches(self.data, self.batch_size)):
            rows = len(next(iter(chunk.values())))
            per = [np.square((g[k] if zero else g[k] - r[k]).astype(np.float64)) for k in r]
            if not isinstance(chunk, WholeBatch) and all(v.ndim and v.shape[0] == rows for v in per):
                out.append(sum(v.reshape(rows, -1).sum(axis=1) for v in per))
            else:
                out.append(np.array([sum(float(v.sum()) for v in per)]))
        return np.concatenate(out)

    def __call__(self, engine: Any) -> _Errors:
        got = _centre(self._run(engine), self.centred)
        for k in self.centred:
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
        return _Errors(self._per_sample(got, self.ref), self.energy)


def _class_score_outputs(outputs: list[dict[str, np.ndarray]], data: list[dict[str, np.ndarray]],
                         batch_size: int) -> set[str]:
    """The outputs that look like class scores (``[N, C]``, metrics.py) in
    every chunk, one row per sample, over at least two samples: those
    compared centred."""
    chunks = list(batches(data, batch_size))
    if not outputs or any(isinstance(c, WholeBatch) for c in chunks) or sum(rows(c) for c in chunks) < 2:
        return set()
    return {k for k in outputs[0]
            if all(looks_like_class_scores(o[k].shape) and o[k].shape[0] == rows(c) for o, c in zip(outputs, chunks))}


def _centre(outputs: list[dict[str, np.ndarray]], names: set[str]) -> list[dict[str, np.ndarray]]:
    """``outputs`` with each of ``names`` minus its mean over all samples."""
    if not names:
        return outputs
    means = {k: np.concatenate([o[k] for o in outputs]).astype(np.float64).mean(axis=0) for k in names}
    return [{k: (v - means[k]) if k in names else v for k, v in o.items()} for o in outputs]


def int8_tensors(engine: Any, network: Any) -> set[str]:
    """The source tensors whose threshold changes an INT8 engine
    (``_core.Engine`` lowered from ``network``): those it holds in int8, and
    those a fused layer quantizes inside (taps.quantized_inside)."""
    from .taps import int8_scales, quantized_inside

    lowered = engine.network()
    return set(int8_scales(lowered)) | quantized_inside(lowered, network)


def single_method_sets(collector: Any, names: list[str], exact: Optional[set[str]] = None,
                       methods: tuple[str, ...] = GLOBAL_METHODS) -> dict[str, tuple[Thresholds, Methods]]:
    """Each method of ``methods`` applied to every tensor: label -> (thresholds, methods).

    The tensors in ``exact`` (None: all) get the calibrator's own search
    (MSE over every bin), so a set equals what that calibrator gives on the
    same histograms; the others' thresholds change nothing in the engine
    (not held in int8) and use the strided search."""
    out = {}
    hists = {n: collector.histogram(n) for n in names}
    for label in methods:
        options = dict(CANDIDATES)[label]
        out[label] = ({n: method_amax(hists[n], label, options, exact=exact is None or n in exact) for n in names},
                      {n: f"auto:all {label}" for n in names})
    return out


def apply_methods(collector: Any, methods: Mapping[str, str], names: set[str],
                  amaxes: Mapping[str, float]) -> Thresholds:
    """Each tensor of ``names`` gets the threshold its chosen method
    (``methods``: ``"auto:<label>"`` or ``"auto:all <label>"``, a CANDIDATES
    label) gives on ``collector``'s histograms, with the exact search; the
    other tensors (not held in int8) keep ``amaxes``."""
    options = dict(CANDIDATES)
    out = dict(amaxes)
    for n in names:
        label = methods.get(n, "").removeprefix("auto:").removeprefix("all ")
        if label in options and n in collector:
            out[n] = method_amax(collector.histogram(n), label, options[label], exact=True)
    return out


def choose(build: Any, network: Any, sets: Mapping[str, tuple[Thresholds, Methods]], int8_names: set[str],
           fit: Optional[Samples], held: Optional[Samples], batch_size: int,
           engines: Optional[dict[str, Any]] = None) -> tuple[Thresholds, Methods, dict[str, float]]:
    """Steps 2-4 (module docstring) over ``sets`` (label -> (thresholds,
    methods); ``"per-tensor"`` and the ``GLOBAL_METHODS`` labels), refining
    the tensors in ``int8_names``.

    ``build(scales) -> _core.Engine`` lowers a set; ``engines`` holds sets
    already built (label -> engine), reused. ``fit`` are kept calibrating
    samples, ``held`` held-out ones (None or empty: steps 2 and 4 are
    judged on the fit samples).
    Returns the thresholds, their methods, and every measured error
    ("<set> held-out" / "segment k <set> fit" / "chosen" ... -> relative L2)."""
    engines = dict(engines or {})

    def engine(label: str) -> Any:
        if label not in engines:
            engines[label] = build({n: scale_from_amax(a) for n, a in sets[label][0].items()})
        return engines[label]

    fit_data = take(fit, FIT_SAMPLES)
    held_data = take(held, CHOICE_SAMPLES)
    errors: dict[str, float] = {}
    score_fit = _Scorer(network, fit_data, batch_size)
    # Step 2, the start: judged on held-out samples where there are some.
    judge, where = (_Scorer(network, held_data, batch_size), "held-out") if held_data else (score_fit, "fit")
    first = {label: judge(engine(label)) for label in sets}
    errors.update({f"{k} {where}": v.relative_l2 for k, v in first.items()})
    singles = [label for label in sets if label in GLOBAL_METHODS]
    start = DEFAULT_METHOD if DEFAULT_METHOD in singles else min(singles, key=lambda label: first[label].relative_l2)
    challengers = [label for label in singles if first[label].clearly_below(first[start])]
    if challengers:
        start = min(challengers, key=lambda label: first[label].relative_l2)
    for label in sets:  # the per-tensor set: only when clearly ahead of every single method
        if label not in GLOBAL_METHODS and first[label].clearly_below(first[start]):
            start = label
    ranked = [start] + sorted((k for k in sets if k != start), key=lambda label: first[label].relative_l2)
    # Step 3, refined on the fit samples.
    cur_a, cur_m = dict(sets[start][0]), dict(sets[start][1])
    cur_err = first[start] if not held_data else score_fit(engine(start))
    refined = None
    names = _in_network_order(network, [n for n in cur_a if n in int8_names])
    size = max(1, -(-len(names) // SEGMENTS))
    for k in range(0, len(names), size):
        run = names[k:k + size]
        for alt in ranked[1:1 + ALTERNATIVES]:
            a_alt, m_alt = sets[alt]
            if all(abs(a_alt[n] - cur_a[n]) <= 0.01 * max(a_alt[n], cur_a[n]) for n in run):
                continue  # the same thresholds: nothing to try
            trial = {**cur_a, **{n: a_alt[n] for n in run}}
            trial_engine = build({n: scale_from_amax(a) for n, a in trial.items()})
            err = score_fit(trial_engine)
            errors[f"segment {k // size + 1} {alt} fit"] = err.relative_l2
            if err.clearly_below(cur_err):
                cur_a, cur_err, refined = trial, err, trial_engine
                cur_m.update({n: m_alt[n] for n in run})
    # Step 4: a refinement stays only where the held-out samples confirm it.
    label, amaxes, methods = start, sets[start][0], sets[start][1]
    if refined is not None:
        if not held_data:
            label, amaxes, methods = "refined", cur_a, cur_m
        else:
            confirm = judge(refined)
            errors["refined held-out"] = confirm.relative_l2
            if confirm.clearly_below(first[start]):
                label, amaxes, methods = "refined", cur_a, cur_m
    errors["chosen"] = errors.get(f"{label} {where}", errors.get(f"{label} held-out", cur_err.relative_l2))
    if held_data:
        logger.info("auto calibration, output relative L2 (class scores: sqrt(1 - centred cosine^2); held-out: %d "
                    "calibration samples the search did not fit; fit: %d kept ones): %s; chosen: %s",
                    count(held_data), count(fit_data),
                    ", ".join(f"{k} {v:.4g}" for k, v in errors.items()), label)
    else:
        logger.info("auto calibration: no calibration samples held out, so the choice is judged on the %d it was "
                    "made on; output relative L2 (class scores: sqrt(1 - centred cosine^2)): %s; chosen: %s",
                    count(fit_data),
                    ", ".join(f"{k} {v:.4g}" for k, v in errors.items()), label)
    return dict(amaxes), dict(methods), errors
