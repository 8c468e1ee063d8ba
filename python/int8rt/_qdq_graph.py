"""Rewrites an ONNX graph into explicit quantization (QuantizeLinear /
DequantizeLinear), given where int8rt holds int8 tensors and which layers
have int8 weights. The placement is decided by :mod:`int8rt.qdq_export`;
this module only edits the ``onnx.ModelProto``.

Weights are quantized by the engine's own code (``quantize_weights``, from
:mod:`int8rt._numerics`, over ``csrc/include/int8rt/quantization.h``): per
output channel, ``s = amax / 127`` in float32 (an all-zero channel gets
``s = 1``), ``q = clip(rint(w / s), -127, 127)`` with ``w / s`` divided in
float32 and rounded half to even.
Activations get a Q -> DQ pair on the grid int8rt holds them on: a float32
scalar scale and an int8 zero point 0 (symmetric, TensorRT's convention);
for a zero point z != 0 (an unsigned activation, z = -128, or a table
output's asymmetric grid) uint8 with zero point z + 128 (the same grid:
``s * (q - z)`` for int8 codes q is ``s * (u - (z + 128))`` for u = q + 128);
for per-channel scales a 1-D float32 scale and int8 zero points 0 on
``axis=1`` (opset 13's per-axis QuantizeLinear / DequantizeLinear).
Weights are quantized here unless the engine's own int8 weights are given
(``given``: the Q/DQ export of an engine, :mod:`int8rt._qdq_engine`).
The graph edited may be an If branch (:mod:`int8rt._qdq_scopes`): it reads
outer values and constants by name, and the names it gets are fresh in the
whole model (ONNX forbids a subgraph to redefine an outer name).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ._errors import NotSupportedError
from ._numerics import quantize_weights
from ._qdq_engine import LayerWeights
from .onnx._subgraphs import captured_names, subgraphs

__all__ = ["ActivationQ", "Names", "constants_of", "quantize_weights", "reads", "rewrite_qdq", "weight_axis"]


def weight_axis(node: onnx.NodeProto, weight_rank: int) -> int:
    """The output-channel axis of ``node``'s weight input (input 1):
    Conv OIHW -> 0; ConvTranspose ([C, M, k...], group 1) -> 1; Gemm ``transB=1``
    ([N, K]) -> 0, ``transB=0`` ([K, N]) -> 1; MatMul ([K, N]) -> rank - 1."""
    if node.op_type == "Conv":
        return 0
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    if node.op_type == "MatMul":
        return weight_rank - 1
    raise NotSupportedError(f"node '{node.name}' ({node.op_type}) has no int8 weights in int8rt")


@dataclass(frozen=True)
class ActivationQ:
    """A tensor to fake-quantize: its grid (``scale`` and ``zero_point``, or
    ``channel_scales`` along axis 1), and whether int8rt produces it in int8
    (every reader then sees the int8 value) or quantizes a float value for
    its int8 readers only (``readers``: ONNX node names)."""

    scale: float
    produced_in_int8: bool
    readers: frozenset[str] = frozenset()
    zero_point: int = 0
    channel_scales: tuple[float, ...] = ()


class Names:
    """Fresh tensor / node names that collide with nothing in the graph nor
    in its subgraphs (give it the main graph: then nothing in the model)."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.used: set[str] = set()
        self._add(graph)

    def _add(self, graph: onnx.GraphProto) -> None:
        self.used |= {i.name for i in graph.initializer} | {i.name for i in graph.input}
        for n in graph.node:
            self.used.update(n.output)
            self.used.update(n.input)
            self.used.add(n.name)
            for sub in subgraphs(n):
                self._add(sub)

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name


def reads(graph: onnx.GraphProto) -> set[str]:
    """Every name ``graph``'s nodes (their subgraphs included) and outputs read."""
    return {i for n in graph.node for i in list(n.input) + captured_names(n)} | {o.name for o in graph.output}


