"""ONNX ModelProto -> int8rt Network, one IR node per remaining ONNX node.

Order of work: fix the batch dimension and input shapes and bind input
values if asked, inline every If those decide (``_specialize.py``), rewrite
a non-overlapping Col2Im as Reshape / Transpose / Reshape (``_col2im.py``), check
every node against ``ops.py`` (refusing unsupported ops and attributes
before any calibration work), run ONNX shape inference (strict mode off, data propagation on), fold
constants (``_fold.py``), then emit inputs, the constants the remaining
nodes read, the nodes (normalised by ``ops.normalize``), the outputs and
every shape inference produced. Tensor names are the ONNX names, unchanged
(calibration caches are keyed by them). The subgraphs of an If, Loop or Scan
left for run time import the same way, each as a model of its own
(``_subgraphs.py``).
"""
from __future__ import annotations

import contextvars
import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import _core
from .._errors import FormatError, InvalidArgumentError, NotSupportedError
from ..network import Network
from . import ops
from ._col2im import col2im_as_moves
from ._contrib import ACCEPTED_CONTRIB_OPS, lower_contrib_ops
from ._fold import BatchValue, Folder, FoldResult
from ._load import ModelSource, first_line, load, with_supported_opset
from ._specialize import bind_input_values, drop_unused_initializers, fix_input_shapes, inline_constant_ifs
from ._subgraphs import (CAPTURES_ATTR, CONTROL_FLOW_OPS, OuterScope, capture_info, captured_names, formal_inputs,
                         split_attributes, subgraph_model)

logger = logging.getLogger("int8rt")

Dims = List[Optional[int]]
# ONNX element types of run-time tensors (graph inputs, outputs, computed
# tensors) -> the engine's dtype names (numpy's).
RUNTIME_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64",
                  onnx.TensorProto.FLOAT16: "float16", onnx.TensorProto.INT8: "int8",
                  onnx.TensorProto.INT16: "int16", onnx.TensorProto.INT32: "int32",
                  onnx.TensorProto.INT64: "int64", onnx.TensorProto.UINT8: "uint8",
                  onnx.TensorProto.UINT16: "uint16", onnx.TensorProto.UINT32: "uint32",
                  onnx.TensorProto.UINT64: "uint64", onnx.TensorProto.BOOL: "bool",
                  # storage types (numpy's ml_dtypes names): Cast converts them, data movement moves them
                  onnx.TensorProto.BFLOAT16: "bfloat16", onnx.TensorProto.FLOAT8E4M3FN: "float8_e4m3fn",
                  onnx.TensorProto.FLOAT8E4M3FNUZ: "float8_e4m3fnuz", onnx.TensorProto.FLOAT8E5M2: "float8_e5m2",
                  onnx.TensorProto.FLOAT8E5M2FNUZ: "float8_e5m2fnuz", onnx.TensorProto.UINT4: "uint4",
                  onnx.TensorProto.INT4: "int4", onnx.TensorProto.FLOAT4E2M1: "float4_e2m1fn",
                  onnx.TensorProto.UINT2: "uint2", onnx.TensorProto.INT2: "int2",
                  onnx.TensorProto.FLOAT8E8M0: "float8_e8m0fnu"}
_INPUT_DTYPES = RUNTIME_DTYPES
# Constants of these dtypes are stored as float32 and cast back at run time
# (_Emitter._tensor), except for the ops that read their constant inputs'
# values while the engine is built (quantization parameters).
# The float types the float32-only layers take through Casts (ops.FLOAT16_VIA_FLOAT32).
_VIA_FLOAT32 = {"float16": onnx.TensorProto.FLOAT16, "float64": onnx.TensorProto.DOUBLE,
                "bfloat16": onnx.TensorProto.BFLOAT16}
