"""FP32 and INT8 side by side, layer by layer (Polygraphy's ``run --validate``
for int8rt): :func:`compare` and the ``int8rt compare`` command.

The float32 side is the ONNX model through the same import and graph passes
an engine build uses, so tensor names match the INT8 engine's. Every tensor
the INT8 engine computes (held in int8, then dequantized here, or in float)
that the float network also has is compared, streamed over the inputs in
batches: cosine, SQNR, largest absolute error (a tensor cross-layer
equalization rescaled is compared with the model's values rescaled alike,
from the engine's metadata). The "first jump" is the first
tensor, in the INT8 engine's run order, whose SQNR is more than ``JUMP_DB``
below that of every tensor before it and under ``HEALTHY_DB``: where the
error starts.

Tensors inside If branches are compared too, under their scoped names
(``pick/then_branch/x``, taps.py), read from both engines' tapped runs, in
the run order of the branch they are in (before the If's own outputs); a
branch tensor counts over the samples whose run took its branch in both
engines, and one that no run took has no row.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np

from .. import _core
from .equalize import RESCALED_KEY
from .taps import (Samples, WholeBatch, as_read, batch_samples, batches, count, flat_ceilings, flat_floors,
                   fp32_tap_engine, groups, int8_tap_engine, scoped_tensors, tapped_run)
from .taps import rows as sample_rows

__all__ = ["HEALTHY_DB", "JUMP_DB", "LayerComparison", "compare", "first_jump", "format_comparison"]

JUMP_DB = 10.0
SLICES = 8  # runs per batch, so that progress moves during a large batch's runs (_slices)
SLICE_SAMPLES = 4  # the fewest samples a slice holds: PP-OCRv4 rec's 8 crops in 8 runs cost 19.0 s CPU, in 1 12.1 s
HEALTHY_DB = 30.0  # int8 at a well chosen scale keeps a tensor at 35-50 dB


@dataclass(frozen=True)
class LayerComparison:
    """One tensor: the INT8 engine's value against the float32 network's."""

    name: str
    layer: str          # the INT8 engine layer that produces it
    op: str
    precision: str      # "int8" (held in int8) or "fp32"
    cosine: float
    sqnr_db: float
    max_abs_error: float


class _Acc:
    def __init__(self) -> None:
        self.rt = self.rr = self.tt = self.dd = 0.0
        self.max = 0.0
        self.seen = False  # a branch tensor: whether a run took its branch

    def add(self, r: np.ndarray, t: np.ndarray) -> None:
        self.seen = True
        r64, t64 = r.astype(np.float64).ravel(), t.astype(np.float64).ravel()
        d = r64 - t64
        self.rt += float(np.dot(r64, t64))
        self.rr += float(np.dot(r64, r64))
        self.tt += float(np.dot(t64, t64))
        self.dd += float(np.dot(d, d))
        if d.size:
            self.max = max(self.max, float(np.abs(d).max()))

    def result(self) -> tuple[float, float, float]:
        cos = self.rt / math.sqrt(self.rr * self.tt) if self.rr > 0 and self.tt > 0 else math.nan
        if self.dd == 0:
            sqnr = math.inf
        elif self.rr == 0:
            sqnr = -math.inf
        else:
            sqnr = 10 * math.log10(self.rr / self.dd)
        return cos, sqnr, self.max


def compare(model: Any, engine: Any, data: Samples, *, batch_size: int = 32,
            model_batch_size: Optional[int] = None, progress: Any = None) -> list[LayerComparison]:
    """Compares ``engine`` (an INT8 :class:`int8rt.Engine`) with ``model``
    (ONNX path, bytes, ModelProto or Network) on ``data`` ({input: array},
    axis 0 = samples; or a list of such groups, taps.groups: samples of
    different shapes, or of a 0-d input's different values), one row per
    tensor in the engine's run order. ``progress`` (True or an
    :class:`int8rt.Progress`) shows a ``compare`` phase: each batch is run
    in up to ``SLICES`` slices of samples (one run, for a network with an
    If), with a step per engine run and per tensor compared in each slice.

    Raises ValueError when ``data`` holds no sample, or when the model's
    inputs are not the engine's (an engine built from another model)."""
    from ..builder import _to_network
    from ..progress import phase

    if count(data) == 0:
        raise ValueError("no samples to compare on (the data's arrays have 0 rows on axis 0)")
    network = _core.Builder(_to_network(model, model_batch_size), "fp32").optimized_network()
    model_inputs = sorted(network.tensor(i)["name"] for i in network.inputs())
    if model_inputs != sorted(engine.input_names):
        raise ValueError(f"the model's inputs ({', '.join(model_inputs)}) are not the engine's "
                         f"({', '.join(sorted(engine.input_names))}): was the engine built from this model?")
    data = _uncut_where_not_batch_first(data, network)
    float_tensors = scoped_tensors(network)  # If branches' under their scoped names
    float_shapes = {name: t["shape"] for name, t in float_tensors.items()}
    lowered = engine.network()
    rows: list[tuple[str, str, str, str]] = []  # (source name, layer, op, precision)
    seen: set[str] = set()
    for scope, node, ltensors in _run_order(lowered):
        for t in node["outputs"]:
            name = scope + ltensors[t]["name"]
            precision = "fp32"
            if name.endswith("::int8"):
                name, precision = name[:-6], "int8"
            if name in float_shapes and name not in seen and ltensors[t]["dtype"] in ("float32", "int8"):
                if float_tensors[name]["dtype"] == "float32":
                    seen.add(name)
                    rows.append((name, scope + node["name"], node["op"], precision))
    names = [r[0] for r in rows]
    tap_q, where = int8_tap_engine(lowered, float_shapes, names, engine.metadata, branches=True)
    inputs = {n for g in groups(data) for n in g}
    top = {t["name"] for t in network.tensors()}  # the rest are read from the tapped run
    tap_f = fp32_tap_engine(network, [n for n in names if n not in inputs and n in top])
    ctx_f, ctx_q = tap_f.create_execution_context(), tap_q.create_execution_context()
    acc = {n: _Acc() for n in names}
    # Tensors cross-layer equalization rescaled (equalize.py): the engine
    # holds the model's values divided per channel.
    rescaled = {n: np.asarray(f, np.float32) for n, f in json.loads(engine.metadata.get(RESCALED_KEY, "{}")).items()}
    # A tensor held within its readers' flat parts (taps.flat_floors / flat_ceilings): compared as they read it.
    floors, ceilings = flat_floors(lowered, branches=True), flat_ceilings(lowered, branches=True)
    # a step per tensor compared in each slice of each batch, and one per
    # engine run of a slice: a batch's runs no longer pass without a step
    slices = 1 if _has_if(lowered) else SLICES  # an If's condition reads the whole batch: never sliced
    total = sum(len(_slices(chunk, slices)) * (len(names) + 2) for chunk in batches(data, batch_size))
    with phase(progress, "compare", total=total, unit="step") as step:
        for chunk in batches(data, batch_size):
            for part in _slices(chunk, slices):
                _accumulate(part, ctx_f, ctx_q, names, where, rescaled, floors, ceilings, acc, step.update)
    out = []
    for name, layer, op, precision in rows:
        if name not in where or not acc[name].seen:
            continue
        cos, sqnr, err = acc[name].result()
        out.append(LayerComparison(name, layer, op, precision, cos, sqnr, err))
    return out


