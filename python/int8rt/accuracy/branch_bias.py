"""Bias correction inside If branches: the shifts of the int8 convs / GEMMs / LSTMs a
calibrated branch holds.

The INT8 build lowers each If branch that calibration took on its own
(csrc/engine/lower_int8_branches.cc): its scales are the calibrated ones
under the branch's scope ("<If>/then_branch/<tensor>", branch_scope.h), its
inputs (the outer values the If captures) are quantized at those values'
scales, and it leaves in float32. The correction follows it: each branch is
a Network of its own, so :func:`bias_correction.measure_shifts` measures it
as it measures the top level, on the branch's float32 inputs, which a float32
pass of the top level gives (the If's captured values, for the samples
whose condition took that branch), with the branch's scales (scope taken
off), its zero-point grids from the engine's plan and its float32 layers.
The shifts come back under the scoped layer names, which
``Builder.add_to_bias`` finds inside the branch. A branch no sample of
``data`` took, or that calibration never took (no scales under its scope),
stays float32 and is not corrected. Nested Ifs are measured the same way,
from the branch's own float32 pass. Tables inside a branch (lut_inputs.py)
are not modelled: their outputs are taken on their own symmetric grid.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional

import numpy as np

from .. import _core
from . import bias_correction as biascorr
from .lut_inputs import LutInput, lut_inputs
from .taps import Samples, WholeBatch, batches, count, fp32_tap_engine, take

__all__ = ["branch_layer_ops", "branch_luts", "measure_branch_shifts"]

_BRANCHES = ("then_branch", "else_branch")


def _under(m: Mapping[str, Any], scope: str) -> dict[str, Any]:
    """The entries of ``m`` named under ``scope``, the scope taken off."""
    return {k[len(scope):]: v for k, v in m.items() if k.startswith(scope)}


def _branches(network: Any, scope: str = "") -> Iterator[tuple[str, Any]]:
    """(scope, branch network) of every If branch of ``network``, at any depth."""
    for node in network.nodes():
        for attr in _BRANCHES if node["op"] == "If" else ():
            branch = node["attrs"].get(attr)
            if branch is None:
                continue
            here = scope + _core.branch_scope(node["name"], attr)
            yield here, branch
            yield from _branches(branch, here)


def branch_luts(lowered: Any) -> dict[str, LutInput]:
    """:func:`lut_inputs` of every If branch of a lowered INT8 network (at
    any depth), keyed by scoped tensor name (each LutInput's source named
    as in its branch)."""
    return {here + k: v for here, branch in _branches(lowered) for k, v in lut_inputs(branch).items()}


def branch_layer_ops(network: Any) -> dict[str, str]:
    """Scoped layer name -> op of every node inside ``network``'s If
    branches (at any depth): the names :func:`measure_branch_shifts` gives."""
    return {here + n["name"]: n["op"] for here, branch in _branches(network) for n in branch.nodes()}


def _branch_feeds(network: Any, data: Samples, batch_size: int, ifs: list[dict[str, Any]]
                  ) -> dict[tuple[str, str], list[dict[str, np.ndarray]]]:
    """(If name, branch attribute) -> the branch's inputs, chunk by chunk, for
    the chunks of ``data`` whose condition took it: the If's captured outer
    values from a float32 pass of ``network`` (a :class:`WholeBatch` chunk
    gives one, as the branch's inputs share its layout)."""
    tensors = network.tensors()
    inputs = {tensors[i]["name"] for i in network.inputs()}
    wanted = sorted({tensors[t]["name"] for node in ifs for t in node["inputs"]
                     if t >= 0 and not tensors[t]["is_constant"]} - inputs)
    ctx = fp32_tap_engine(network, wanted).create_execution_context()
    out: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    for chunk in batches(data, batch_size):
        values = dict(ctx.run(chunk))
        values.update(chunk)
        for node in ifs:
            def value(t: int) -> np.ndarray:
                return network.constant_data(t) if tensors[t]["is_constant"] else values[tensors[t]["name"]]

            cond = np.asarray(value(node["inputs"][0]))
            if cond.size != 1:  # ONNX's If takes one boolean
                continue
            attr = _BRANCHES[0] if bool(cond.reshape(())) else _BRANCHES[1]
            branch = node["attrs"][attr]
            feeds = {branch.tensor(b)["name"]: value(t)
                     for b, t in zip(branch.inputs(), node["inputs"][1:]) if t >= 0}
            out.setdefault((node["name"], attr), []).append(
                WholeBatch(feeds) if isinstance(chunk, WholeBatch) else feeds)
    return out


def measure_branch_shifts(network: Any, scales: Mapping[str, float], data: Samples, batch_size: int,
                          fp32_layers: set[str], affine: Optional[Mapping[str, tuple[float, int]]] = None,
                          luts: Optional[Mapping[str, LutInput]] = None, *, limit: Optional[int] = None) -> dict[str, list[float]]:
    """The corrections (values to add to the bias) of the layers
    bias_correction.py measures (Conv, Gemm, MatMul, LSTM) inside
    ``network``'s calibrated If branches, under their scoped names,
    measured on the first ``limit`` (default ``bias_correction.SAMPLES``)
    samples of ``data``; nothing is changed. ``scales``, ``fp32_layers``,
    ``affine`` (name -> (scale, zero point)) and ``luts`` (:func:`branch_luts`)
    name branch tensors and layers by their scoped names, as calibration and
    the int8 plan do."""
    ifs = [n for n in network.nodes() if n["op"] == "If"
           and any(_under(scales, _core.branch_scope(n["name"], a)) for a in _BRANCHES)]
    if not ifs:
        return {}
    data = take(data, biascorr.SAMPLES if limit is None else limit)
    tensors = network.tensors()
    out: dict[str, list[float]] = {}
    for (name, attr), feeds in _branch_feeds(network, data, batch_size, ifs).items():
        node = next(n for n in ifs if n["name"] == name)
        branch, scope = node["attrs"][attr], _core.branch_scope(name, attr)
        sub = _under(scales, scope)
        if not sub:
            continue  # calibration never took it: float32, as the lowering leaves it
        for b, t in zip(branch.inputs(), node["inputs"][1:]):  # the captured values' scales, as the lowering's
            if t >= 0 and scales.get(tensors[t]["name"], 0.0) > 0:
                sub[branch.tensor(b)["name"]] = scales[tensors[t]["name"]]
        fp32 = {k[len(scope):] for k in fp32_layers if k.startswith(scope)}
        grids, tables = _under(affine or {}, scope), _under(luts or {}, scope)
        n = count(feeds)
        shifts = biascorr.measure_shifts(branch, sub, feeds, batch_size, fp32, affine=grids, luts=tables, limit=n)
        shifts.update(measure_branch_shifts(branch, sub, feeds, batch_size, fp32, grids, tables, limit=n))
        out.update({scope + k: v for k, v in shifts.items()})
    return out
