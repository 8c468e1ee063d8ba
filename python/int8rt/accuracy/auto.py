"""IInt8AutoCalibrator's threshold search: per tensor, the candidate that
least disturbs the layers reading the tensor.

Candidates come from the tensor's histogram through the existing threshold
functions (csrc/calib: entropy as TensorRT's EntropyCalibration2, the legacy
entropy, minmax, MSE, and percentiles 99.9 / 99.99 / 99.999; MSE and the
legacy entropy over at most 256 evenly strided candidate bins). The criterion
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

A per-layer criterion can still lose to a single method on the whole network
(clipping an outlier a LayerNorm or attention needs costs little in the next
layer and much later; on PP-OCR rec, per-layer choices lost to minmax and
mse everywhere), so :func:`guard` then lowers the per-tensor set and each
single method's set (minmax, mse, percentile 99.99, entropy), runs them on
the same kept samples, starts from the set whose outputs are closest to
float32, and refines it segment by segment (consecutive tensors in network
order) with the next-best sets' thresholds, keeping what lowers the output
error: the network's own outputs decide, at the granularity of blocks.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

import numpy as np

from .._numerics import scale_from_amax
from .metrics import fake_quantize, sum_squares
from .taps import Samples, batches, count, fp32_tap_engine, groups, one_node_engine

__all__ = ["CANDIDATES", "SEARCH_SAMPLES", "search"]

logger = logging.getLogger("int8rt")

CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("entropy", {}), ("entropy_legacy", {}), ("mse", {}), ("minmax", {}),
    ("percentile 99.9", {"percentile": 99.9}), ("percentile 99.99", {"percentile": 99.99}),
    ("percentile 99.999", {"percentile": 99.999}))

# Calibrating samples kept for the search (whole batches, the first ones).
SEARCH_SAMPLES = 64


# MSE and the legacy entropy search try every bin as a threshold at O(bins)
# each; on histograms the "extend" policy has grown to thousands of bins
# that is half a second per tensor, so they try every k-th bin instead, at
# most this many candidates (entropy, minmax and percentile are fast as they are).
MAX_SEARCH_CANDIDATES = 256


def _amax(hist: Any, label: str, options: dict[str, Any]) -> float:
    method = label.split()[0]
    if method in ("mse", "entropy_legacy"):
        options = {**options, "stride": max(1, -(-len(hist.counts) // MAX_SEARCH_CANDIDATES))}
    return float(np.float32(hist.compute_amax(method, **options)))


def _candidates(hist: Any) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    seen: set[float] = set()
    for label, options in CANDIDATES:
        a = _amax(hist, label, options)
        # Thresholds within 1% of one already listed quantize alike: not worth a run.
        if a > 0 and all(abs(a - b) > 0.01 * max(a, b) for b in seen):
            seen.add(a)
            out.append((label, a))
    return out


def _finite(x: np.ndarray, where: Optional[np.ndarray] = None) -> np.ndarray:
    """``x`` with 0 where ``where`` (default ``x``) is not finite: a consumer
    of an attention mask (HuggingFace fills it with -inf) gives inf - inf
    there in both runs, which says nothing about the candidate and would
    make every error NaN."""
    ref = x if where is None else where
    return x if np.isfinite(ref).all() else np.where(np.isfinite(ref), x, 0).astype(np.float32)


def search(network: Any, collector: Any, data: Samples, batch_size: int
           ) -> tuple[dict[str, float], dict[str, str]]:
    """Thresholds (tensor -> amax) and the candidate each came from
    (tensor -> ``"auto:<method>"``) for every tensor in ``collector``.

    ``network`` is the builder's optimized float32 network; ``data`` the
    kept calibration samples ({input name: array})."""
    names = list(collector.names)
    cands = {n: _candidates(collector.histogram(n)) for n in names}
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
    wanted = set(names)
    for i, e in engines.items():
        if e is not None:
            wanted.update(e[1])
            wanted.update(tensors[t]["name"] for t in nodes[i]["outputs"])
    inputs = {name for group in groups(data) for name in group}
    tap = fp32_tap_engine(network, sorted(wanted - inputs))
    ctx = tap.create_execution_context()
    num = {n: {} for n in names}  # name -> {consumer or -1: errors per candidate}
    den = {n: {} for n in names}
    for chunk in batches(data, batch_size):
        values = ctx.run(chunk)
        values.update(chunk)
        for n in names:
            if len(cands[n]) < 2 or n not in values:
                continue
            x = values[n]
            users = [i for i in consumers.get(n, []) if engines.get(i) is not None]
            qs = [fake_quantize(x, scale_from_amax(a)) for _, a in cands[n]]
            if not users:
                err = num[n].setdefault(-1, np.zeros(len(qs)))
                for k, q in enumerate(qs):
                    err[k] += sum_squares(q - x)
                den[n][-1] = den[n].get(-1, 0.0) + sum_squares(x)
                continue
            for i in users:
                engine, runtime = engines[i]
                # A context per use: a context keeps buffers sized for its last
                # run, and one per consumer of a large network at once ran a
                # 24 GiB machine out of memory (PP-OCR rec).
                run = engine.create_execution_context().run
                out_names = [tensors[t]["name"] for t in nodes[i]["outputs"]]
                feeds = {r: values[r] for r in runtime}
                err = num[n].setdefault(i, np.zeros(len(qs)))
                den[n][i] = den[n].get(i, 0.0) + sum(sum_squares(_finite(values[o])) for o in out_names)
                for k, q in enumerate(qs):
                    feeds[n] = q
                    got = run(feeds)
                    err[k] += sum(sum_squares(_finite(got[o] - values[o], values[o])) for o in out_names)
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


# Whole-network alternatives to the per-tensor choice (step 2 below).
GLOBAL_METHODS = ("minmax", "mse", "percentile 99.99", "entropy")
# Step 3: the tensors are cut into this many runs, in network order, each
# tried with the thresholds of the next-best sets ...
SEGMENTS = 6
ALTERNATIVES = 2
# ... and a change is kept when it lowers the output error by this share at
# least (below it, 64 samples cannot tell the sets apart).
MIN_GAIN = 0.01


def _scales(amaxes: Mapping[str, float]) -> dict[str, float]:
    return {n: scale_from_amax(a) for n, a in amaxes.items()}


def _in_network_order(network: Any, names: list[str]) -> list[str]:
    tensors = network.tensors()
    order = [tensors[t]["name"] for t in network.inputs()]
    for node in network.nodes():
        order += [tensors[t]["name"] for t in node["outputs"]]
    rank = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))


def guard(builder: Any, network: Any, collector: Any, data: Samples, batch_size: int,
          amaxes: dict[str, float], methods: dict[str, str]) -> tuple[dict[str, float], dict[str, str], dict[str, float]]:
    """Steps 2 and 3: the choice judged on the whole network.

    Step 2: the per-tensor thresholds and each single method applied to
    every tensor are lowered and run on the kept calibration samples; the
    set whose outputs are closest to float32 (relative L2 over all outputs)
    is the start. So auto is never worse on calibration data than the best
    of those methods. Step 3: the tensors, in network order, are cut into
    ``SEGMENTS`` runs; for each run in turn, its thresholds are replaced by
    those of each of the ``ALTERNATIVES`` next-best sets, and a replacement
    that lowers the output error by ``MIN_GAIN`` or more is kept. This is
    the block-output criterion: a choice per group of consecutive layers by
    its effect on the network's outputs, which the per-layer criterion of
    step 1 cannot see. Returns the thresholds, their methods, and every
    measured error (set or step -> relative L2)."""
    from .metrics import relative_l2

    sets = {"per-tensor": (amaxes, methods)}
    for label in GLOBAL_METHODS:
        options = dict(CANDIDATES)[label]
        sets[label] = ({n: _amax(collector.histogram(n), label, options) for n in amaxes},
                       {n: f"auto:all {label}" for n in amaxes})
    reference = fp32_tap_engine(network, []).create_execution_context()
    ref_parts: dict[str, list[np.ndarray]] = {}
    for chunk in batches(data, batch_size):
        for k, v in reference.run(chunk).items():
            ref_parts.setdefault(k, []).append(v)
    ref = np.concatenate([p.ravel() for v in ref_parts.values() for p in v])

    def error(a: Mapping[str, float]) -> float:
        ctx = builder.build(_scales(a)).create_execution_context()
        parts: dict[str, list[np.ndarray]] = {}
        for chunk in batches(data, batch_size):
            for k, v in ctx.run(chunk).items():
                parts.setdefault(k, []).append(v)
        return relative_l2(ref, np.concatenate([p.ravel() for k in ref_parts for p in parts[k]]))

    errors = {label: error(a) for label, (a, _) in sets.items()}
    ranked = sorted(errors, key=errors.get)
    best = ranked[0]
    cur_a, cur_m, cur_err = dict(sets[best][0]), dict(sets[best][1]), errors[best]
    names = _in_network_order(network, list(amaxes))
    size = -(-len(names) // SEGMENTS)
    for k in range(0, len(names), size):
        run = names[k:k + size]
        for alt in ranked[1:1 + ALTERNATIVES]:
            a_alt, m_alt = sets[alt]
            if all(abs(a_alt[n] - cur_a[n]) <= 0.01 * max(a_alt[n], cur_a[n]) for n in run):
                continue  # the same thresholds: nothing to try
            trial = {**cur_a, **{n: a_alt[n] for n in run}}
            err = error(trial)
            errors[f"segment {k // size + 1} {alt}"] = err
            if err < (1.0 - MIN_GAIN) * cur_err:
                cur_a, cur_err = trial, err
                cur_m.update({n: m_alt[n] for n in run})
    errors["chosen"] = cur_err
    logger.info("auto calibration, output relative L2 on %d calibration samples: %s; start: %s, final %.4g",
                count(data), ", ".join(f"{k} {v:.4g}" for k, v in errors.items()), best, cur_err)
    return cur_a, cur_m, errors
