"""Specialising an ONNX graph before import: fixed input shapes, inputs bound
to values, and every ``If`` whose condition is then known replaced by the
branch it takes.

An ``If`` whose condition is known at import time is inlined: the chosen
branch's nodes move into the enclosing graph (names that would clash get a
suffix, the branch's initializers move up) and the ``If`` outputs become
Identity nodes of the branch outputs, so the branch is folded, fused and
quantized with the rest of the graph. Nested Ifs surface in the enclosing
graph and are folded in the next round; the rounds stop when no If is left or
none is known. An If whose condition stays unknown is left to run time: the
engine runs the branch each run's condition names (``_subgraphs.py``).

Conditions exporters emit are often of two kinds that become known by
specialising, which is worth doing even though the engine runs the If:

* shape tests (``x.size(-1) == 1`` before a squeeze, ``state.size(0)`` as a
  bool: PyTorch's scripted branches): known once the input shapes are
  (``input_shapes=``, ``batch_size=``); a dimension that changes the branch
  changes the graph's ranks too, which a static-rank IR cannot express in one
  engine anyway;
* a scalar mode input (Silero VAD's sample rate ``sr``: 16 kHz or 8 kHz
  weights): ``input_values={"sr": 16000}`` binds it, the input leaves the
  network and one engine is built per value. Running both branches and
  selecting would double the work and calibrate the untaken branch on data it
  is never meant for; a user picks the mode when deploying, as ONNX Runtime
  users pass ``sr`` with every call.

An If left with a run-time condition is logged (at INFO), naming the inputs
the condition depends on and the options that would decide it at import.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .._errors import InvalidArgumentError, NotSupportedError
from ._subgraphs import subgraphs
from .ops import describe

logger = logging.getLogger("int8rt")

__all__ = ["fix_input_shapes", "bind_input_values", "inline_constant_ifs", "drop_unused_initializers"]

MAX_ROUNDS = 64  # nesting depth bound; each round folds one level


def fix_input_shapes(proto: onnx.ModelProto, shapes: Mapping[str, Sequence[int]], source: str) -> None:
    """Sets the named inputs' dimensions (in place); a fixed dimension in the
    model must agree."""
    inputs = {vi.name: vi for vi in proto.graph.input}
    for name, dims in shapes.items():
        if name not in inputs:
            raise InvalidArgumentError(f"{source}: input_shapes names '{name}', which is not an input "
                                       f"(inputs: {', '.join(inputs)})")
        shape = inputs[name].type.tensor_type.shape
        dims = [int(d) for d in dims]
        if len(shape.dim) != len(dims) or any(d < 0 for d in dims):
            raise InvalidArgumentError(f"{source}: input_shapes['{name}'] = {dims} does not fit the input's "
                                       f"rank {len(shape.dim)} (or has a negative size)")
        for d, want in zip(shape.dim, dims):
            if d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != want:
                raise InvalidArgumentError(f"{source}: input_shapes['{name}'] = {dims} contradicts the model's "
                                           f"fixed dimension {d.dim_value}")
            d.Clear()
            d.dim_value = want


def bind_input_values(proto: onnx.ModelProto, values: Mapping[str, Any], source: str) -> None:
    """Turns the named inputs into initializers holding ``values`` (in place)."""
    inputs = {vi.name: vi for vi in proto.graph.input}
    initializers = {t.name for t in proto.graph.initializer}
    for name, value in values.items():
        if name not in inputs or name in initializers:
            raise InvalidArgumentError(f"{source}: input_values names '{name}', which is not an input "
                                       f"(inputs: {', '.join(n for n in inputs if n not in initializers)})")
        t = inputs[name].type.tensor_type
        array = np.asarray(value, dtype=helper.tensor_dtype_to_np_dtype(t.elem_type))
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim] if t.HasField("shape") else None
        if dims is not None and (len(dims) != array.ndim or any(d not in (None, 0, s) for d, s in zip(dims, array.shape))):
            raise InvalidArgumentError(f"{source}: input_values['{name}'] has shape {list(array.shape)}, the input "
                                       f"is declared {[d if d else '?' for d in dims]}")
        proto.graph.initializer.append(numpy_helper.from_array(array, name))
        proto.graph.input.remove(inputs[name])


def inline_constant_ifs(proto: onnx.ModelProto,
                        fold: Callable[[onnx.ModelProto], Mapping[str, Any]]) -> None:
    """Replaces (in place) every top-level If whose condition is known with
    its branch, repeating while nested Ifs come up; the Ifs left run at run time.

    ``fold(proto)`` is the importer's constant folding: tensor name -> value
    (an ``np.ndarray`` where known at import time). Each round also turns the
    folded nodes into initializers, so that ONNX shape inference sees the
    constant pads, shapes and axes PyTorch computes at run time and sizes the
    tensors the next conditions test."""
    for _ in range(MAX_ROUNDS):
        if not any(n.op_type == "If" for n in proto.graph.node):
            return
        values = fold(proto)
        folded = _fold_into_initializers(proto.graph, values)
        chosen = [(n, _truth(values.get(n.input[0]))) for n in proto.graph.node if n.op_type == "If"]
        chosen = [(n, c) for n, c in chosen if c is not None]
        for node, cond in chosen:
            _inline(proto.graph, node, cond)
        if not chosen and not folded:
            break
    for n in proto.graph.node:
        if n.op_type == "If":
            logger.info("%s: its condition '%s' is computed at run time from input(s) %s; the engine runs the branch "
                        "each run takes (input_values= / input_shapes= would decide it at import)",
                        describe(n.name, n.op_type, n.output), n.input[0],
                        ", ".join(_inputs_behind(proto.graph, n.input[0])) or "(none)")


def _truth(value: Any) -> Optional[bool]:
    """An If condition's value when known (a one-element array), else None."""
    if isinstance(value, np.ndarray) and value.size == 1:
        return bool(value.reshape(-1)[0])
    return None


