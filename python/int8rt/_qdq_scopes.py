"""Where the Q/DQ export (:mod:`int8rt.qdq_export`) writes: the ONNX model's
main graph and every If branch that int8rt's INT8 build lowered, each with
the int8 plan's records for it, and int8rt's names mapped back to ONNX ones.

- If branches. The build lowers each calibrated branch on its own
  (``csrc/engine/lower_int8_branches.cc``) and the int8 plan names that
  branch's records under its scope, ``"<If node>/<then_branch|else_branch>/"``
  (``int8rt/branch_scope.h``; nested Ifs join their scopes).
  :func:`levels` pairs each such branch subgraph of the ONNX model with
  :func:`plan_under` of its scope (the scope taken off every name, as the
  branch's own lowering named them) and with the branch's Networks (the
  imported one, and the engine's lowered one when exporting an engine), so
  the export edits a branch as it edits the main graph. A branch reads outer
  values by name (ONNX's outer scope; int8rt passes them in as the branch's
  inputs under the same names), so a Q/DQ pair for a captured value is
  written inside the branch, before its int8 readers, reading the outer
  name. Branches come before the graph holding their If (the rewrite of a
  graph rebuilds its node list, copying the If node and its branches).
- The importer's 1-D lifting (``onnx/_importer.py``): a 1-D Conv or pool runs
  as 2-D between an Unsqueeze of its input (``x`` -> ``x_2d``) and a Squeeze
  of its output, nodes the ONNX model does not have. A plan tensor such as
  ``x_2d`` holds the values of ``x`` with one more axis of size 1, on the
  same grid (per-tensor, or per channel of axis 1): :func:`lifting_aliases`
  maps it to its ONNX twin.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np
import onnx

from . import _core
from ._qdq_graph import constants_of, reads

__all__ = ["Level", "PlanView", "as_imported", "drop_unread_initializers", "if_branches", "levels", "lifting_aliases",
           "name_nodes", "plan_under", "reads_anywhere", "scoped_names"]

_BRANCHES = ("then_branch", "else_branch")
_LIFTING_OPS = ("Unsqueeze", "Squeeze")


@dataclass(frozen=True)
class TensorRecord:
    """``int8rt.Int8TensorPlan`` with its names relative to a scope."""

    tensor: str
    int8_tensor: str
    scale: float
    zero_point: int
    producer: str
    produced_in_int8: bool
    readers: tuple[str, ...]
    channels_last: bool
    channel_scales: tuple[float, ...]
    scope: str


@dataclass(frozen=True)
class LayerRecord:
    """``int8rt.Int8LayerPlan`` with its names relative to a scope."""

    name: str
    op: str
    sources: tuple[str, ...]
    scope: str


@dataclass(frozen=True)
class PlanView:
    """The int8 plan's tensor and layer records under one scope; ``scope``
    "" marks the records of that graph itself, others are nested Ifs'."""

    tensors: tuple[TensorRecord, ...]
    layers: tuple[LayerRecord, ...]


def plan_under(plan: Any, scope: str) -> PlanView:
    """The records of ``plan`` (an ``Int8Plan`` or a :class:`PlanView`) under
    ``scope``, the scope taken off each name and scope ("": all of them)."""
    def cut(name: str) -> str:
        return name[len(scope):] if name.startswith(scope) else name

    tensors = tuple(TensorRecord(cut(t.tensor), cut(t.int8_tensor), float(t.scale), int(t.zero_point), cut(t.producer),
                                 bool(t.produced_in_int8), tuple(cut(r) for r in t.readers), bool(t.channels_last),
                                 tuple(float(s) for s in t.channel_scales), t.scope[len(scope):])
                    for t in plan.tensors if t.scope.startswith(scope))
    layers = tuple(LayerRecord(cut(layer.name), layer.op, tuple(cut(s) for s in layer.sources),
                               layer.scope[len(scope):])
                   for layer in plan.layers if layer.scope.startswith(scope))
    return PlanView(tensors, layers)


