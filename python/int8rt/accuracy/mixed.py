"""Automatic mixed precision: the cheapest set of float32 layers that meets an accuracy target.

``BuilderConfig(accuracy_target=0.99)`` (the lowest centred cosine between
INT8 and FP32 outputs to accept, or with ``accuracy_metric`` a score of
yours) after calibration:

1. Sensitivity, no labels needed: for each int8 layer of the built engine,
   an engine where only that layer is int8 (every other candidate layer kept
   float32 through ``layer_precisions``) is measured against the float32
   network on the held-out check samples (holdout.py); the sensitivity is
   ``1 - score``.
2. Cost: each layer's float cost is the CPU milliseconds it takes in the
   engine with every candidate in float32, with the float ops its int8
   kernel had fused, less those it takes int8 in the built one (both
   profiled layer by layer on the check samples, thread CPU clock): what
   keeping it float32 adds (float_costs). The search keeps its layers
   FP32 (``layer_precisions`` ``"fp32"``).
3. Two rankings, each searched by bisection for the smallest prefix that
   meets the target (assuming more float layers never score lower): most
   sensitive first, and most sensitivity per float millisecond first (the
   knapsack ratio; PP-OCRv4 rec kept its 24 first, largest convs in float32
   by sensitivity alone and ran slower than float32, RESULTS_accuracy.md
   acc35). Of the sets that meet the target, the one of the lower summed
   float cost is chosen. When even every layer in float32 would not meet
   it, all candidates stay float and a warning says so.
4. BF16 (acc39): where BF16 kernels run natively (AVX512-BF16 under the
   ISA cap, :func:`mixed_bf16.bf16_unavailable`) and the build did not force FP32
   (``BuilderConfig.accuracy_bf16=False``), the chosen set is built again
   with its layers that have a BF16 kernel that pays (Conv of one group /
   Gemm with constant weights, MatMul: :func:`mixed_bf16.bf16_precisions`) in BF16,
   the rest FP32, and scored alike; it ships where it still meets the
   target, else the fewest most sensitive of them stay FP32 (bisection),
   else the FP32 set ships (mixed_bf16.py). The search itself runs FP32:
   BF16 can only lower a set's score, so the set found is the smallest
   any BF16 set could be.
5. The report records the float layers with their sensitivity and cost
   (and, with BF16 layers, each one's cost in BF16 and in FP32 measured
   in the two mixed engines), the score reached and the latency of the
   all-int8, the chosen (and the FP32-kept) and the float32
   engine (median of runs on the check samples). A chosen engine no faster
   than float32 is a warning offering the float32 engine (not shipped in its
   place: a timing on a loaded machine would make the build's result vary).

``layer_precisions`` given by hand still apply to every engine built here.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import numpy as np

from . import metrics
from .mixed_bf16 import bf16_trial
from .taps import batches

__all__ = ["MIN_SAVING", "MixedPrecision", "Metric", "RANKINGS", "choose_float_layers", "default_metric", "float_costs",
           "latency_verdict", "latency_warning", "little_gain", "rankings"]

logger = logging.getLogger("int8rt")

Metric = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray]], float]

# A chosen engine that saves less than this share of the float32 engine's
# latency is a warning: on PP-OCR rec (entropy, target 0.99) 30 of 116
# layers in float32 cost as much CPU as float32 itself (239 against 240 ms).
MIN_SAVING = 0.1


def little_gain(ms_chosen: float, ms_fp32: Optional[float]) -> bool:
    """Whether the chosen engine saves less than ``MIN_SAVING`` of the
    float32 engine's latency (False where float32 was not timed)."""
    return ms_fp32 is not None and ms_chosen > (1.0 - MIN_SAVING) * ms_fp32


def latency_verdict(ms_chosen: float, ms_fp32: Optional[float]) -> str:
    """``"slower than float32"`` / ``"saves less than 10% over float32"``
    where :func:`little_gain`, else "": the one wording of the text line,
    the page and the warning."""
    if not little_gain(ms_chosen, ms_fp32):
        return ""
    return "slower than float32" if ms_chosen >= ms_fp32 else f"saves less than {round(100 * MIN_SAVING)}% over float32"


def latency_warning(float_layers: int, ms_chosen: float, ms_fp32: Optional[float], bf16_layers: int = 0) -> str:
    """The warning where the chosen engine is little faster than float32, or
    slower (PP-OCRv4 rec, auto, target 0.99: 24 convs in float32, 596.5 ms
    against the float32 engine's 532.7 ms), offering the float32 engine
    then; "" where it is not. ``bf16_layers`` of the float layers run BF16."""
    verdict = latency_verdict(ms_chosen, ms_fp32)
    if not float_layers or not verdict:
        return ""
    kept = f"in float ({bf16_layers} BF16)" if bf16_layers else "in float32"
    return (f"mixed precision: with {float_layers} layer(s) {kept} the engine ({ms_chosen:.3f} ms) is "
            f"{verdict.replace('saves', 'saving')} (the float32 engine: {ms_fp32:.3f} ms): "
            + ("the float32 engine serves this target better (int8rt build --precision fp32); "
               if ms_chosen >= ms_fp32 else "")
            + "a lower accuracy_target, or another calibrator, keeps more in int8")