_ONNX_FLOAT_TYPES = {np.dtype(np.float64): onnx.TensorProto.DOUBLE, np.dtype(np.float16): onnx.TensorProto.FLOAT16}
_RUNTIME_FLOAT_CONSTANTS = frozenset(_ONNX_FLOAT_TYPES)
# Integer constants the IR widens to int64 (it holds int64, int8 and bool
# constants): where an op's type constraint ties such a constant to a run-time
# input or to its output (Concat of a run-time int32 shape and an int32
# constant, Equal against an int32 constant, Expand of an int32 constant),
# the constant is cast back at run time to the dtype ONNX declared
# (_Emitter._typed_inputs). Parameter inputs (axes, starts, indices, pads,
# shapes) are read as int64 and stay constant.
_WIDENED_INT_CONSTANTS = {np.dtype(t): e for t, e in [
    (np.int16, onnx.TensorProto.INT16), (np.int32, onnx.TensorProto.INT32), (np.uint8, onnx.TensorProto.UINT8),
    (np.uint16, onnx.TensorProto.UINT16), (np.uint32, onnx.TensorProto.UINT32), (np.uint64, onnx.TensorProto.UINT64)]}
_ALL_INPUTS = None
# op -> the input positions that share the op's data type T (None: every input).
_TYPED_INPUTS: Dict[str, Optional[Tuple[int, ...]]] = {
    **{op: _ALL_INPUTS for op in ("Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Sum", "Mean", "Equal", "Less",
                                  "LessOrEqual", "Greater", "GreaterOrEqual", "Concat", "BitShift", "BitwiseAnd",
                                  "BitwiseOr", "BitwiseXor", "Range", "Clip", "PRelu")},
    **{op: (1, 2) for op in ("Where",)},
    **{op: (0, 2) for op in ("Pad", "ScatterND", "ScatterElements")},
    **{op: (0,) for op in ("Expand", "Tile", "Reshape", "Gather", "GatherElements", "GatherND", "Slice", "Squeeze",
                           "Unsqueeze", "Split", "CumSum", "Pow", "TopK", "Resize", "ReduceSum", "ReduceMax",
                           "ReduceMin", "ReduceProd", "ReduceMean")},
}
_READS_CONSTANTS_RAW = frozenset(["QuantizeLinear", "DequantizeLinear"])


def specialized_model(model: ModelSource, batch_size: Optional[int],
                      input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                      input_values: Optional[Mapping[str, Any]] = None) -> onnx.ModelProto:
    """``int8rt.onnx.specialize``: the checked model with fixed shapes, bound inputs and decided Ifs inlined."""
    proto, source = load(model)
    proto, opset = with_supported_opset(lower_contrib_ops(proto), source)
    if batch_size is not None:
        proto = _with_batch(proto, batch_size, {t.name for t in proto.graph.initializer})
    specialized = _specialized(proto, opset, source, input_shapes or {}, input_values or {})
    if specialized is proto and isinstance(model, onnx.ModelProto):
        specialized = onnx.ModelProto()
        specialized.CopyFrom(proto)
    return specialized


def import_onnx_model(model: ModelSource, batch_size: Optional[int],
                      input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                      input_values: Optional[Mapping[str, Any]] = None) -> Network:
    proto, source = load(model)
    proto, opset = with_supported_opset(lower_contrib_ops(proto), source)
    if batch_size is not None:
        proto = _with_batch(proto, batch_size, {t.name for t in proto.graph.initializer})
    proto = col2im_as_moves(_specialized(proto, opset, source, input_shapes or {}, input_values or {}))
    graphs = _IMPORTED_GRAPHS.get()
    if graphs is not None:
        graphs[""] = proto
    return _import_graph(proto, opset, source)


# While set (import_with_graphs), the ONNX graphs the import reads, by scope.
_IMPORTED_GRAPHS: contextvars.ContextVar[Optional[Dict[str, onnx.ModelProto]]] = \
    contextvars.ContextVar("int8rt_imported_graphs", default=None)
_SCOPE: contextvars.ContextVar[str] = contextvars.ContextVar("int8rt_import_scope", default="")


def import_with_graphs(model: ModelSource) -> Tuple[Network, Dict[str, onnx.ModelProto]]:
    """The Network, and the ONNX graphs it was built from: "" -> the model as
    specialised (decided Ifs inlined, its opset converted where needed), and
    for every If left to run time, at any depth, the scope of each branch
    (``_core.branch_scope``, joined) -> that branch as a model of its own
    (the outer values it reads as inputs, the constants among them as
    initializers: ``subgraph_model``) as specialised. For tools that must
    name what the Network names (the Q/DQ export)."""
    graphs: Dict[str, onnx.ModelProto] = {}
    token = _IMPORTED_GRAPHS.set(graphs)
    try:
        return import_onnx_model(model, None), graphs
    finally:
        _IMPORTED_GRAPHS.reset(token)