def _accumulate(chunk: dict[str, np.ndarray], ctx_f: Any, ctx_q: Any, names: list[str], where: dict[str, str],
                rescaled: dict[str, np.ndarray], floors: dict[str, float], ceilings: dict[str, float],
                acc: dict[str, _Acc], done: Callable[[], None]) -> None:
    """Adds one batch of both engines' tapped values to the accumulators,
    calling ``done()`` after each engine's run and after each tensor."""
    ref = tapped_run(ctx_f, chunk)
    done()
    got = tapped_run(ctx_q, chunk)
    done()
    ref.update(chunk)
    for n in names:
        if n in where and n in ref and where[n] in got:
            r = ref[n]
            if n in rescaled and r.ndim >= 2:
                r = r / rescaled[n].reshape((1, -1) + (1,) * (r.ndim - 2))
            acc[n].add(as_read(r, floors.get(n), ceilings.get(n)), got[where[n]])
        done()


def _uncut_where_not_batch_first(data: Samples, network: Any) -> list[Any]:
    """``data``'s groups, each one whose inputs do not all have their samples
    on axis 0 (a recurrent state ``[2, N, H]`` beside ``x[N, D]``, as Silero
    VAD's) as a :class:`taps.WholeBatch`, run as it is: cut along axis 0 it
    gave the LSTM a state of the whole data's N beside a chunk of x."""
    declared = {network.tensor(i)["name"]: network.tensor(i)["shape"] for i in network.inputs()}
    out: list[Any] = []
    for group in groups(data):
        firsts = {np.shape(v)[0] for v in group.values() if np.ndim(v)}
        whole = isinstance(group, WholeBatch) or len(firsts) <= 1
        out.append(group if whole else WholeBatch(group, batch_samples(group, declared)))
    return out


