"""ONNX control flow (If, Loop, Scan) decided at run time: IR nodes whose
subgraphs are Networks of their own (``csrc/engine/ops/control_flow.h`` is
the contract the engine runs).

ONNX subgraphs read outer-scope values by name; an IR subgraph reads only its
own inputs. So the values a node's subgraphs read from outside, at any depth,
are its *captures*: a run-time value is appended to the node's inputs and
declared as an input of each of its subgraphs, in one order, after the
inputs the op itself passes (Loop's iteration count, condition and carried
values; Scan's states and slices); a constant (an initializer, a folded
value) is copied into the subgraph as an initializer instead. Each subgraph
then imports as a model of its own, at the enclosing model's opsets and
through the same importer: its Ifs with known conditions are inlined, its
constants folded, its own control flow captured again from its inputs.

A subgraph's formal inputs keep the types the model declares for them; where
it declares none (Loop's iteration count and condition are scalars by
definition), the enclosing values' element types and ranks stand in, every
dimension dynamic. Captures are declared with the enclosing graph's inferred
dims. Where a rank is unknown (the result of an If whose branches differ in
rank: Silero VAD's squeeze-or-not), the input is one of any rank
(``Tensor::any_rank``), checked only when a run binds it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .._errors import NotSupportedError

__all__ = ["CONTROL_FLOW_OPS", "CAPTURES_ATTR", "OuterScope", "subgraphs", "free_names", "captured_names",
           "subgraph_model"]

CONTROL_FLOW_OPS = frozenset(["If", "Loop", "Scan"])
CAPTURES_ATTR = "int8rt_captures"  # K, the captures at the end of a Loop's or Scan's inputs (control_flow.h)

Dims = List[Optional[int]]


def subgraphs(node: onnx.NodeProto) -> Iterable[onnx.GraphProto]:
    """The graphs in ``node``'s attributes (GRAPH and GRAPHS)."""
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        elif a.type == onnx.AttributeProto.GRAPHS:
            yield from a.graphs


def free_names(graph: onnx.GraphProto) -> List[str]:
    """The names ``graph`` reads (its nodes' inputs, its nested subgraphs' free
    names, its outputs) without defining them (inputs, initializers, node
    outputs), in the order first read."""
    defined: Set[str] = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.values.name for t in graph.sparse_initializer}
    found: Dict[str, None] = {}
    for node in graph.node:
        for name in list(node.input) + [n for sub in subgraphs(node) for n in free_names(sub)]:
            if name and name not in defined:
                found.setdefault(name)
        defined.update(o for o in node.output if o)
    for vi in graph.output:
        if vi.name not in defined:
            found.setdefault(vi.name)
    return list(found)


def captured_names(node: onnx.NodeProto) -> List[str]:
    """The outer values ``node``'s subgraphs read, over all of them, in first-read order."""
    found: Dict[str, None] = {}
    for sub in subgraphs(node):
        for name in free_names(sub):
            found.setdefault(name)
    return list(found)


@dataclass
class OuterScope:
    """What the enclosing import knows of its values."""

    source: str
    model: onnx.ModelProto                                # the enclosing model (opsets, IR version)
    shape: Callable[[str], Optional[Dims]]                # inferred dims, None where unknown
    symbols: Callable[[str], Optional[List[Optional[str]]]]  # the symbols naming dynamic dims
    elem_type: Callable[[str], Optional[int]]             # ONNX element type, None where unknown


def _value_info(name: str, elem: int, dims: Optional[Dims], symbols: Optional[List[Optional[str]]] = None
                ) -> onnx.ValueInfoProto:
    shape = None if dims is None else [d if d is not None else (symbols[i] if symbols and i < len(symbols) else None)
                                       for i, d in enumerate(dims)]
    return helper.make_tensor_value_info(name, elem, shape)


def capture_info(name: str, outer: OuterScope, reader: str) -> onnx.ValueInfoProto:
    """The declaration of captured value ``name`` in a subgraph: the enclosing graph's type and
    dims; no shape (an input of any rank) where ONNX shape inference does not know the rank, as
    for the result of an If whose branches give different ranks."""
    dims, elem = outer.shape(name), outer.elem_type(name)
    if not elem:
        raise NotSupportedError(f"{outer.source}: {reader}: a subgraph reads '{name}', whose element type ONNX "
                                "shape inference does not know; int8rt passes it in as a typed input")
    return _value_info(name, elem, dims, outer.symbols(name))