def _import_graph(proto: onnx.ModelProto, opset: int, source: str, subgraph: bool = False) -> Network:
    """The checked, specialised model as a Network (also each control-flow subgraph, as a model of its
    own: then an input without a shape is one of any rank)."""
    initializers = {t.name: t for t in proto.graph.initializer}
    _check_nodes(proto.graph, opset, initializers, source)
    declared = [_declare_input(vi, source, subgraph) for vi in proto.graph.input if vi.name not in initializers]
    dynamic = any(dims and dims[0] == -1 for _, dims, _ in declared)
    batch_symbol = _batch_symbol(proto, initializers)
    constants = _initializer_arrays(initializers, source)
    outputs = [vi.name for vi in proto.graph.output]
    count = len(proto.graph.node)
    for _ in range(_MAX_FOLD_PASSES):
        shapes, dtypes, symbols = _inferred_shapes(proto, source)
        folder = Folder(opset, constants, shapes.get, dynamic, symbols.get, batch_symbol)
        folded = folder.run(proto.graph.node, outputs)
        if len(folded.nodes) == len(proto.graph.node):
            break
        # A folded shape chain may let ONNX shape inference size more
        # tensors (a Reshape's target is now constant): infer and fold again.
        proto, constants = _refolded(proto, folded), folded.constants
        logger.debug("onnx import %s: fold pass kept %d nodes", source, len(folded.nodes))
    logger.debug("onnx import %s: %d of %d nodes folded into constants", source, count - len(folded.nodes), count)
    outer = OuterScope(source, proto, _shape_of(shapes, folder.values), symbols.get,
                       _elem_type_of(dtypes, folder.values))
    emitter = _Emitter(source, opset, shapes, dtypes, folder.values, dynamic, outer)
    return emitter.emit(declared, folded.nodes, proto.graph.output)


def _shape_of(shapes: Dict[str, Dims], values: Dict[str, Any]):
    """name -> its dims (from shape inference, or a constant's shape), None where unknown."""
    def shape(name: str) -> Optional[Dims]:
        v = values.get(name)
        return list(v.shape) if isinstance(v, np.ndarray) else shapes.get(name)
    return shape


def _elem_type_of(dtypes: Dict[str, str], values: Dict[str, Any]):
    """name -> its ONNX element type (from shape inference, or a constant's dtype), None where unknown."""
    by_name = {v: k for k, v in RUNTIME_DTYPES.items()}

    def elem(name: str) -> Optional[int]:
        v = values.get(name)
        if isinstance(v, np.ndarray):
            return helper.np_dtype_to_tensor_dtype(v.dtype)
        return by_name.get(dtypes.get(name, ""))
    return elem


_MAX_FOLD_PASSES = 16  # each pass folds at least one node; real exports settle in a few