@dataclass(frozen=True)
class MixedPrecision:
    """What automatic mixed precision chose (``BuildReport.mixed_precision``)."""

    target: float
    score_all_int8: float
    score: float
    met: bool
    float_layers: tuple[str, ...]
    sensitivity: dict[str, float]        # every candidate layer, 1 - score with only it in int8
    ms_all_int8: float
    ms_chosen: float
    ms_fp32: Optional[float] = None      # the float32 engine, timed alike (None: not timed)
    float_ms: Optional[dict[str, float]] = None  # every candidate layer's float cost (CPU ms added in float32)
    ranking: str = "sensitivity"         # the ranking whose set was chosen: RANKINGS
    by_sensitivity: tuple[str, ...] = ()  # the set most-sensitive-first alone keeps (the ranking before acc37)
    by_cost: tuple[str, ...] = ()        # the set most-sensitivity-per-float-ms-first keeps
    # acc39: float layers in BF16 where the chosen set still meets the target with them so
    bf16_layers: tuple[str, ...] = ()    # of float_layers, those shipped in BF16 (the others run FP32)
    bf16_score: Optional[float] = None   # the chosen set's score with its BF16-capable layers in BF16 (None: not tried)
    fp32_score: Optional[float] = None   # the chosen set's score with every float layer FP32
    bf16_note: str = ""                  # why the float layers stay FP32 ("" where BF16 ships)
    ms_fp32_kept: Optional[float] = None  # the chosen set with every float layer FP32, timed alike (BF16 shipped)
    bf16_ms: Optional[dict[str, float]] = None       # each BF16 layer's float cost in the shipped engine
    fp32_kept_ms: Optional[dict[str, float]] = None  # and in the FP32-kept engine (the same rule: float_costs)


RANKINGS = ("sensitivity", "sensitivity per float ms")

# Int8 ops of a pointwise region (a table): when the layer run before one goes float32, the region runs as float
# ops too (PP-OCRv4 rec: each float conv's hardswish ran as five float ops, 30.9 of the mixed engine's 79.3 ms),
# so its float time is booked to that layer as well as to itself.
POINTWISE_OPS = frozenset({"int8rt.QLut"})


def default_metric(reference: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray]) -> float:
    """The lowest centred cosine over the outputs (NaN outputs, which do not vary, are skipped)."""
    values = [metrics.centred_cosine(reference[k], test[k]) for k in reference]
    values = [v for v in values if not math.isnan(v)]
    return min(values) if values else 1.0


def _outputs(engine: Any, data: Mapping[str, np.ndarray], batch_size: int) -> dict[str, np.ndarray]:
    ctx = engine.create_execution_context()
    parts: dict[str, list[np.ndarray]] = {}
    for chunk in batches(data, batch_size):
        for k, v in ctx.run(chunk).items():
            parts.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in parts.items()}


def _median_ms(engines: list[Any], data: Mapping[str, np.ndarray], batch_size: int, runs: int = 9) -> list[float]:
    """Median wall milliseconds of one run of each engine on the first chunk
    of ``data``, the engines alternated run by run so that a change in the
    machine's load falls on all of them alike."""
    contexts = [e.create_execution_context() for e in engines]
    chunk = next(batches(data, batch_size))
    for ctx in contexts:
        ctx.run(chunk)
    times: list[list[float]] = [[] for _ in contexts]
    for _ in range(runs):
        for ctx, t in zip(contexts, times):
            t0 = time.perf_counter()
            ctx.run(chunk)
            t.append((time.perf_counter() - t0) * 1e3)
    return [float(np.median(t)) for t in times]


def _groups(engine: Any, node_names: set[str]) -> dict[str, list[str]]:
    """Int8 layer of the engine -> the network nodes that make it (a table
    region's layer is named by its nodes joined with '+')."""
    out = {}
    for layer in engine.layers():
        if layer["precision"] != "int8":
            continue
        name = layer["name"]
        parts = [name] if name in node_names else [p for p in name.split("+") if p in node_names]
        if parts:
            out[name] = parts
    return out