def constants_of(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Initializers and Constant nodes' values by tensor name."""
    out = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and len(n.output) == 1:
            attr = next((a for a in n.attribute if a.name == "value"), None)
            if attr is not None:
                out[n.output[0]] = numpy_helper.to_array(attr.t)
    return out


def _qdq_nodes(names: Names, src: str, scale_name: str, zp_name: str, axis: Optional[int],
               dst: str, with_q: bool) -> list[onnx.NodeProto]:
    axis_kw = {} if axis is None else {"axis": axis}
    nodes = []
    q_out = src
    if with_q:
        q_out = names.fresh(f"{dst}_quantized")
        nodes.append(helper.make_node("QuantizeLinear", [src, scale_name, zp_name], [q_out],
                                      name=names.fresh(f"{dst}_QuantizeLinear"), **axis_kw))
    nodes.append(helper.make_node("DequantizeLinear", [q_out, scale_name, zp_name], [dst],
                                  name=names.fresh(f"{dst}_DequantizeLinear"), **axis_kw))
    return nodes


def rewrite_qdq(graph: onnx.GraphProto, activations: dict[str, ActivationQ], weight_nodes: set[str],
                per_channel: bool, given: Optional[dict[str, LayerWeights]] = None, *,
                names: Optional[Names] = None, constants: Optional[dict[str, np.ndarray]] = None) -> tuple[int, int]:
    """Edits ``graph`` in place: Q/DQ pairs on ``activations``, int8 weight
    initializers + DequantizeLinear for the Conv/ConvTranspose/Gemm/MatMul nodes named in
    ``weight_nodes``: ``given[name]``'s int8 weights where given (times its
    ``in_factors`` along the weights' input-channel axis, by a Mul), else
    quantized here. ``names``: the model's (default: ``graph``'s own);
    ``constants``: the values ``graph`` may read (default: its own).
    Returns ``(activation pairs, weight DQs)`` inserted."""
    given = given or {}
    names = names or Names(graph)
    consts = constants_of(graph) if constants is None else constants
    new_inits: list[onnx.TensorProto] = []
    inserted: dict[int, list[onnx.NodeProto]] = {}  # node index -> nodes to emit before it
    producer = {out: i for i, n in enumerate(graph.node) for out in n.output}

    def grid_params(base: str, aq: ActivationQ) -> tuple[str, str, Optional[int]]:
        s, z = names.fresh(f"{base}_scale"), names.fresh(f"{base}_zero_point")
        if aq.channel_scales:
            scale = np.array(aq.channel_scales, dtype=np.float32)
            zero = np.zeros(scale.shape, np.int8)
        else:
            scale = np.array(aq.scale, dtype=np.float32)
            zero = np.array(aq.zero_point + 128, np.uint8) if aq.zero_point else np.array(0, np.int8)
        new_inits.append(numpy_helper.from_array(scale, s))
        new_inits.append(numpy_helper.from_array(zero, z))
        return s, z, 1 if aq.channel_scales else None

    # ---- activations ----
    for tensor, aq in activations.items():
        s, z, a_axis = grid_params(tensor, aq)
        if aq.produced_in_int8:
            # The producer writes a float copy; Q -> DQ restores the original
            # name, so every reader and a graph output see the int8 value.
            p = producer[tensor]
            raw = names.fresh(f"{tensor}_float")
            outs = list(graph.node[p].output)
            outs[outs.index(tensor)] = raw
            del graph.node[p].output[:]
            graph.node[p].output.extend(outs)
            inserted.setdefault(p + 1, []).extend(_qdq_nodes(names, raw, s, z, a_axis, tensor, True))
        else:
            dq = names.fresh(f"{tensor}_dequantized")
            first_reader = None
            for i, n in enumerate(graph.node):
                if n.name in aq.readers:
                    for k, name in enumerate(n.input):
                        if name == tensor:
                            n.input[k] = dq
                            first_reader = i if first_reader is None else first_reader
            if first_reader is not None:
                inserted.setdefault(first_reader, []).extend(_qdq_nodes(names, tensor, s, z, a_axis, dq, True))

    # ---- weights ----
    weight_dq: dict[str, str] = {}
    for i, n in enumerate(graph.node):
        if n.name not in weight_nodes:
            continue
        w_name = n.input[1]
        if n.name in given:
            weight_dq[f"{w_name}#{n.name}"] = _given_weight_dq(names, n, given[n.name], new_inits,
                                                               inserted.setdefault(i, []))
            continue
        if w_name not in weight_dq:
            if w_name not in consts:
                raise NotSupportedError(
                    f"node '{n.name}' ({n.op_type}): weight '{w_name}' is computed in the graph, not an "
                    "initializer or Constant; fold it first (onnx-simplifier) to export Q/DQ")
            w = consts[w_name]
            axis = weight_axis(n, w.ndim) if per_channel else None
            q, scale = quantize_weights(w, axis)
            qn, sn, zn = (names.fresh(f"{w_name}_{k}") for k in ("quantized", "scale", "zero_point"))
            new_inits += [numpy_helper.from_array(q, qn), numpy_helper.from_array(scale, sn),
                          numpy_helper.from_array(np.zeros(scale.shape, np.int8), zn)]
            dq = names.fresh(f"{w_name}_dequantized")
            inserted.setdefault(i, []).extend(_qdq_nodes(names, qn, sn, zn, axis, dq, False))
            weight_dq[w_name] = dq
        n.input[1] = weight_dq[w_name]

    nodes = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    for i in range(len(nodes) + 1):
        ordered.extend(inserted.get(i, []))
        if i < len(nodes):
            ordered.append(nodes[i])
    del graph.node[:]
    graph.node.extend(ordered)
    _drop_unused_initializers(graph, {k.split("#")[0] for k in weight_dq})
    graph.initializer.extend(new_inits)
    return len(activations), len(weight_dq)


def _given_weight_dq(names: Names, n: onnx.NodeProto, lw: LayerWeights, new_inits: list[onnx.TensorProto],
                     emit: list[onnx.NodeProto]) -> str:
    """``n``'s weight input set to DequantizeLinear(lw.q, lw.scales) (times
    ``lw.in_factors`` along the input-channel axis); returns the new name."""
    assert lw.q is not None and lw.scales is not None
    w_name = n.input[1]
    axis = weight_axis(n, lw.q.ndim)
    qn, sn, zn = (names.fresh(f"{w_name}_{n.name}_{k}") for k in ("quantized", "scale", "zero_point"))
    new_inits += [numpy_helper.from_array(lw.q, qn), numpy_helper.from_array(lw.scales.astype(np.float32), sn),
                  numpy_helper.from_array(np.zeros(lw.scales.shape, np.int8), zn)]
    dq = names.fresh(f"{w_name}_{n.name}_dequantized")
    emit.extend(_qdq_nodes(names, qn, sn, zn, axis, dq, False))
    if lw.in_factors is not None:
        in_axis = 1 if n.op_type == "Conv" else lw.q.ndim - 2  # Conv OIHW; Gemm / MatMul [K, N]
        if n.op_type == "Gemm" and next((a.i for a in n.attribute if a.name == "transB"), 0):
            in_axis = 1
        if lw.q.shape[in_axis] != lw.in_factors.size:
            raise NotSupportedError(f"node '{n.name}' ({n.op_type}): {lw.in_factors.size} input-channel scales for "
                                    f"weights {list(lw.q.shape)}")
        shape = [1] * lw.q.ndim
        shape[in_axis] = lw.in_factors.size
        fn = names.fresh(f"{w_name}_{n.name}_input_channel_factors")
        new_inits.append(numpy_helper.from_array(lw.in_factors.astype(np.float32).reshape(shape), fn))
        scaled = names.fresh(f"{w_name}_{n.name}_scaled")
        emit.append(helper.make_node("Mul", [dq, fn], [scaled], name=names.fresh(f"{n.name}_input_channel_factors")))
        dq = scaled
    n.input[1] = dq
    return dq


def _drop_unused_initializers(graph: onnx.GraphProto, candidates: set[str]) -> None:
    """Removes the float weights that no node reads any more."""
    read = reads(graph)
    keep = [i for i in graph.initializer if i.name not in candidates or i.name in read]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    const_nodes = [n for n in graph.node
                   if not (n.op_type == "Constant" and n.output[0] in candidates and n.output[0] not in read)]
    del graph.node[:]
    graph.node.extend(const_nodes)