def _refolded(proto: onnx.ModelProto, folded: FoldResult) -> onnx.ModelProto:
    """``proto`` with only the kept nodes (inputs redirected) and the
    constants they read as initializers, for the next inference + folding pass."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    g = copy.graph
    del g.node[:], g.initializer[:], g.value_info[:]
    read = set()
    for kept in folded.nodes:
        node = g.node.add()
        node.CopyFrom(kept.node)
        del node.input[:]
        node.input.extend(kept.inputs)
        read.update(kept.inputs)
        read.update(captured_names(kept.node))  # what a subgraph reads by name (``_subgraphs.py``)
    read.update(vi.name for vi in g.output)
    inputs = [vi for vi in g.input if vi.name not in folded.constants]  # an initializer listed as an input
    del g.input[:]
    g.input.extend(inputs)
    g.initializer.extend(numpy_helper.from_array(v, name) for name, v in folded.constants.items() if name in read)
    return copy


def _initializer_arrays(initializers: Mapping[str, onnx.TensorProto], source: str) -> Dict[str, np.ndarray]:
    """The initializers as arrays; one whose bytes do not fill its dims (or whose type has no array) is a
    FormatError naming it (numpy_helper raises ValueError / TypeError, which the checker does not catch)."""
    out = {}
    for name, t in initializers.items():
        try:
            out[name] = numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001  (onnx raises several types for an inconsistent tensor)
            raise FormatError(f"{source}: initializer '{name}' (dims {list(t.dims)}, type {t.data_type}) "
                              f"cannot be read: {first_line(e)}") from e
    return out


def _folder(proto: onnx.ModelProto, opset: int, source: str) -> Folder:
    """A Folder for one pass over ``proto`` (shapes from ONNX shape inference)."""
    initializers = {t.name: t for t in proto.graph.initializer}
    declared = [_declare_input(vi, source, any_rank=True) for vi in proto.graph.input if vi.name not in initializers]
    dynamic = any(dims and dims[0] == -1 for _, dims, _ in declared)
    shapes, _, symbols = _inferred_shapes(proto, source)
    constants = _initializer_arrays(initializers, source)
    return Folder(opset, constants, shapes.get, dynamic, symbols.get, _batch_symbol(proto, initializers))


def _specialized(proto: onnx.ModelProto, opset: int, source: str, input_shapes: Mapping[str, Sequence[int]],
                 input_values: Mapping[str, Any]) -> onnx.ModelProto:
    """The model with fixed input shapes, bound inputs and the Ifs they decide
    inlined (``_specialize.py``); the model itself when there is nothing to do."""
    if not input_shapes and not input_values and not any(n.op_type == "If" for n in proto.graph.node):
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    fix_input_shapes(copy, input_shapes, source)
    bind_input_values(copy, input_values, source)

    def fold(p: onnx.ModelProto) -> Mapping[str, Any]:
        folder = _folder(p, opset, source)
        folder.run(p.graph.node)
        return folder.values

    inline_constant_ifs(copy, fold)
    drop_unused_initializers(copy.graph)
    return copy


def _attr_dict(node: onnx.NodeProto) -> Dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out[a.name] = v
    return out


def _check_nodes(graph: onnx.GraphProto, opset: int, initializers: Dict[str, onnx.TensorProto], source: str) -> None:
    problems = []
    for node in graph.node:
        desc = ops.describe(node.name, node.op_type, node.output)
        if node.domain not in ("", "ai.onnx") and (node.domain, node.op_type) not in ACCEPTED_CONTRIB_OPS:
            problems.append(f"{desc}: domain '{node.domain}' is not supported (only the default ONNX domain)")
            continue
        info = ops.NodeInfo(node.name, node.op_type, list(node.input), list(node.output), _attr_dict(node), opset,
                            lambda n: tuple(initializers[n].dims) if n in initializers else None)
        reason = ops.check_node(info)
        if reason:
            problems.append(f"{desc}: {reason}")
    if problems:
        raise NotSupportedError(f"{source}: {len(problems)} node(s) cannot be imported: " + "; ".join(problems))


def _with_batch(proto: onnx.ModelProto, batch_size: int, initializers: Set[str]) -> onnx.ModelProto:
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    symbols = set()
    for vi in copy.graph.input:
        dims = vi.type.tensor_type.shape.dim
        if vi.name in initializers or not dims:
            continue
        if dims[0].HasField("dim_value"):
            if dims[0].dim_value != batch_size:
                raise InvalidArgumentError(f"input '{vi.name}' has a static batch dimension {dims[0].dim_value}, "
                                           f"batch_size={batch_size} cannot override it")
            continue
        symbols.add(dims[0].dim_param)
        dims[0].dim_value = batch_size
    for vi in list(copy.graph.output) + list(copy.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in symbols:
                d.dim_value = batch_size
    return copy


def _dims(vi: onnx.ValueInfoProto) -> Optional[Dims]:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]


def _batch_symbol(proto: onnx.ModelProto, initializers: Dict[str, onnx.TensorProto]) -> Optional[str]:
    """The symbol (dim_param) every dynamic input's first dimension is named
    by, or None when they have none or disagree."""
    names = {vi.type.tensor_type.shape.dim[0].dim_param for vi in proto.graph.input
             if vi.name not in initializers and vi.type.tensor_type.shape.dim
             and not vi.type.tensor_type.shape.dim[0].HasField("dim_value")}
    return names.pop() if len(names) == 1 and "" not in names else None


def _symbols(vi: onnx.ValueInfoProto) -> List[Optional[str]]:
    return [d.dim_param if d.HasField("dim_param") else None for d in vi.type.tensor_type.shape.dim]


_SHAPE_LIKE = 64  # initializers up to this many elements may be shapes, which inference reads


def _without_weights(proto: onnx.ModelProto) -> onnx.ModelProto:
    """``proto`` for shape inference: initializers too large to be shapes
    become typed graph inputs, so the weights are neither copied nor
    serialized (inference needs their shapes only)."""
    g = proto.graph
    light = onnx.ModelProto(ir_version=proto.ir_version, opset_import=proto.opset_import)
    lg = light.graph
    lg.node.extend(g.node)
    lg.output.extend(g.output)
    lg.value_info.extend(g.value_info)
    declared = {vi.name for vi in g.input}
    lg.input.extend(g.input)
    for t in g.initializer:
        if int(np.prod(t.dims)) <= _SHAPE_LIKE:
            lg.initializer.append(t)
        elif t.name not in declared:
            lg.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return light


def _inferred_shapes(proto: onnx.ModelProto, source: str
                     ) -> Tuple[Dict[str, Dims], Dict[str, str], Dict[str, List[Optional[str]]]]:
    """Every tensor's dims (None where unknown), the symbols naming its
    dynamic dims and, where int8rt has it, its element type, from ONNX shape
    inference."""
    try:
        inferred = onnx.shape_inference.infer_shapes(_without_weights(proto), check_type=False, strict_mode=False,
                                                     data_prop=True)
    except Exception as e:  # onnx raises several types here; all mean the model is inconsistent
        raise FormatError(f"{source}: ONNX shape inference failed: {first_line(e)}") from e
    g = inferred.graph
    shapes, dtypes, symbols = {}, {}, {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = _dims(vi)
        if dims is not None:
            shapes[vi.name] = dims
            symbols[vi.name] = _symbols(vi)
        if vi.type.tensor_type.elem_type in _INPUT_DTYPES:
            dtypes[vi.name] = _INPUT_DTYPES[vi.type.tensor_type.elem_type]
    return shapes, dtypes, symbols


def _declare_input(vi: onnx.ValueInfoProto, source: str, any_rank: bool = False
                   ) -> Tuple[str, Optional[List[int]], str]:
    """(name, dims with -1 where dynamic, dtype); dims None for an input without a
    shape where ``any_rank`` allows one (a subgraph's: Tensor::any_rank)."""
    elem = vi.type.tensor_type.elem_type
    if elem not in _INPUT_DTYPES:
        raise NotSupportedError(f"{source}: input '{vi.name}' has element type "
                                f"{onnx.TensorProto.DataType.Name(elem)}; int8rt takes "
                                f"{', '.join(RUNTIME_DTYPES.values())}")
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        if any_rank:
            return vi.name, None, _INPUT_DTYPES[elem]
        raise InvalidArgumentError(f"{source}: input '{vi.name}' has no shape (not even a rank); int8rt needs "
                                   "the rank of every input")
    # A symbolic or unknown dimension is dynamic (-1): any size at run time,
    # within the optimization profile where the builder is given one.
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in t.shape.dim]
    return vi.name, dims, _INPUT_DTYPES[elem]


