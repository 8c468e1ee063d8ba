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
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

from .. import _core
from .equalize import RESCALED_KEY
from .taps import batches, flat_floors, fp32_tap_engine, int8_tap_engine

__all__ = ["HEALTHY_DB", "JUMP_DB", "LayerComparison", "compare", "first_jump", "format_comparison"]

JUMP_DB = 10.0
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

    def add(self, r: np.ndarray, t: np.ndarray) -> None:
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


def compare(model: Any, engine: Any, data: Mapping[str, np.ndarray], *, batch_size: int = 32,
            model_batch_size: Optional[int] = None) -> list[LayerComparison]:
    """Compares ``engine`` (an INT8 :class:`int8rt.Engine`) with ``model``
    (ONNX path, bytes, ModelProto or Network) on ``data`` ({input: array},
    axis 0 = samples), one row per tensor in the engine's run order."""
    from ..builder import _to_network

    network = _core.Builder(_to_network(model, model_batch_size), "fp32").optimized_network()
    float_shapes = {t["name"]: t["shape"] for t in network.tensors()}
    lowered = engine.network()
    ltensors = lowered.tensors()
    rows: list[tuple[str, str, str, str]] = []  # (source name, layer, op, precision)
    seen: set[str] = set()
    for node in lowered.nodes():
        for t in node["outputs"]:
            name = ltensors[t]["name"]
            precision = "fp32"
            if name.endswith("::int8"):
                name, precision = name[:-6], "int8"
            if name in float_shapes and name not in seen and ltensors[t]["dtype"] in ("float32", "int8"):
                if float_shapes and network.tensor(network.find_tensor(name))["dtype"] == "float32":
                    seen.add(name)
                    rows.append((name, node["name"], node["op"], precision))
    names = [r[0] for r in rows]
    tap_q, where = int8_tap_engine(lowered, float_shapes, names, engine.metadata)
    inputs = set(data)
    tap_f = fp32_tap_engine(network, [n for n in names if n not in inputs])
    ctx_f, ctx_q = tap_f.create_execution_context(), tap_q.create_execution_context()
    acc = {n: _Acc() for n in names}
    # Tensors cross-layer equalization rescaled (equalize.py): the engine
    # holds the model's values divided per channel.
    rescaled = {n: np.asarray(f, np.float32) for n, f in json.loads(engine.metadata.get(RESCALED_KEY, "{}")).items()}
    # A table input held above its readers' flat part (taps.flat_floors): compared as they read it.
    floors = flat_floors(lowered)
    for chunk in batches(data, batch_size):
        ref, got = ctx_f.run(chunk), ctx_q.run(chunk)
        ref.update(chunk)
        for n in names:
            if n in where and n in ref:
                r = ref[n]
                if n in rescaled and r.ndim >= 2:
                    r = r / rescaled[n].reshape((1, -1) + (1,) * (r.ndim - 2))
                if n in floors:
                    r = np.maximum(r, np.float32(floors[n]))
                acc[n].add(r, got[where[n]])
    out = []
    for name, layer, op, precision in rows:
        if name not in where:
            continue
        cos, sqnr, err = acc[name].result()
        out.append(LayerComparison(name, layer, op, precision, cos, sqnr, err))
    return out


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