@dataclass
class Level:
    """One graph the export edits: the main graph (``scope`` "") or an If
    branch. ``visible``: the tensor names its nodes may read (its own and the
    enclosing graphs'); ``constants``: the constant values among them;
    ``source`` / ``lowered``: its imported and lowered Networks (None where
    there is none)."""

    graph: onnx.GraphProto
    scope: str
    plan: PlanView
    visible: frozenset[str]
    constants: dict[str, np.ndarray]
    source: Any
    lowered: Any = None


def levels(graph: onnx.GraphProto, plan: Any, source: Any, lowered: Any = None) -> list[Level]:
    """The main graph and every If branch (at any depth) with plan records,
    each branch before the graph that holds its If (module docstring)."""
    out: list[Level] = []
    _collect(graph, "", plan_under(plan, ""), frozenset(), {}, source, lowered, out)
    return out


def _collect(graph: onnx.GraphProto, scope: str, view: PlanView, outer: frozenset[str],
             outer_constants: dict[str, np.ndarray], source: Any, lowered: Any, out: list[Level]) -> None:
    visible = outer | _defined(graph)
    constants = {**outer_constants, **constants_of(graph)}
    for node, attr, branch in if_branches(graph):
        here = _core.branch_scope(node.name, attr)
        sub = plan_under(view, here)
        if sub.tensors or sub.layers:
            _collect(branch, scope + here, sub, visible, constants, _branch_network(source, node.name, attr),
                     _branch_network(lowered, node.name, attr), out)
    out.append(Level(graph, scope, view, visible, constants, source, lowered))


def _defined(graph: onnx.GraphProto) -> frozenset[str]:
    """The names ``graph`` defines: its inputs, initializers and node outputs."""
    return frozenset({i.name for i in graph.input} | {i.name for i in graph.initializer} |
                     {o for n in graph.node for o in n.output})


def if_branches(graph: onnx.GraphProto) -> Iterator[tuple[onnx.NodeProto, str, onnx.GraphProto]]:
    """(If node, branch attribute, branch graph) for each If of ``graph`` itself."""
    for node in graph.node:
        if node.op_type == "If":
            for a in node.attribute:
                if a.name in _BRANCHES and a.type == onnx.AttributeProto.GRAPH:
                    yield node, a.name, a.g


def _branch_network(network: Any, node: str, attr: str) -> Optional[Any]:
    if network is None:
        return None
    found = next((n for n in network.nodes() if n["op"] == "If" and n["name"] == node), None)
    return None if found is None else found["attrs"].get(attr)


def scoped_names(graph: onnx.GraphProto, scope: str = "") -> tuple[set[str], set[str]]:
    """(node names, tensor names) of ``graph``'s If branches at any depth,
    each under its scope as calibration and the plan name them."""
    nodes: set[str] = set()
    tensors: set[str] = set()
    for node, attr, branch in if_branches(graph):
        here = scope + _core.branch_scope(node.name, attr)
        nodes.update(here + n.name for n in branch.node if n.name)
        tensors.update(here + o for n in branch.node for o in n.output if o)
        inner_nodes, inner_tensors = scoped_names(branch, here)
        nodes |= inner_nodes
        tensors |= inner_tensors
    return nodes, tensors


def lifting_aliases(network: Any, visible: frozenset[str]) -> dict[str, str]:
    """Tensor of the imported ``network`` that the ONNX model lacks -> its
    ONNX twin, across the importer's lifting Unsqueeze / Squeeze (module
    docstring); ``visible``: the ONNX names readable in that graph."""
    aliases: dict[str, str] = {}
    for node in network.nodes() if network is not None else ():
        lifted = _lifting(network, node, visible)
        if lifted:
            aliases[lifted[0]] = lifted[1]
    return aliases