def float_costs(engine: Any, all_float: Any, groups: Mapping[str, list[str]],
                data: Mapping[str, np.ndarray], batch_size: int) -> dict[str, float]:
    """Int8 layer -> the CPU milliseconds keeping it float32 adds: the time
    of ``all_float``'s layers made of its nodes, and of the float layers and
    conversions made of no candidate's nodes that run after them up to the
    next candidate's layer (the activation chain a conv's int8 kernel fused:
    PP-OCRv4 rec's hardswish runs as five float ops beside a float conv),
    and of a pointwise region (POINTWISE_OPS) run right after it, less its
    own time int8. ``all_float`` is the engine built with every
    candidate in float32 (``layer_precisions``, as the mixed engines are),
    so float layers run as they would in a mixed engine. One chunk, median
    of 3 profiled runs each, thread CPU clock."""
    chunk = next(batches(data, batch_size))
    int8 = {row["name"]: row["ms"] for row in _profile(engine, chunk)}
    owner = {n: layer for layer, parts in groups.items() for n in parts}
    pointwise = {layer["name"] for layer in engine.layers() if layer["op"] in POINTWISE_OPS}
    cost = {layer: -int8.get(layer, 0.0) for layer in groups}
    current = anchor = None   # the layer the last row belongs to; the non-pointwise one a region follows
    for row in _profile(all_float, chunk):   # run order
        mine = {owner[n] for n in row["name"].split("+") if n in owner}
        if mine:
            region = mine <= pointwise
            if region and anchor is not None and (current == anchor or current in mine):
                cost[anchor] += row["ms"]  # the pointwise region right after it falls to float with it
            elif region:
                anchor = None
            current = sorted(mine)[0]
            anchor = anchor if region else current
            for layer in mine:
                cost[layer] += row["ms"]
        elif current is not None and row["precision"] != "int8":
            cost[current] += row["ms"]
    return {layer: max(0.0, ms) for layer, ms in cost.items()}