def _declared_or(vi: onnx.ValueInfoProto, elem: Optional[int], rank: Optional[int], what: str, outer: OuterScope,
                 reader: str) -> onnx.ValueInfoProto:
    """``vi`` where it declares an element type and a shape, else one made from
    the enclosing value's element type and rank (every dimension dynamic; no
    shape, any rank, where that rank is not known either)."""
    t = vi.type.tensor_type
    if vi.type.HasField("tensor_type") and t.elem_type and t.HasField("shape"):
        return vi
    elem = t.elem_type or elem
    if not elem:
        raise NotSupportedError(f"{outer.source}: {reader}: the element type of {what} '{vi.name}' is not declared "
                                "and cannot be told from the enclosing graph")
    return _value_info(vi.name, elem, None if rank is None else [None] * rank)


def _rank(outer: OuterScope, name: str, less: int = 0) -> Optional[int]:
    dims = outer.shape(name) if name else None
    return None if dims is None else len(dims) - less


def formal_inputs(node: onnx.NodeProto, graph: onnx.GraphProto, outer: OuterScope,
                  reader: str) -> List[onnx.ValueInfoProto]:
    """The inputs ``node``'s op passes its subgraph ``graph`` (before the captures), typed."""
    op, declared = node.op_type, list(graph.input)
    if op == "If":
        if declared:
            raise NotSupportedError(f"{outer.source}: {reader}: an If branch declares inputs; ONNX's have none")
        return []
    if op == "Loop":
        if len(declared) != len(node.input):
            raise NotSupportedError(f"{outer.source}: {reader}: the body declares {len(declared)} inputs, the Loop "
                                    f"passes {len(node.input)} (iteration, condition, carried values)")
        formal = [helper.make_tensor_value_info(declared[0].name, onnx.TensorProto.INT64, []),
                  helper.make_tensor_value_info(declared[1].name, onnx.TensorProto.BOOL, [])]
        for vi, init in zip(declared[2:], node.input[2:]):
            formal.append(_declared_or(vi, outer.elem_type(init), _rank(outer, init), "loop-carried value", outer,
                                       reader))
        return formal
    if op == "Scan":  # opset 9+ (the importer converts older models to opset 11)
        m = next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0)
        n = len(node.input) - m
        if len(declared) != len(node.input):
            raise NotSupportedError(f"{outer.source}: {reader}: the body declares {len(declared)} inputs, the Scan "
                                    f"passes {len(node.input)} (states, then one slice of each scan input)")
        return [_declared_or(vi, outer.elem_type(x), _rank(outer, x, 1 if k >= n else 0),
                             "scan slice" if k >= n else "state", outer, reader)
                for k, (vi, x) in enumerate(zip(declared, node.input))]
    raise NotSupportedError(f"{outer.source}: {reader}: {op} has no subgraph form in int8rt")


def subgraph_model(graph: onnx.GraphProto, formal: Sequence[onnx.ValueInfoProto],
                   captures: Sequence[onnx.ValueInfoProto], constants: Dict[str, np.ndarray],
                   outer: OuterScope) -> onnx.ModelProto:
    """``graph`` as a model of its own: the formal inputs then the captures as
    its inputs, the constants it reads from outside as initializers, at the
    enclosing model's opsets. An output listed twice gets an Identity per
    repeat (IR outputs are distinct tensors)."""
    g = onnx.GraphProto(name=graph.name or "subgraph")
    g.input.extend(formal)
    g.input.extend(captures)
    g.initializer.extend(graph.initializer)
    g.sparse_initializer.extend(graph.sparse_initializer)
    g.initializer.extend(numpy_helper.from_array(np.asarray(v), name) for name, v in constants.items())
    g.node.extend(graph.node)
    g.value_info.extend(graph.value_info)
    seen: Set[str] = set()
    taken = {vi.name for vi in g.input} | {t.name for t in g.initializer} | {o for n in g.node for o in n.output}
    for vi in graph.output:
        out = g.output.add()
        out.CopyFrom(vi)
        if vi.name in seen:
            k = 1
            while f"{vi.name}_{k}" in taken:
                k += 1
            out.name = f"{vi.name}_{k}"
            taken.add(out.name)
            g.node.append(helper.make_node("Identity", [vi.name], [out.name], name=f"{out.name}_repeat"))
        seen.add(vi.name)
    model = onnx.ModelProto()
    model.ir_version = outer.model.ir_version
    model.opset_import.extend(outer.model.opset_import)
    model.graph.CopyFrom(g)
    return model


def split_attributes(node: onnx.NodeProto) -> Tuple[List[Tuple[str, onnx.GraphProto]], Dict[str, object]]:
    """The node's graph attributes (name, graph) and its other attributes as Python values."""
    graphs, others = [], {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            graphs.append((a.name, a.g))
        elif a.type == onnx.AttributeProto.GRAPHS:
            raise NotSupportedError(f"attribute '{a.name}' holds a list of graphs, which int8rt does not take")
        else:
            others[a.name] = helper.get_attribute_value(a)
    return graphs, others