def _lifting(network: Any, node: dict, visible: frozenset[str]) -> Optional[tuple[str, str]]:
    """(the tensor the ONNX model lacks, its ONNX twin) when ``node`` is one of
    the importer's lifting Unsqueeze / Squeeze, else None."""
    if node["op"] not in _LIFTING_OPS or not node["inputs"] or len(node["outputs"]) != 1:
        return None
    a, b = network.tensor(node["inputs"][0])["name"], network.tensor(node["outputs"][0])["name"]
    if (a in visible) == (b in visible):
        return None
    return (b, a) if a in visible else (a, b)


def name_nodes(proto: onnx.ModelProto, network: Any) -> None:
    """Gives the model's unnamed nodes, its If branches' included, the names
    int8rt's importer gave them in ``network`` (its import of ``proto``; found
    by their first output), so the plan's node names and the scopes of its
    branch records find them."""
    _name_graph_nodes(proto.graph, network, frozenset())


def _name_graph_nodes(graph: onnx.GraphProto, network: Any, outer: frozenset[str]) -> None:
    visible = outer | _defined(graph)
    by_output: dict[str, str] = {}  # a lifted Conv's twin writes t_2d, which its Squeeze gives the ONNX name t
    aliases = lifting_aliases(network, visible)
    for node in network.nodes() if network is not None else ():
        if _lifting(network, node, visible):
            continue
        for t in node["outputs"]:
            name = network.tensor(t)["name"]
            by_output.setdefault(aliases.get(name, name), node["name"])
    used = {n.name for n in graph.node if n.name}
    twins = set(by_output.values())
    for n in graph.node:
        if n.name:
            continue
        name = by_output.get(n.output[0]) if n.output else None
        if name is None or name in used:  # a node int8rt has no twin of (a Constant) gets a fresh name
            base = f"{n.op_type}_{n.output[0] if n.output else 'node'}"
            name, k = base, 1
            while name in used or name in twins:
                name, k = f"{base}_{k}", k + 1
        used.add(name)
        n.name = name
    for node, attr, branch in if_branches(graph):
        _name_graph_nodes(branch, _branch_network(network, node.name, attr), visible)


def as_imported(graphs: dict[str, onnx.ModelProto]) -> onnx.ModelProto:
    """The model as int8rt's import read it (``onnx._importer.import_with_graphs``):
    its main graph and every run-time If's branches as specialised (Ifs the
    import decided inlined, so the plan's names are the graph's), each branch
    reading the outer values by name again."""
    out = onnx.ModelProto()
    out.CopyFrom(graphs[""])
    _put_branches(out.graph, "", graphs, frozenset())
    return out


def _put_branches(graph: onnx.GraphProto, scope: str, graphs: dict[str, onnx.ModelProto],
                  outer: frozenset[str]) -> None:
    visible = outer | _defined(graph)
    for node, attr, branch in if_branches(graph):
        here = scope + _core.branch_scope(node.name, attr)
        if here not in graphs:
            continue
        branch.CopyFrom(graphs[here].graph)
        del branch.input[:]  # an If branch has none: these were the captures (_subgraphs.subgraph_model)
        own = [i for i in branch.initializer if i.name not in visible]  # the outer constants it was given
        del branch.initializer[:]
        branch.initializer.extend(own)
        _put_branches(branch, here, graphs, visible)


def reads_anywhere(graph: onnx.GraphProto) -> set[str]:
    """The names read by ``graph`` and by every If branch in it (:func:`reads`)."""
    out = reads(graph)
    for _, _, branch in if_branches(graph):
        out |= reads_anywhere(branch)
    return out


def drop_unread_initializers(graph: onnx.GraphProto, read_before: set[str]) -> None:
    """Removes, in ``graph`` and its If branches, the initializers something
    read before the rewrite and nothing in their scope reads now."""
    read = reads(graph)
    keep = [i for i in graph.initializer if i.name not in read_before or i.name in read]
    if len(keep) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(keep)
    for _, _, branch in if_branches(graph):
        drop_unread_initializers(branch, read_before)
