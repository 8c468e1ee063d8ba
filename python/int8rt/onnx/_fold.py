"""Import-time constant folding of an ONNX graph, including PyTorch's shape chains.

Walks the (topologically sorted) graph once:

* a node whose inputs are all constants (initializers, Constant outputs,
  earlier folded values) is evaluated with ``onnx.reference`` on a one-node
  model at the model's opset, and its outputs become constants (keeping
  their names). QuantizeLinear / DequantizeLinear are never folded: the
  quantization passes need them as nodes; nor are If / Loop / Scan, whose
  subgraphs read values that are not inputs of the node (``_specialize.py``
  inlines an If with a known condition; the others run at run time, with the
  shape-dependent values their subgraphs read computed at run time too).
* ``Shape`` of a tensor gives a *shape-dependent* value (``BatchValue``):
  the static entries are known, the others are tagged: BATCH (exactly the
  dynamic batch), DERIVED (computed from it) or UNKNOWN (a dimension ONNX
  shape inference could not size: known only at run time). The batch is
  found by its symbol: where every dynamic input names its first dimension
  alike ("N"), ONNX shape inference carries that name to wherever the batch
  moves (torch's MultiheadAttention works on [L, N, E]), so a dimension of
  that name is the batch in any position; without a shared name, only a
  leading unknown dimension is taken for the batch. Gather / Slice /
  Squeeze / Unsqueeze / Concat / Cast (to an integer type) / Identity move tags along with
  values, so picking the static entries of a partly unknown shape (a
  head size, say) gives a constant; Add / Sub / Mul / Div tag their result
  as derived (or unknown, from an unknown entry).
* A Reshape whose target is batch-dependent gets a constant target: the
  single batch-dependent entry becomes -1 (inferred), or, where the target
  already has a -1, a pure batch entry becomes 0 (ONNX: copy the input's
  dim in that position, when it is the batch too); a target this cannot
  express is computed at run time (below). A
  Resize whose ``sizes`` are batch-dependent gets equivalent ``scales``.
* Any other op with a run-time layer (Expand, Concat, Add, ...) that reads a
  batch-dependent value is kept, and so are the nodes that computed the value
  (``_materialize``: Shape, Gather, Concat, ...): the value is a *shape
  tensor* at run time, which the engine's shape inference evaluates for each
  batch size (``Executor::infer_shapes``). A chain through an op without a
  run-time layer (ConstantOfShape, Range, Where, ...) is refused, naming it.

* An Expand whose every reader is a broadcasting Add / Sub / Mul / Div that
  already has the Expand's target extent from its other operand (each target
  entry 1, or equal to that operand's dimension: static and equal, or both
  the batch) is dropped and its readers read the Expand's input: broadcasting
  gives the same shape and the same values. PyTorch's ``x * y.expand_as(x)``
  (timm's ECA / CECA gates: Shape -> Concat -> Expand -> Mul) so becomes the
  channel-gate Mul the INT8 lowering runs on int8 data (int8rt.QChannelMul),
  instead of a float Expand and Mul between int8 convolutions.

This is how ``x.view(x.size(0), -1)`` (Shape -> Gather -> Unsqueeze ->
Concat -> Reshape) imports with a dynamic batch, and a ViT's
``cls.expand(x.shape[0], -1, -1)`` (Shape -> Concat -> Expand) runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Union

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

from .._errors import NotSupportedError
from ._subgraphs import captured_names
from .ops import FOLD_ONLY_OPS, SUPPORTED_OPS, describe

STATIC, BATCH, DERIVED, UNKNOWN = 0, 1, 2, 3
_MOVERS = {"Gather": [0], "Slice": [0], "Squeeze": [0], "Unsqueeze": [0], "Cast": [0], "Identity": [0]}
_ARITHMETIC = ("Add", "Sub", "Mul", "Div")
_NEVER_FOLD = ("QuantizeLinear", "DequantizeLinear")
_BROADCAST_BINARY = ("Add", "Sub", "Mul", "Div")  # readers an Expand may be dropped for (module doc)
_INTEGER_TYPES = frozenset([onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32,
                            onnx.TensorProto.INT64, onnx.TensorProto.UINT8, onnx.TensorProto.UINT16,
                            onnx.TensorProto.UINT32, onnx.TensorProto.UINT64])


def _casts_to_integer(node: onnx.NodeProto) -> bool:
    return any(a.name == "to" and a.i in _INTEGER_TYPES for a in node.attribute)
_SUBGRAPH_OPS = ("If", "Loop", "Scan")  # read outer values not listed as inputs: never evaluated here


@dataclass
class BatchValue:
    """An int64 shape-like value whose entries may depend on the dynamic batch
    size or on dimensions known only at run time."""

    values: np.ndarray  # int64; entries tagged non-STATIC hold a placeholder
    tags: np.ndarray    # uint8, same shape: STATIC, BATCH (exactly the batch), DERIVED or UNKNOWN


@dataclass
class KeptNode:
    """A node that stays a node, with inputs possibly redirected to new constants."""

    node: onnx.NodeProto
    inputs: List[str]


@dataclass
class FoldResult:
    constants: Dict[str, np.ndarray] = field(default_factory=dict)
    nodes: List[KeptNode] = field(default_factory=list)


Value = Union[np.ndarray, BatchValue]


def evaluate(node: onnx.NodeProto, args: Sequence[Optional[np.ndarray]], opset: int) -> List[np.ndarray]:
    """Run one node with the ONNX reference implementation at ``opset``."""
    names = [f"in{i}" if arg is not None else "" for i, arg in enumerate(args)]
    while names and names[-1] == "":
        names.pop()
    outs = [f"out{i}" for i in range(len(node.output))]
    one = helper.make_node(node.op_type, names, outs, domain=node.domain)
    one.attribute.extend(node.attribute)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in zip(names, args) if n]
    graph = helper.make_graph([one], "fold", graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    results = ReferenceEvaluator(model).run(None, {n: a for n, a in zip(names, args) if n})
    return [np.asarray(r) for r in results]


class Folder:
    """One pass of constant folding; see the module docstring."""

    def __init__(self, opset: int, constants: Dict[str, np.ndarray],
                 shape_of: Callable[[str], Optional[List[Optional[int]]]], dynamic_batch: bool,
                 symbols_of: Callable[[str], Optional[List[Optional[str]]]] = lambda name: None,
                 batch_symbol: Optional[str] = None) -> None:
        self.opset = opset
        self.shape_of = shape_of
        self.symbols_of = symbols_of
        self.dynamic_batch = dynamic_batch
        self.batch_symbol = batch_symbol if dynamic_batch else None
        self.values: Dict[str, Value] = dict(constants)
        self.result = FoldResult()
        self.batch_producers: Dict[str, onnx.NodeProto] = {}  # batch-dependent value -> its node
        self.materialized: Set[str] = set()                    # those kept as run-time nodes too
        self.readers: Dict[str, List[onnx.NodeProto]] = {}     # tensor -> the nodes that read it
        self.outputs: Set[str] = set()
        self.aliases: Dict[str, str] = {}                      # a dropped Expand's output -> its input

    def run(self, nodes: Sequence[onnx.NodeProto], outputs: Sequence[str] = ()) -> FoldResult:
        """Folds ``nodes``; a graph output (``outputs``) that depends on the
        batch is computed at run time."""
        self.outputs = set(outputs)
        for node in nodes:
            names = list(node.input) + (captured_names(node) if node.op_type in _SUBGRAPH_OPS else [])
            for name in set(names):
                if name:
                    self.readers.setdefault(name, []).append(node)
        for node in nodes:
            self._visit(node)
        for name in outputs:
            if isinstance(self.values.get(name), BatchValue):
                self._materialize(name)
        self.result.constants = {k: v for k, v in self.values.items() if isinstance(v, np.ndarray)}
        return self.result

    def _error(self, node: onnx.NodeProto, message: str) -> NotSupportedError:
        return NotSupportedError(f"{describe(node.name, node.op_type, node.output)}: {message}")

    def _evaluate(self, node: onnx.NodeProto, args: Sequence[Optional[np.ndarray]]) -> List[np.ndarray]:
        """evaluate(), its failure an int8rt error naming the node (the reference runtime raises assorted
        types for bad constants or attributes: an axis out of range, a shape that does not fit)."""
        try:
            return evaluate(node, args, self.opset)
        except Exception as e:  # noqa: BLE001
            raise self._error(node, f"evaluating it on its constant inputs failed: {e}") from e

    def _set(self, node: onnx.NodeProto, outputs: Sequence[Value]) -> None:
        for name, value in zip(node.output, outputs):
            if name:
                if isinstance(value, BatchValue) and not value.tags.any():
                    value = value.values
                if isinstance(value, BatchValue):
                    self.batch_producers[name] = node
                self.values[name] = value

    def _visit(self, node: onnx.NodeProto) -> None:
        args = [self.values.get(n) if n else None for n in node.input]
        present = [(n, a) for n, a in zip(node.input, args) if n]
        op = node.op_type
        if op == "Expand" and self._broadcast_covers(node, args):
            self.aliases[node.output[0]] = node.input[0]
        elif op in _SUBGRAPH_OPS:
            # Its subgraphs read outer values by name: a shape-dependent one is needed at run time.
            for name in list(node.input) + captured_names(node):
                if isinstance(self.values.get(name), BatchValue):
                    self._materialize(name)
            self._keep(node)
        elif op in _NEVER_FOLD:
            self._keep(node)
        elif all(isinstance(a, np.ndarray) for _, a in present):
            self._set(node, self._evaluate(node, args))
        elif op == "Shape":
            value = self._shape(node)
            if value is None:
                self._keep(node)  # a shape tensor at run time (see the module doc)
            else:
                self._set(node, [value])
        elif any(isinstance(a, BatchValue) for a in args):
            self._batch_dependent(node, args)
        elif op in FOLD_ONLY_OPS:
            computed = [n for n, a in present if a is None]
            raise self._error(node, f"computes on run-time data ('{computed[0]}'); int8rt evaluates {op} "
                                    "only on constants at import time")
        else:
            self._keep(node)

    def _keep(self, node: onnx.NodeProto, inputs: Optional[List[str]] = None) -> None:
        names = list(node.input) if inputs is None else inputs
        self.result.nodes.append(KeptNode(node, [self.aliases.get(n, n) for n in names]))

    def _broadcast_covers(self, node: onnx.NodeProto, args: Sequence[Optional[Value]]) -> bool:
        """Whether the Expand ``node`` can be dropped (module doc): its target
        (a constant, or a shape-dependent value of static and batch entries) is
        covered by the other operand of every reader, each a broadcasting
        Add / Sub / Mul / Div reading it once; it is no graph output."""
        if len(node.input) != 2 or len(args) != 2 or isinstance(args[0], BatchValue):
            return False
        target, out = args[1], node.output[0]
        if isinstance(target, np.ndarray):
            target = BatchValue(target.astype(np.int64), np.zeros(target.shape, np.uint8))
        if not isinstance(target, BatchValue) or target.values.ndim != 1 or out in self.outputs:
            return False
        readers = self.readers.get(out, [])
        for reader in readers:
            ins = list(reader.input)
            if reader.op_type not in _BROADCAST_BINARY or len(ins) != 2 or ins.count(out) != 1:
                return False
            other = ins[1 - ins.index(out)]
            if not self._dims_cover(other, target):
                return False
        return bool(readers)

    def _dims_cover(self, name: str, target: BatchValue) -> bool:
        """Whether the data tensor ``name`` has, right-aligned, every entry of
        ``target``: the entry is 1, or static and equal to ``name``'s static
        dimension, or the batch where ``name``'s dimension is the batch."""
        dims = self.shape_of(name)
        # an Expand dropped before (its output no longer has these dims) does not cover another
        if dims is None or name in self.aliases or isinstance(self.values.get(name), BatchValue) or \
                len(target.values) > len(dims):
            return False
        first = len(dims) - len(target.values)
        for i, (v, tag) in enumerate(zip(target.values, target.tags)):
            d = dims[first + i]
            if tag == STATIC and (v == 1 or d == v):
                continue
            if tag == BATCH and d is None and self._is_batch(name, first + i):
                continue
            return False
        return True

    def _shape(self, node: onnx.NodeProto) -> Optional[Value]:
        """The shape as a (shape-dependent) value, or None when ONNX shape
        inference does not know the rank: then it is computed at run time."""
        dims = self.shape_of(node.input[0])
        if dims is None:
            return None
        values = np.array([d if d is not None else -1 for d in dims], np.int64)
        tags = np.array([STATIC if d is not None else BATCH if self._is_batch(node.input[0], i) else UNKNOWN
                         for i, d in enumerate(dims)], np.uint8)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        start, end = attrs.get("start", 0), attrs.get("end", len(dims))
        return BatchValue(values[start:end], tags[start:end])

    def _is_batch(self, name: str, axis: int) -> bool:
        """Whether dimension ``axis`` of ``name`` is the dynamic batch (see the module doc)."""
        if not self.dynamic_batch:
            return False
        if self.batch_symbol is None:
            return axis == 0
        symbols = self.symbols_of(name)
        return symbols is not None and axis < len(symbols) and symbols[axis] == self.batch_symbol

    def _batch_dependent(self, node: onnx.NodeProto, args: Sequence[Optional[Value]]) -> None:
        op = node.op_type
        target = None
        if op == "Reshape" and isinstance(args[1], BatchValue) and not isinstance(args[0], BatchValue):
            target = self._reshape_target(node, args[1])
        elif op == "Resize" and len(args) > 3 and isinstance(args[3], BatchValue) and \
                not any(isinstance(a, BatchValue) for a in args[:3]):
            target = self._resize_scales(node, args[3])
        if target is not None:
            self._keep(node, [node.input[0], target] if op == "Reshape" else
                       [node.input[0], node.input[1], target, ""])
        elif self._moves_tags(node, args):
            moved = range(len(args)) if op == "Concat" else _MOVERS[op]
            values = self._evaluate(node, [a.values if isinstance(a, BatchValue) else a for a in args])[0]
            tag_args = [(a.tags.astype(np.int64) if isinstance(a, BatchValue) else np.zeros_like(a, np.int64))
                        if i in moved else a for i, a in enumerate(args)]
            if op == "Cast":
                tags = tag_args[0]
            else:
                tags = self._evaluate(node, tag_args)[0]
            self._set(node, [BatchValue(values.astype(np.int64), tags.astype(np.uint8))])
        elif op in _ARITHMETIC and all(a is not None for a in args):
            plain = [a.values if isinstance(a, BatchValue) else a for a in args]
            values = self._evaluate(node, plain)[0]
            tags = np.zeros(values.shape, np.uint8)
            for a in args:
                if isinstance(a, BatchValue):
                    tags = np.maximum(tags, np.broadcast_to(np.maximum(np.minimum(a.tags, 1) * DERIVED, a.tags),
                                                            values.shape))
            self._set(node, [BatchValue(values.astype(np.int64), tags.astype(np.uint8))])
        elif op in SUPPORTED_OPS:
            # Computed at run time: the batch-dependent inputs become shape
            # tensors, evaluated by the engine's shape inference.
            for name, a in zip(node.input, args):
                if isinstance(a, BatchValue):
                    self._materialize(name)
            self._keep(node)
        elif any(isinstance(a, BatchValue) and (a.tags == UNKNOWN).any() for a in args):
            raise self._error(node, f"computes on a shape known only at run time, and {op} has no run-time layer")
        else:
            raise self._error(node, "uses a value computed from the dynamic batch size (Shape); int8rt needs "
                                    "it at import time: export with a static batch or pass batch_size=")

    @staticmethod
    def _moves_tags(node: onnx.NodeProto, args: Sequence[Optional[Value]]) -> bool:
        """Whether ``node`` moves shape entries (and their tags) from inputs
        that are all known at import time, shape-dependent only where the
        entries move (not the indices of a Gather, say)."""
        if node.op_type not in _MOVERS and node.op_type != "Concat":
            return False
        if node.op_type == "Cast" and not _casts_to_integer(node):
            # a shape entry as a float (DeBERTa's sqrt(head size * factor)) is
            # no shape-like int64 value: computed at run time, or folded when known
            return False
        moved = range(len(args)) if node.op_type == "Concat" else _MOVERS[node.op_type]
        return all((a is not None or not n) and (i in moved or not isinstance(a, BatchValue))
                   for i, (a, n) in enumerate(zip(args, node.input)))

    def _materialize(self, name: str) -> None:
        """Keeps the nodes that computed the batch-dependent value ``name``
        (Shape, Gather, Concat, ...) so that it exists at run time too."""
        if name in self.materialized:
            return
        node = self.batch_producers[name]
        if node.op_type not in SUPPORTED_OPS:
            raise self._error(node, "computes a batch-dependent shape that is needed at run time, and "
                                    f"{node.op_type} has no run-time layer: export with a static batch or pass "
                                    "batch_size=")
        for i in node.input:
            if isinstance(self.values.get(i), BatchValue):
                self._materialize(i)
        self.materialized.update(o for o in node.output if o)
        self._keep(node)

    def _new_constant(self, stem: str, value: np.ndarray) -> str:
        name, k = stem, 0
        while name in self.values or self.shape_of(name) is not None:
            k += 1
            name = f"{stem}_{k}"
        self.values[name] = value
        return name

    def _reshape_target(self, node: onnx.NodeProto, target: BatchValue) -> Optional[str]:
        """A constant target equivalent to ``target`` for every batch size, or None."""
        values, tags = target.values.copy(), target.tags
        dependent = np.flatnonzero(tags)
        data_dims = self.shape_of(node.input[0])
        allowzero = any(a.name == "allowzero" and a.i for a in node.attribute)
        if len(dependent) == 1:
            p = int(dependent[0])
            # -1 (inferred from the element count) is right whatever the data's
            # dimensions are; 0 (copy the data's dim p) only when that dim is
            # the batch itself, which a dynamic dim may not be (N*320, say),
            # so 0 is used only where -1 is already taken.
            if -1 not in np.delete(values, p):
                values[p] = -1
                return self._new_constant(node.input[1] + "_static", values)
            if tags[p] == BATCH and not allowzero and data_dims and p < len(data_dims) and \
                    data_dims[p] is None and self._is_batch(node.input[0], p):
                values[p] = 0
                return self._new_constant(node.input[1] + "_static", values)
        return None  # more than one entry int8rt cannot express as 0 or -1: computed at run time

    def _resize_scales(self, node: onnx.NodeProto, sizes: BatchValue) -> Optional[str]:
        """Constant scales equivalent to ``sizes`` for every batch size, or None."""
        dims = self.shape_of(node.input[0])
        if dims is None or len(dims) != len(sizes.values) or any(
                t != STATIC and not (i == 0 and t == BATCH and self._is_batch(node.input[0], 0))
                for i, t in enumerate(sizes.tags)):
            return None
        scales = np.ones(len(dims), np.float32)
        for i, (d, s) in enumerate(zip(dims, sizes.values)):
            if i == 0 and sizes.tags[0] == BATCH:
                continue
            scales[i] = np.float32(s) / np.float32(d)
            if d is None or int(np.floor(np.float32(d) * scales[i])) != int(s):
                return None  # no exact scale: the sizes are computed at run time
        return self._new_constant(node.input[3] + "_as_scales", scales)
