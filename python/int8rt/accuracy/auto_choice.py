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
   calibration samples (holdout.py: every ``holdout_every``-th sample, which
   no histogram saw; at most ``CHOICE_SAMPLES``). The start is the single
   method whose outputs are closest to float32 there (relative L2 over all
   outputs), or the per-tensor set where it is lower by ``MIN_GAIN``.
3. Refine: the tensors the engine holds in int8, in network order, are cut
   into ``SEGMENTS`` runs; for each run in turn its thresholds are replaced
   by those of each of the ``ALTERNATIVES`` next-best sets, and a change that
   lowers the error on the kept calibrating samples (the *fit* samples, at
   most ``FIT_SAMPLES``) by ``MIN_GAIN`` or more is kept: the block-output
   criterion, a choice per group of consecutive layers by its effect on the
   outputs, which the per-layer search cannot see.
4. Confirm: the refined set replaces the start only where its held-out
   error is lower by ``MIN_GAIN``.

So the result is never worse, on samples that did not shape the
thresholds, than the best single method.

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
from .metrics import relative_l2
from .taps import Samples, batches, count, fp32_tap_engine, take

__all__ = ["ALTERNATIVES", "CHOICE_SAMPLES", "FIT_SAMPLES", "GLOBAL_METHODS", "MIN_GAIN", "SEGMENTS", "choose"]

logger = logging.getLogger("int8rt")

# Whole-network alternatives to the per-tensor choice (step 1).
GLOBAL_METHODS = ("minmax", "mse", "percentile 99.99", "entropy")
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

Thresholds = dict[str, float]
Methods = dict[str, str]


def _in_network_order(network: Any, names: list[str]) -> list[str]:
    tensors = network.tensors()
    order = [tensors[t]["name"] for t in network.inputs()]
    for node in network.nodes():
        order += [tensors[t]["name"] for t in node["outputs"]]
    rank = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))


class _Scorer:
    """Relative L2 of an INT8 engine's outputs against float32 on fixed samples."""

    def __init__(self, network: Any, data: list[dict[str, np.ndarray]], batch_size: int) -> None:
        self.data, self.batch_size = data, batch_size
        parts = self._run(fp32_tap_engine(network, []))
        self.names = list(parts)
        self.ref = self._flat(parts)

    def _run(self, engine: Any) -> dict[str, list[np.ndarray]]:
        ctx = engine.create_execution_context()
        parts: dict[str, list[np.ndarray]] = {}
        for chunk in batches(self.data, self.batch_size):
            for k, v in ctx.run(chunk).items():
                parts.setdefault(k, []).append(v)
        return parts

    def _flat(self, parts: Mapping[str, list[np.ndarray]]) -> np.ndarray:
        return np.concatenate([p.ravel() for k in self.names for p in parts[k]])

    def __call__(self, engine: Any) -> float:
        return relative_l2(self.ref, self._flat(self._run(engine)))


def int8_tensors(engine: Any) -> set[str]:
    """The source tensors an INT8 engine (``_core.Engine``) holds in int8:
    the only ones whose threshold changes the engine."""
    from .taps import int8_scales

    return set(int8_scales(engine.network()))


def single_method_sets(collector: Any, names: list[str]) -> dict[str, tuple[Thresholds, Methods]]:
    """Each method of ``GLOBAL_METHODS`` applied to every tensor: label -> (thresholds, methods)."""
    out = {}
    for label in GLOBAL_METHODS:
        options = dict(CANDIDATES)[label]
        out[label] = ({n: method_amax(collector.histogram(n), label, options) for n in names},
                      {n: f"auto:all {label}" for n in names})
    return out


def choose(build: Any, network: Any, sets: Mapping[str, tuple[Thresholds, Methods]], int8_names: set[str],
           fit: Optional[Samples], held: Optional[Samples], batch_size: int,
           engines: Optional[dict[str, Any]] = None) -> tuple[Thresholds, Methods, dict[str, float]]:
    """Steps 2-4 (module docstring) over ``sets`` (label -> (thresholds,
    methods); ``"per-tensor"`` and the ``GLOBAL_METHODS`` labels), refining
    the tensors in ``int8_names``.

    ``build(scales) -> _core.Engine`` lowers a set; ``engines`` holds sets
    already built (label -> engine), reused. ``fit`` are kept calibrating
    samples, ``held`` held-out ones (None or empty: step 4 is skipped).
    Returns the thresholds, their methods, and every measured error
    ("<set> held-out" / "segment k <set> fit" / "chosen" ... -> relative L2)."""
    engines = dict(engines or {})

    def engine(label: str, amaxes: Optional[Thresholds] = None) -> Any:
        if label not in engines:
            engines[label] = build({n: scale_from_amax(a) for n, a in (amaxes or sets[label][0]).items()})
        return engines[label]

    fit_data = take(fit, FIT_SAMPLES)
    held_data = take(held, CHOICE_SAMPLES)
    errors: dict[str, float] = {}
    score_fit = _Scorer(network, fit_data, batch_size)
    # Step 2, the start: judged on held-out samples where there are some.
    judge, where = (_Scorer(network, held_data, batch_size), "held-out") if held_data else (score_fit, "fit")
    first = {label: judge(engine(label)) for label in sets}
    errors.update({f"{k} {where}": v for k, v in first.items()})
    singles = [label for label in sets if label in GLOBAL_METHODS]
    start = min(singles, key=first.get)
    for label in sets:  # the per-tensor set: only when clearly ahead of every single method
        if label not in GLOBAL_METHODS and first[label] < (1.0 - MIN_GAIN) * first[start]:
            start = label
    ranked = [start] + sorted((k for k in sets if k != start), key=first.get)
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
            errors[f"segment {k // size + 1} {alt} fit"] = err
            if err < (1.0 - MIN_GAIN) * cur_err:
                cur_a, cur_err, refined = trial, err, trial_engine
                cur_m.update({n: m_alt[n] for n in run})
    # Step 4: a refinement stays only where the held-out samples confirm it.
    label, amaxes, methods = start, sets[start][0], sets[start][1]
    if refined is not None:
        if not held_data:
            label, amaxes, methods = "refined", cur_a, cur_m
        else:
            errors["refined held-out"] = judge(refined)
            if errors["refined held-out"] < (1.0 - MIN_GAIN) * first[start]:
                label, amaxes, methods = "refined", cur_a, cur_m
    errors["chosen"] = errors.get(f"{label} {where}", errors.get(f"{label} held-out", cur_err))
    if held_data:
        logger.info("auto calibration, output relative L2 (held-out: %d calibration samples no threshold saw; fit: "
                    "%d kept ones): %s; chosen: %s", count(held_data), count(fit_data),
                    ", ".join(f"{k} {v:.4g}" for k, v in errors.items()), label)
    else:
        logger.info("auto calibration: no calibration samples held out, so the choice is judged on the %d it was "
                    "made on; output relative L2: %s; chosen: %s", count(fit_data),
                    ", ".join(f"{k} {v:.4g}" for k, v in errors.items()), label)
    return dict(amaxes), dict(methods), errors
