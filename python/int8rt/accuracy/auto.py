"""IInt8AutoCalibrator's threshold search: per tensor, the candidate that
least disturbs the layers reading the tensor.

Candidates come from the tensor's histogram through the existing threshold
functions (csrc/calib: entropy as TensorRT's EntropyCalibration2, minmax,
MSE, and percentiles 99.9 / 99.99 / 99.999). The methods
of the whole-network sets (auto_choice.GLOBAL_METHODS: MSE among them) come
with the calibrators' own exact search, computed once and passed in
(``known``), so a set "mse for every tensor" is the MSE calibrator's (on
PP-OCR rec 320 an MSE strided to 256 candidates moved residual-add
thresholds by up to 6% and cost 0.008 of centred cosine, RESULTS_accuracy.md). The criterion
is not a property of the histogram but of the network: on kept calibration
samples (holdout.py; never the held-out check samples), with every other
tensor in float32, the tensor is fake-quantized at each candidate and each
layer consuming it (conv, GEMM, pooling, add, ...) is run on it as a
one-node engine; the error is that layer's output error, relative to its
output energy, summed over the consumers:

    err(a) = sum_c ||c(q_a(x), rest) - c(x, rest)||^2 / ||c(x, rest)||^2

A tensor with no runnable consumer (a network output, or a consumer reading
int64 tensors) uses its own relative error ``||q_a(x) - x||^2 / ||x||^2``.
The smallest error wins; ties keep the earlier candidate in the order above.
Candidates within 1% of an earlier one are dropped (they quantize alike).
This is the layer-output criterion of data-driven post-training quantizers
(AdaRound's and NNCF's per-layer objectives), restricted to choosing among
the classic thresholds, so no new rule for the threshold itself is invented.

Only the tensors the INT8 engine holds in int8 are searched (the others'
thresholds change nothing), on the first ``LAYER_SAMPLES`` kept samples.
The per-tensor result is one of the sets auto_choice.py then judges on the
whole network, finally on held-out samples.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

import numpy as np

from .._numerics import scale_from_amax
from .metrics import fake_quantize, sum_squares
from .taps import Samples, batches, fp32_tap_engine, one_node_engine, take

__all__ = ["CANDIDATES", "LAYER_SAMPLES", "SEARCH_SAMPLES", "method_amax", "search"]

logger = logging.getLogger("int8rt")

# The legacy entropy (TensorRT's deprecated EntropyCalibration) is not a
# candidate: its search is the slowest (a smoothed KL per strided bin) and it
# is the method that collapses PP-OCR cls and rec; TensorRT's current
# entropy is one.
CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("entropy", {}), ("mse", {}), ("minmax", {}),
    ("percentile 99.9", {"percentile": 99.9}), ("percentile 99.99", {"percentile": 99.99}),
    ("percentile 99.999", {"percentile": 99.999}))

# Calibrating samples kept for the search, the choice's refinement and bias
# correction (whole batches, the first ones) ...
SEARCH_SAMPLES = 64
# ... of which the per-layer search runs on this many. It runs every
# consumer once per candidate in float32, about (candidates + 1) forward
# passes over these samples: on 8 of a 32-sample calibration it was 18 of
# the 31 s of an auto build of the ConvNeXt-Tiny-like network (minmax's
# whole build: 9 s). Its result is one of the sets the whole-network choice
# (auto_choice.py) then scores on held-out samples, so a ranking made noisy
# by few samples cannot make auto worse than the best single method there.
# (Measured: 8 samples and the legacy entropy candidate back cost 40% more
# CPU on ConvNeXt and moved no benchmark choice but the dynamic-width
# recogniser's, to a refined set that scored worse there: RESULTS_accuracy.md.)
LAYER_SAMPLES = 4


# MSE and the legacy entropy search try every bin as a threshold at O(bins)
# each; on histograms the "extend" policy has grown to thousands of bins
# that is half a second per tensor, so they try every k-th bin instead, at
# most this many candidates (entropy, minmax and percentile are fast as they are).
MAX_SEARCH_CANDIDATES = 256


def method_amax(hist: Any, label: str, options: dict[str, Any], *, exact: bool = False) -> float:
    """The threshold of method ``label`` (a CANDIDATES label) for histogram
    ``hist``; MSE and the legacy entropy over strided candidates unless ``exact``."""
    method = label.split()[0]
    if method in ("mse", "entropy_legacy") and not exact:
        options = {**options, "stride": max(1, -(-len(hist.counts) // MAX_SEARCH_CANDIDATES))}
    return float(np.float32(hist.compute_amax(method, **options)))


Known = Mapping[str, Mapping[str, float]]  # method label -> tensor -> threshold already computed


def _amax(hist: Any, name: str, label: str, options: dict[str, Any], known: Optional[Known]) -> float:
    if known is not None and label in known and name in known[label]:
        return float(known[label][name])
    return method_amax(hist, label, options)


def _candidates(hist: Any, name: str, known: Optional[Known] = None) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    seen: set[float] = set()
    for label, options in CANDIDATES:
        a = _amax(hist, name, label, options, known)
        # Thresholds within 1% of one already listed quantize alike: not worth a run.
        if a > 0 and all(abs(a - b) > 0.01 * max(a, b) for b in seen):
            seen.add(a)
            out.append((label, a))
    return out


def _candidates_first(hist: Any, name: str, known: Optional[Known] = None) -> list[tuple[str, float]]:
    """The first of :func:`_candidates` alone (a tensor that is not searched)."""
    for label, options in CANDIDATES:
        a = _amax(hist, name, label, options, known)
        if a > 0:
            return [(label, a)]
    return []


def _finite(x: np.ndarray, where: Optional[np.ndarray] = None) -> np.ndarray:
    """``x`` with 0 where ``where`` (default ``x``) is not finite: a consumer
    of an attention mask (HuggingFace fills it with -inf) gives inf - inf
    there in both runs, which says nothing about the candidate and would
    make every error NaN."""
    ref = x if where is None else where
    return x if np.isfinite(ref).all() else np.where(np.isfinite(ref), x, 0).astype(np.float32)


def search(network: Any, collector: Any, data: Samples, batch_size: int, *,
           only: Optional[set[str]] = None, known: Optional[Known] = None
           ) -> tuple[dict[str, float], dict[str, str]]:
    """Thresholds (tensor -> amax) and the candidate each came from
    (tensor -> ``"auto:<method>"``) for every tensor in ``collector``.

    ``network`` is the builder's optimized float32 network; ``data`` the
    kept calibration samples ({input name: array}), of which the first
    ``LAYER_SAMPLES`` are used. ``only``: the tensors the INT8 engine holds
    in int8; the others' thresholds are never used, so they are not searched
    and take their first candidate. ``known``: thresholds already computed
    (method label -> tensor -> amax), used instead of searching again."""
    names = list(collector.names)
    cands = {n: _candidates(collector.histogram(n), n, known) if only is None or n in only
             else _candidates_first(collector.histogram(n), n, known) for n in names}
    tensors = network.tensors()
    nodes = network.nodes()
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for t in node["inputs"]:
            if t >= 0:
                consumers.setdefault(tensors[t]["name"], [])
                if i not in consumers[tensors[t]["name"]]:
                    consumers[tensors[t]["name"]].append(i)
    engines: dict[int, Any] = {}
    for n in names:
        if len(cands[n]) > 1:
            for i in consumers.get(n, []):
                if i not in engines:
                    engines[i] = one_node_engine(network, nodes[i])
    wanted = {n for n in names if len(cands[n]) > 1}
    for i, e in engines.items():
        if e is not None:
            wanted.update(e[1])
            wanted.update(tensors[t]["name"] for t in nodes[i]["outputs"])
    data = take(data, LAYER_SAMPLES)
    inputs = {name for group in data for name in group}
    tap = fp32_tap_engine(network, sorted(wanted - inputs))
    ctx = tap.create_execution_context()
    num = {n: {} for n in names}  # name -> {consumer or -1: errors per candidate}
    den = {n: {} for n in names}
    for chunk in batches(data, batch_size):
        values = ctx.run(chunk)
        values.update(chunk)
        refs: dict[str, np.ndarray] = {}  # consumer output -> its value, non-finite positions zeroed
        for n in names:
            if len(cands[n]) < 2 or n not in values:
                continue
            x = values[n]
            users = [i for i in consumers.get(n, []) if engines.get(i) is not None]
            if not users:
                err = num[n].setdefault(-1, np.zeros(len(cands[n])))
                for k, (_, a) in enumerate(cands[n]):
                    q = fake_quantize(x, scale_from_amax(a))
                    q -= x
                    err[k] += sum_squares(q)
                den[n][-1] = den[n].get(-1, 0.0) + sum_squares(x)
                continue
            qs = [fake_quantize(x, scale_from_amax(a)) for _, a in cands[n]]
            for i in users:
                engine, runtime = engines[i]
                # A context per use: a context keeps buffers sized for its last
                # run, and one per consumer of a large network at once ran a
                # 24 GiB machine out of memory (PP-OCR rec).
                run = engine.create_execution_context().run
                out_names = [tensors[t]["name"] for t in nodes[i]["outputs"]]
                for o in out_names:
                    if o not in refs:
                        refs[o] = _finite(values[o])
                feeds = {r: values[r] for r in runtime}
                err = num[n].setdefault(i, np.zeros(len(qs)))
                den[n][i] = den[n].get(i, 0.0) + sum(sum_squares(refs[o]) for o in out_names)
                for k, q in enumerate(qs):
                    feeds[n] = q
                    got = run(feeds)
                    err[k] += sum(_error(got[o], values[o], refs[o]) for o in out_names)
    amaxes: dict[str, float] = {}
    methods: dict[str, str] = {}
    for n in names:
        if not cands[n]:
            amaxes[n] = float(collector.histogram(n).compute_amax("minmax"))
            methods[n] = "auto:minmax"
            continue
        total = np.zeros(len(cands[n]))
        for key, err in num[n].items():
            total += err / max(den[n][key], 1e-30)
        k = int(np.argmin(total)) if num[n] else 0
        amaxes[n] = cands[n][k][1]
        methods[n] = "auto:" + cands[n][k][0]
    return amaxes, methods


def _error(got: np.ndarray, ref: np.ndarray, finite_ref: np.ndarray) -> float:
    """``||got - ref||^2`` over the positions where ``ref`` is finite
    (``finite_ref`` is ``ref`` with the others zeroed, or ``ref`` itself)."""
    if finite_ref is ref:
        got = got - ref
    else:
        got = np.where(np.isfinite(ref), got - finite_ref, 0).astype(np.float32)
    return sum_squares(got)
