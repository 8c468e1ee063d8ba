"""Gives an ONNX graph's Conv / Gemm / MatMul nodes the weights and biases an
INT8 engine computes with (:class:`int8rt._qdq_engine.LayerWeights`), for the
Q/DQ export of that engine (:mod:`int8rt.qdq_export`).

The engine's weights already contain what the build folded into them:
a BatchNormalization, or a Mul / Add / Sub / Div by a constant, that follows
the node (``csrc/graph/passes/fold_batchnorm.cc``, ``fold_scale_bias.cc``).
Those nodes are removed here (the node then writes the last one's output), so
the graph computes the engine's function once, not the fold twice. A node
counts as folded when it is such an op, the only reader of the tensor before
it, all its other inputs constants, and the engine has no node of its name
and no int8 layer but this one computes it; a fused Relu / Clip or residual
Add stays (ONNX Runtime computes it in float as the engine's epilogue does).

Float weights replace the node's weight input; int8 weights are left to
:func:`int8rt._qdq_graph.rewrite_qdq` (int8 initializer + DequantizeLinear).
A bias replaces Conv's input 2 and Gemm's C; a MatMul gets an Add after it.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ._qdq_engine import LayerWeights
from ._qdq_graph import reads
from .onnx._subgraphs import captured_names

__all__ = ["adopt_weights"]

_AFFINE = ("BatchNormalization", "Mul", "Add", "Sub", "Div")


def adopt_weights(graph: onnx.GraphProto, weights: Mapping[str, LayerWeights], engine_names: set[str],
                  constants: Mapping[str, np.ndarray], fresh: Callable[[str], str]) -> list[str]:
    """Edits ``graph`` in place (see the module docstring). ``engine_names``:
    the engine's node names and the ONNX nodes its int8 layers compute;
    ``fresh(base) -> str``: a new unused name. Returns the removed nodes."""
    removed: list[onnx.NodeProto] = []
    replaced: set[str] = set()  # inputs no longer read, unless another node reads them
    new_nodes: dict[str, onnx.NodeProto] = {}  # MatMul name -> its bias Add
    for node in graph.node:
        lw = weights.get(node.name)
        if lw is None:
            continue
        removed += _drop_folded(graph, node, engine_names - lw.computes, constants)
        if lw.w is not None:
            name = fresh(f"{node.input[1]}_engine")
            graph.initializer.append(numpy_helper.from_array(lw.w.astype(np.float32), name))
            replaced.add(node.input[1])
            node.input[1] = name
        if node.op_type == "Gemm" and lw.q is not None:  # int8 Gemms have them at 1 (lower_int8_linear.cc)
            _set_attrs(node, alpha=1.0, beta=1.0)
        bias = lw.bias
        if bias is None and lw.scales is not None and node.op_type != "MatMul" and len(node.input) > 2 and \
                node.input[2]:  # an int8 layer without a bias: the model's is not the engine's
            bias = np.zeros(lw.scales.shape, np.float32)
        if bias is None:
            continue
        b_name = fresh(f"{node.name}_engine_bias")
        graph.initializer.append(numpy_helper.from_array(bias.astype(np.float32), b_name))
        if node.op_type == "MatMul":
            out = node.output[0]
            node.output[0] = fresh(f"{out}_no_bias")
            new_nodes[node.name] = helper.make_node("Add", [node.output[0], b_name], [out],
                                                    name=fresh(f"{node.name}_engine_bias_add"))
        elif len(node.input) > 2:
            replaced.add(node.input[2])
            node.input[2] = b_name
        else:
            node.input.append(b_name)
    if new_nodes:
        ordered = []
        for n in graph.node:
            ordered.append(n)
            if n.name in new_nodes:
                ordered.append(new_nodes[n.name])
        del graph.node[:]
        graph.node.extend(ordered)
    _drop_unread(graph, replaced | {i for n in removed for i in n.input})
    return [n.name for n in removed]


def _drop_folded(graph: onnx.GraphProto, node: onnx.NodeProto, engine_names: set[str],
                 constants: Mapping[str, np.ndarray]) -> list[onnx.NodeProto]:
    outputs = {o.name for o in graph.output}
    removed = []
    while True:
        out = node.output[0]
        readers = [n for n in graph.node if out in n.input or out in captured_names(n)]  # an If's branch too
        if out in outputs or len(readers) != 1:
            return removed
        r = readers[0]
        others = [i for i in r.input if i != out]
        if (r.op_type not in _AFFINE or r.name in engine_names or list(r.input).count(out) != 1 or
                not all(i in constants for i in others if i) or
                (r.op_type in ("Sub", "Div") and r.input[0] != out)):
            return removed
        node.output[0] = r.output[0]
        graph.node.remove(r)
        removed.append(r)


def _drop_unread(graph: onnx.GraphProto, candidates: set[str]) -> None:
    """Removes the initializers and Constant nodes among ``candidates`` that nothing reads any more."""
    gone = candidates - reads(graph)
    keep = [i for i in graph.initializer if i.name not in gone]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = [n for n in graph.node if not (n.op_type == "Constant" and n.output[0] in gone)]
    del graph.node[:]
    graph.node.extend(nodes)


def _set_attrs(node: onnx.NodeProto, **values: float) -> None:
    keep = [a for a in node.attribute if a.name not in values]
    del node.attribute[:]
    node.attribute.extend(keep + [helper.make_attribute(k, v) for k, v in values.items()])