def _profile(engine: Any, chunk: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    return list(engine.create_execution_context().profile(dict(chunk), 3, True))


def rankings(sensitivity: Mapping[str, float], cost: Mapping[str, float]) -> dict[str, list[str]]:
    """The two orders searched (RANKINGS): most sensitive first, and most
    sensitivity per float millisecond first (a cost under 1% of the largest
    counts as that 1%, so a free layer of no sensitivity does not lead)."""
    floor = 0.01 * max(cost.values(), default=0.0) or 1.0
    by_ratio = sorted(sensitivity, key=lambda n: -sensitivity[n] / max(cost.get(n, 0.0), floor))
    return {RANKINGS[0]: sorted(sensitivity, key=lambda n: -sensitivity[n]), RANKINGS[1]: by_ratio}


def choose_float_layers(*, build: Callable[..., Any], engine: Any, node_names: set[str],
                        reference: Mapping[str, np.ndarray], data: Mapping[str, np.ndarray], batch_size: int,
                        target: float, metric: Optional[Metric] = None,
                        progress: Any = None, fp32_engine: Any = None,
                        bf16_off: str = "not asked for") -> tuple[Any, MixedPrecision]:
    """Returns the engine to ship and what was chosen. ``build(fp32_nodes)``
    makes an INT8 engine with those network nodes kept in float32,
    ``build(fp32_nodes, bf16_nodes)`` with those of ``bf16_nodes`` that
    have a BF16 kernel that pays in BF16 (:func:`mixed_bf16.bf16_precisions`; asked
    only where ``bf16_off`` is "": else it says why BF16 is not tried,
    :func:`mixed_bf16.bf16_unavailable`).
    ``progress`` (True or an :class:`int8rt.Progress`) shows the phases
    ``sensitivity`` (a step per int8 layer) and ``mixed precision`` (a step
    per engine the bisections build). ``fp32_engine``, where given, is timed
    beside the two, so the report says when the chosen engine is no faster
    than float32."""
    from ..progress import phase

    metric = metric or default_metric
    groups = _groups(engine, node_names)
    everything = {n for parts in groups.values() for n in parts}
    score0 = metric(reference, _outputs(engine, data, batch_size))
    sensitivity: dict[str, float] = {}
    scores: dict[frozenset[str], float] = {}
    all_float = None

    def score_of(fp32_nodes: set[str]) -> tuple[float, Any]:
        """(score, engine) with those nodes in float32; a set scored before
        is not built again and comes with no engine (None): only scores are
        kept (116 engines of PP-OCRv4 rec would not fit memory)."""
        key = frozenset(fp32_nodes)
        if not key:
            return score0, engine
        if key == everything and all_float is not None:
            return all_float
        if key in scores:
            return scores[key], None
        e = build(set(key))
        scores[key] = metric(reference, _outputs(e, data, batch_size))
        return scores[key], e

    # all int8 meeting the target needs no ranking: ConvNeXt (HF, auto, 0.99) scored 0.9984 all int8, then
    # built and ran 95 engines (111 s) to keep no layer in float32
    with phase(progress if score0 < target else False, "sensitivity", total=len(groups), unit="layer") as step:
        for layer, parts in groups.items() if score0 < target else ():
            sensitivity[layer] = 1.0 - score_of(everything - set(parts))[0]
            step.update()
    cost: dict[str, float] = {}
    found = {RANKINGS[0]: ((), (score0, engine))}
    if score0 < target:
        all_float = score_of(everything)  # the first engine of both bisections: built now, kept
        cost = float_costs(engine, all_float[1], groups, data, batch_size)
        orders = rankings(sensitivity, cost)
        # at most 1 + ceil(log2(layers)) engines per ranking: every layer float (built once), then the bisection
        with phase(progress, "mixed precision", total=2 * (1 + math.ceil(math.log2(max(1, len(groups))))),
                   unit="engine") as step:
            for label, order in orders.items():
                def prefix(k: int, order: list[str] = order) -> tuple[float, Any]:
                    return score_of({n for name in order[:k] for n in groups[name]})
                k, best = _bisect(prefix, len(order), target, step)
                found[label] = (tuple(order[:k]), best)
        if found[RANKINGS[0]][1][0] < target:
            logger.warning("accuracy target %.4g not met even with every int8 layer in float32 (score %.4g)",
                           target, found[RANKINGS[0]][1][0])
    # of the sets meeting the target (or, where none does, every layer), the lower summed float cost
    ranking = min(found, key=lambda label: (sum(cost.get(n, 0.0) for n in found[label][0]), RANKINGS.index(label)))
    chosen, best = found[ranking]
    nodes = {n for name in chosen for n in groups[name]}
    if best[1] is None:  # scored earlier, not kept
        best = (best[0], build(nodes))
    trial = bf16_trial(build, nodes, chosen, groups, sensitivity, best[0], bf16_off,
                        lambda e: metric(reference, _outputs(e, data, batch_size)), target) if chosen else None
    shipped = trial.engine if trial is not None and trial.layers else best[1]
    fp32_kept = [best[1]] if shipped is not best[1] else []
    timed = [engine] + ([shipped] if chosen else []) + fp32_kept + ([fp32_engine] if fp32_engine is not None else [])
    ms = _median_ms(timed, data, batch_size)
    if not chosen:  # the all-int8 engine is the one shipped: timed once
        ms.insert(1, ms[0])
    ms_fp32 = ms[-1] if fp32_engine is not None else None
    bf16 = {}
    if fp32_kept:  # each BF16 layer's cost beside its FP32 cost, both in the mixed engine they run in
        kept = {name: groups[name] for name in trial.layers}
        bf16 = dict(bf16_layers=trial.layers, bf16_ms=float_costs(engine, shipped, kept, data, batch_size),
                    fp32_kept_ms=float_costs(engine, best[1], kept, data, batch_size), ms_fp32_kept=ms[2])
    result = MixedPrecision(target=target, score_all_int8=score0, score=trial.score if bf16 else best[0],
                            met=(trial.score if bf16 else best[0]) >= target,
                            float_layers=chosen, sensitivity=sensitivity, ms_all_int8=ms[0], ms_chosen=ms[1],
                            ms_fp32=ms_fp32, float_ms={k: cost[k] for k in sensitivity}, ranking=ranking,
                            by_sensitivity=found[RANKINGS[0]][0], by_cost=found.get(RANKINGS[1], ((),))[0],
                            bf16_score=trial.score if trial is not None else None,
                            fp32_score=best[0] if chosen else None,
                            bf16_note=trial.note if trial is not None else "", **bf16)
    warning = latency_warning(len(chosen), result.ms_chosen, result.ms_fp32, len(result.bf16_layers))
    if warning:  # the report's text and page say it too (BuildReport.format)
        logger.warning("%s", warning, extra={"in_build_report": True})
    logger.info("mixed precision: %d of %d int8 layers kept in float (%d BF16; ranked by %s) for score %.4f "
                "(all int8: %.4f); latency %.3f -> %.3f ms", len(chosen), len(groups), len(result.bf16_layers),
                ranking, result.score, score0, result.ms_all_int8, result.ms_chosen)
    return shipped, result


def _bisect(score_with: Callable[[int], tuple[float, Any]], n: int, target: float,
            step: Any) -> tuple[int, tuple[float, Any]]:
    """The smallest ``k`` (of ``n`` layers in ranking order) whose engine
    with the first ``k`` in float32 scores at least ``target`` (score(0)
    does not), and its (score, engine); ``n`` and its engine when even that
    misses the target."""
    lo, hi = 0, n   # score(lo) < target; find the smallest k with score >= target
    top = score_with(hi)
    step.update()
    best_k, best = hi, top
    if top[0] >= target:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            s = score_with(mid)
            step.update()
            if s[0] >= target:
                hi, best_k, best = mid, mid, s
            else:
                lo = mid
    return best_k, best