def _ir_array(name: str, a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f" or a.dtype == np.dtype("float16"):
        return np.asarray(a, np.float32, order="C")  # not ascontiguousarray: it makes scalars 1-D
    if a.dtype == np.int8 or a.dtype == np.bool_:
        return np.asarray(a, order="C")
    if a.dtype.kind in "biu":
        if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
            raise NotSupportedError(f"constant '{name}': uint64 values beyond int64")
        return np.asarray(a, np.int64, order="C")
    raise NotSupportedError(f"constant '{name}' has dtype {a.dtype}; int8rt constants are numeric")


def _raw_quant_constant(a: np.ndarray) -> np.ndarray:
    """A Q/DQ constant of a storage type (int4 / uint4 / int2 / uint2 weights or zero points, a
    float8 / float4 zero point) as the IR holds it: its values as int64 or float32. The type it
    had is kept in the node's output_dtype (``_Emitter._quant_dtype``)."""
    if a.dtype.kind != "V":
        return a
    if a.dtype.name in _NARROW_INTS:
        return a.astype(np.int64)
    if a.dtype.name.startswith(("float8", "float4")):
        return a.astype(np.float32)
    return a


_NARROW_INTS = frozenset(["int4", "uint4", "int2", "uint2"])


class _Emitter:
    """Builds the Network from the folded graph."""

    def __init__(self, source: str, opset: int, shapes: Dict[str, Dims], dtypes: Dict[str, str],
                 values: Dict[str, Any], dynamic: bool, outer: OuterScope) -> None:
        self.source, self.shapes, self.dtypes, self.values, self.dynamic = source, shapes, dtypes, values, dynamic
        self.opset, self.outer = opset, outer
        self.net = Network()
        self.ids: Dict[str, int] = {}
        self.ctx = ops.EmitContext(opset, shapes.get, self._constant, self._add_constant)

    def _constant(self, name: str) -> Optional[np.ndarray]:
        v = self.values.get(name)
        return v if isinstance(v, np.ndarray) else None

    def _add_constant(self, stem: str, value: np.ndarray) -> str:
        name = self._fresh(stem)
        self.values[name] = value
        return name

    def _tensor(self, name: str, reader: str, reads_constants_raw: bool = False) -> int:
        if not name:
            return -1
        if name in self.ids:
            return self.ids[name]
        v = self.values.get(name)
        if isinstance(v, np.ndarray):
            stored = _ir_array(name, _raw_quant_constant(v) if reads_constants_raw else v)
            if v.dtype in _RUNTIME_FLOAT_CONSTANTS and not reads_constants_raw:
                # a float64 / float16 constant is held as float32 (exact for float16, rounded for
                # float64) and cast back at run time, so its readers see the dtype ONNX declared
                const = self.net.add_constant(self._fresh(f"{name}_float32"), stored)
                self.ids[name] = self.net.add_node("Cast", self._fresh(f"{name}_cast"), [const],
                                                   {"to": _ONNX_FLOAT_TYPES[v.dtype]}, [name])[0]
            else:
                self.ids[name] = self.net.add_constant(name, stored)
            return self.ids[name]
        if isinstance(v, BatchValue):
            raise NotSupportedError(f"{self.source}: {reader} reads '{name}', a value computed from the dynamic "
                                    "batch size; export with a static batch or pass batch_size=")
        raise FormatError(f"{self.source}: {reader} reads '{name}', which nothing produces")

    def emit(self, declared, nodes, graph_outputs) -> Network:
        for name, dims, dtype in declared:
            self.ids[name] = self.net.add_input(name, dims, dtype)
        widened = []
        for kept in nodes:
            if kept.node.op_type in CONTROL_FLOW_OPS:
                self._emit_control_flow(kept.node, list(kept.inputs))
            elif self._via_float32(kept.node.op_type, kept.inputs):
                if any(n and self._dtype_of(n) == "float64" for n in kept.inputs):
                    widened.append(kept.node.name or kept.node.output[0])
                self._emit_via_float32(kept.node, list(kept.inputs))
            else:
                self._emit_node(kept.node, list(kept.inputs))
        if widened:
            logger.warning("%s: %d float64 layer(s) computed in float32 as TensorRT does (inputs rounded to float32, "
                           "results widened exactly), e.g. '%s'", self.source, len(widened), widened[0])
        for vi in graph_outputs:
            self.net.mark_output(self._tensor(vi.name, f"graph output '{vi.name}'"))
        for name, tid in self.ids.items():
            dims = self.shapes.get(name)
            if self.net.tensor(tid)["producer"] < 0:
                continue
            if dims is not None:
                # -1: a dimension shape inference could not fix (it follows
                # the dynamic input dimensions); each run infers it.
                self.net.set_shape(tid, [-1 if d is None else d for d in dims])
            if name in self.dtypes:
                self.net.set_dtype(tid, self.dtypes[name])
        self.net.validate()
        return self.net

    def _dtype_of(self, name: str) -> Optional[str]:
        v = self.values.get(name)
        return v.dtype.name if isinstance(v, np.ndarray) else self.dtypes.get(name)

    def _via_float32(self, op: str, inputs: Sequence[str]) -> bool:
        """The layer of `op` computes these inputs in float32 (ops.FLOAT16_VIA_FLOAT32)."""
        types = {self._dtype_of(n) for n in inputs if n}
        return ((op in ops.FLOAT16_VIA_FLOAT32 and bool(types & set(_VIA_FLOAT32))) or
                (op in ops.BFLOAT16_VIA_FLOAT32 and "bfloat16" in types))

    def _emit_via_float32(self, node: onnx.NodeProto, inputs: List[str]) -> None:
        """A float32-only layer on float16 or float64 tensors (ops.FLOAT16_VIA_FLOAT32): Cast the
        inputs to float32 (exact from float16, rounded once from float64), run the op, Cast its
        outputs back (float16: rounded once; float64: exact)."""
        base = node.name or node.output[0]
        for i, name in enumerate(inputs):
            value = self._constant(name) if name else None
            if value is not None and value.dtype.name in _VIA_FLOAT32:  # weights: a float32 constant
                inputs[i] = self._add_constant(f"{name}_float32", value.astype(np.float32))
            elif name and self._dtype_of(name) in _VIA_FLOAT32:
                wide = self._fresh(f"{name}_float32")
                self.ids[wide] = self.net.add_node("Cast", self._fresh(f"{base}_in{i}_to_float32"),
                                                   [self._tensor(name, base)], {"to": onnx.TensorProto.FLOAT},
                                                   [wide])[0]
                self.shapes[wide], self.dtypes[wide] = self.shapes.get(name), "float32"
                inputs[i] = wide
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        narrow = {}
        for i, name in enumerate(node.output):
            if name and self.dtypes.get(name) in _VIA_FLOAT32:
                wide = self._fresh(f"{name}_float32")
                copy.output[i] = wide
                self.shapes[wide], self.dtypes[wide] = self.shapes.get(name), "float32"
                narrow[wide] = name
        self._emit_node(copy, inputs)
        for wide, name in narrow.items():
            to = self.dtypes[name]
            self.ids[name] = self.net.add_node("Cast", self._fresh(f"{base}_{name}_to_{to}"), [self.ids[wide]],
                                               {"to": _VIA_FLOAT32[to]}, [name])[0]

    def _emit_node(self, node: onnx.NodeProto, inputs: List[str]) -> None:
        desc = ops.describe(node.name, node.op_type, node.output)
        attrs = _attr_dict(node)
        outputs = list(node.output)
        ops.normalize(desc, node.op_type, attrs, inputs, outputs, self.ctx)  # may turn attributes into inputs
        for key, v in attrs.items():
            if not isinstance(v, (int, float, str)) and not (
                    isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)):
                raise NotSupportedError(f"{self.source}: {desc}: attribute '{key}' of type "
                                        f"{type(v).__name__} is not supported")
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            self._quant_dtype(node.op_type, attrs, inputs)
        while inputs and not inputs[-1]:
            inputs.pop()
        while outputs and not outputs[-1]:
            outputs.pop()
        lifted = ops.lift_1d(desc, node.op_type, attrs, inputs, self.ctx)
        if lifted:  # [N, C, L] -> [N, C, 1, L] -> the 2-D op -> [N, C', L']
            base = node.name or outputs[0]
            axis = self._tensor(self._add_constant(f"{outputs[0]}_axis2", np.array([2], np.int64)), desc)
            inputs[0] = self._internal_node("Unsqueeze", f"{base}_to_2d",
                                            [self._tensor(inputs[0], desc), axis], f"{inputs[0]}_2d")
            results = list(outputs)  # every output (MaxPool's Indices too) is squeezed back
            outputs = [self._fresh(f"{o}_2d") if o else o for o in outputs]
        raw = node.op_type in _READS_CONSTANTS_RAW
        ids = self.net.add_node(node.op_type, node.name, self._typed_inputs(node, inputs, desc, raw), attrs, outputs)
        for name, tid in zip(outputs, ids):
            if name:
                self.ids[name] = tid
        if lifted:
            for k, (result, tid) in enumerate(zip(results, ids)):
                if result:
                    suffix = "" if k == 0 else f"_{k}"
                    self.ids[result] = self.net.add_node("Squeeze", f"{base}_to_1d{suffix}", [tid, axis], {},
                                                         [result])[0]

    def _typed_inputs(self, node: onnx.NodeProto, inputs: List[str], desc: str, raw: bool) -> List[int]:
        """The tensor ids of ``inputs``; a widened integer constant (an int32 one, say: the IR
        holds it as int64) at a position tied to the op's data type is cast back to its ONNX
        dtype at run time, so that it meets run-time tensors of that dtype (_TYPED_INPUTS)."""
        ids = [self._tensor(n, desc, raw) for n in inputs]
        if node.op_type not in _TYPED_INPUTS or all(self._constant(n) is not None for n in inputs if n):
            return ids  # (a node of constants only was folded at import; nothing to meet)
        positions = _TYPED_INPUTS[node.op_type]
        for i, name in enumerate(inputs):
            value = self._constant(name) if name and (positions is None or i in positions) else None
            if value is None or value.dtype not in _WIDENED_INT_CONSTANTS:
                continue
            key = f"{name}_as_{value.dtype.name}"
            if key not in self.ids:  # one Cast per constant and dtype, shared by its readers
                self.ids[key] = self.net.add_node("Cast", self._fresh(f"{name}_cast"), [ids[i]],
                                                  {"to": _WIDENED_INT_CONSTANTS[value.dtype]}, [self._fresh(key)])[0]
            ids[i] = self.ids[key]
        return ids

    def _emit_control_flow(self, node: onnx.NodeProto, inputs: List[str]) -> None:
        """An If, Loop or Scan decided at run time: its subgraphs imported as Networks,
        the outer values they read passed in as captures (``_subgraphs.py``)."""
        desc = ops.describe(node.name, node.op_type, node.output)
        names = captured_names(node)
        constants = {n: self._constant(n) for n in names if self._constant(n) is not None}
        captures = [n for n in names if n not in constants]
        declared = [capture_info(n, self.outer, desc) for n in captures]
        graphs, attrs = split_attributes(node)
        for key, graph in graphs:
            reader = f"{desc} {key}"
            formal = formal_inputs(node, graph, self.outer, reader)
            model = subgraph_model(graph, formal, declared, constants, self.outer)
            source = f"{self.source}: {reader}"
            model = _specialized(model, self.opset, source, {}, {})
            scope = _SCOPE.get() + _core.branch_scope(node.name, key)
            graphs = _IMPORTED_GRAPHS.get()
            if graphs is not None and node.op_type == "If":
                graphs[scope] = model
            token = _SCOPE.set(scope)
            try:
                attrs[key] = _import_graph(model, self.opset, source, subgraph=True)
            finally:
                _SCOPE.reset(token)
        if node.op_type != "If":
            attrs[CAPTURES_ATTR] = len(captures)
        ids = [self._tensor(n, desc) for n in inputs] + [self._tensor(n, desc) for n in captures]
        for name, tid in zip(node.output, self.net.add_node(node.op_type, node.name, ids, attrs, list(node.output))):
            if name:
                self.ids[name] = tid

    def _fresh(self, stem: str) -> str:
        name, k = stem, 0
        while name in self.values or name in self.shapes or name in self.ids:
            k += 1
            name = f"{stem}_{k}"
        return name

    def _internal_node(self, op: str, name: str, input_ids: List[int], output_stem: str) -> str:
        """Adds a node the importer needs (the 1-D lifting); returns its output's name."""
        out = self._fresh(output_stem)
        self.ids[out] = self.net.add_node(op, name, input_ids, {}, [out])[0]
        return out

    def _quant_dtype(self, op: str, attrs: Dict[str, Any], inputs: List[str]) -> None:
        """Records the quantized type (int8 / uint8), which the IR's int64 zero points lose."""
        zero_point = self._constant(inputs[2]) if len(inputs) > 2 and inputs[2] else None
        x = self._constant(inputs[0]) if op == "DequantizeLinear" else None
        if zero_point is not None:
            attrs["int8rt_quant_dtype"] = zero_point.dtype.name
        elif x is not None:
            attrs["int8rt_quant_dtype"] = x.dtype.name
        elif op == "QuantizeLinear":
            attrs["int8rt_quant_dtype"] = "uint8"
        # The run-time layers read ONNX's output_dtype: a constant zero point is held as int64 and a
        # float16 / float64 scale as float32 (read raw), so the type they carried is written there.
        scale = self._constant(inputs[1]) if len(inputs) > 1 and inputs[1] else None
        if "output_dtype" not in attrs:
            if op == "QuantizeLinear" and zero_point is not None:
                attrs["output_dtype"] = helper.np_dtype_to_tensor_dtype(zero_point.dtype)
            elif op == "DequantizeLinear" and scale is not None and scale.dtype in _ONNX_FLOAT_TYPES:
                attrs["output_dtype"] = _ONNX_FLOAT_TYPES[scale.dtype]