def _slices(chunk: dict[str, np.ndarray], most: int) -> list[dict[str, np.ndarray]]:
    """``chunk`` (a batch of :func:`taps.batches`) cut along axis 0 into at
    most ``most`` runs of consecutive samples, each of at least
    ``SLICE_SAMPLES`` (but the last); a :class:`taps.WholeBatch` whole. Each sample's values are the engines' for that sample whatever
    else shares its run (the check's and compare's chunking relies on it
    already), so only the order of the accumulators' float64 sums changes
    (tests/test_accuracy_ux.py compares the rows with and without)."""
    if isinstance(chunk, WholeBatch) or most <= 1:
        return [chunk]
    n = sample_rows(chunk)
    size = max(1, SLICE_SAMPLES, -(-n // most))
    return [{k: v[start:start + size] if v.ndim else v for k, v in chunk.items()} for start in range(0, n, size)]


def _has_if(network: Any) -> bool:
    return any(node["op"] == "If" for node in network.nodes())


def _run_order(network: Any, scope: str = "") -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(scope, node, the tensors of the network it is in) for every node of
    ``network`` in run order, an If's branches (then, else) before the If."""
    tensors = network.tensors()
    for node in network.nodes():
        if node["op"] == "If":
            for branch in ("then_branch", "else_branch"):
                yield from _run_order(node["attrs"][branch], scope + _core.branch_scope(node["name"], branch))
        yield scope, node, tensors


def first_jump(rows: list[LayerComparison], jump_db: float = JUMP_DB) -> Optional[LayerComparison]:
    """The first row whose SQNR is more than ``jump_db`` below every row
    before it and below ``HEALTHY_DB`` (a drop from an exact-ish input's
    50 dB to a conv's 40 dB is int8 working as it should)."""
    low = math.inf  # lowest SQNR so far (an exact tensor, inf dB, sets no bar)
    for r in rows:
        if math.isfinite(low) and r.sqnr_db < low - jump_db and r.sqnr_db < HEALTHY_DB:
            return r
        if not math.isnan(r.sqnr_db):
            low = min(low, r.sqnr_db)
    return None


def format_comparison(rows: list[LayerComparison]) -> str:
    width = max([len(r.name) for r in rows] + [6])
    lines = [f"{'tensor':<{width}}  {'precision':<9} {'cosine':>9} {'SQNR dB':>8} {'max |err|':>10}  layer (op)"]
    for r in rows:
        lines.append(f"{r.name:<{width}}  {r.precision:<9} {r.cosine:9.5f} {r.sqnr_db:8.2f} {r.max_abs_error:10.4g}  "
                     f"{r.layer} ({r.op})")
    jump = first_jump(rows)
    lines.append(f"first jump: '{jump.name}' (layer {jump.layer}, {jump.op}): SQNR {jump.sqnr_db:.1f} dB"
                 if jump else f"first jump: none (no tensor's SQNR falls {JUMP_DB:g} dB below all before it)")
    return "\n".join(lines)