def _fold_into_initializers(graph: onnx.GraphProto, values: Mapping[str, Any]) -> bool:
    """Removes the nodes whose every output ``values`` holds as an array and
    adds those outputs as initializers; whether any was."""
    folded = [n for n in graph.node if n.op_type not in ("If", "Loop", "Scan") and n.output and
              all(not o or isinstance(values.get(o), np.ndarray) for o in n.output)]
    if not folded:
        return False
    for node in folded:
        graph.initializer.extend(numpy_helper.from_array(np.asarray(values[o]), o) for o in node.output if o)
    ids = {id(n) for n in folded}
    kept = [n for n in graph.node if id(n) not in ids]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.value_info[:]  # shape inference redoes them, without the folded tensors
    return True


def _inputs_behind(graph: onnx.GraphProto, name: str) -> List[str]:
    """The graph inputs ``name`` is computed from."""
    producer = {o: n for n in graph.node for o in n.output}
    inputs = {vi.name for vi in graph.input} - {t.name for t in graph.initializer}
    seen: Set[str] = set()
    found: List[str] = []
    stack = [name]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in inputs:
            found.append(v)
        elif v in producer:
            stack.extend(i for i in producer[v].input if i)
    return sorted(found)


def _defined(graph: onnx.GraphProto) -> Set[str]:
    """Names a graph and its subgraphs define (node outputs, initializers, graph inputs)."""
    names = {t.name for t in graph.initializer} | {vi.name for vi in graph.input}
    for node in graph.node:
        names.update(o for o in node.output if o)
        for sub in subgraphs(node):
            names |= _defined(sub)
    return names


def _used(graph: onnx.GraphProto) -> Set[str]:
    names = _defined(graph) | {vi.name for vi in graph.output}
    for node in graph.node:
        names.update(i for i in node.input if i)
        for sub in subgraphs(node):
            names |= _used(sub)
    return names


def _rename(graph: onnx.GraphProto, mapping: Dict[str, str]) -> None:
    for t in graph.initializer:
        t.name = mapping.get(t.name, t.name)
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        vi.name = mapping.get(vi.name, vi.name)
    for node in graph.node:
        node.input[:] = [mapping.get(i, i) for i in node.input]
        node.output[:] = [mapping.get(o, o) for o in node.output]
        for sub in subgraphs(node):
            _rename(sub, mapping)


def _inline(graph: onnx.GraphProto, node: onnx.NodeProto, cond: bool) -> None:
    branch = onnx.GraphProto()
    branch.CopyFrom(next(a.g for a in node.attribute if a.name == ("then_branch" if cond else "else_branch")))
    if branch.sparse_initializer:
        raise NotSupportedError(f"{describe(node.name, node.op_type, node.output)}: a branch with sparse "
                                "initializers is not supported")
    others = onnx.GraphProto()
    others.node.extend(n for n in graph.node if n is not node)
    taken = _used(others) | {t.name for t in graph.initializer} | {vi.name for vi in graph.input} | \
        {vi.name for vi in graph.output} | set(node.output)
    mapping: Dict[str, str] = {}
    for name in sorted(_defined(branch)):
        if name in taken:
            k = 1
            while f"{name}_{k}" in taken:
                k += 1
            mapping[name] = f"{name}_{k}"
            taken.add(mapping[name])
    _rename(branch, mapping)
    graph.initializer.extend(branch.initializer)
    stem = node.name or node.output[0]
    new_nodes: List[onnx.NodeProto] = list(branch.node)
    for k, (out, res) in enumerate(zip(node.output, branch.output)):
        if out:
            new_nodes.append(helper.make_node("Identity", [res.name], [out], name=f"{stem}_result_{k}"))
    at = list(graph.node).index(node)
    kept = list(graph.node)
    kept[at:at + 1] = new_nodes
    del graph.node[:]
    graph.node.extend(kept)


def drop_unused_initializers(graph: onnx.GraphProto) -> None:
    """Removes (in place) the initializers no node (at any depth) and no graph output reads."""
    read = {vi.name for vi in graph.output}

    def collect(g: onnx.GraphProto) -> None:
        for node in g.node:
            read.update(i for i in node.input if i)
            for sub in subgraphs(node):
                read.update(vi.name for vi in sub.output)
                collect(sub)
    collect(graph)
    kept = [t for t in graph.initializer if t.name in read]
    if len(kept) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept)

