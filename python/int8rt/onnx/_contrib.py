"""ONNX Runtime's com.microsoft quantization ops at import, and quantize_dynamic's MatMul pattern.

``quantize_dynamic`` (onnxruntime.quantization) and ONNX Runtime's own graph fusions emit contrib
ops. The engine runs two of them as they are (``ACCEPTED_CONTRIB_OPS``; the importer's domain check
lets them through):

* ``MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias)``:
  ``float(acc) * (a_scale * b_scale) + bias`` with ``acc`` MatMulInteger's exact product
  (engine/ops/matmul_integer.cc), as ONNX Runtime's kernel
  (contrib_ops/cpu/quantization/matmul_integer_to_float.cc);
* ``DynamicQuantizeLSTM``: X and each step's h quantized to uint8, u8 x s8 GEMMs, the float32
  LSTM cell, as ONNX Runtime computes it (engine/ops/dynamic_quant_rnn_gemms.h).

One more is rewritten into the ops that define it (``CONTRIB_OPS``):

* ``DynamicQuantizeMatMul(A, B, b_scale, b_zero_point, bias)`` -> ``DynamicQuantizeLinear(A)`` ->
  ``MatMulIntegerToFloat``.

And quantize_dynamic's spelling of a MatMul in standard ops, ``MatMulInteger -> Cast(float) ->
Mul(s)`` (``-> Add(bias)``, a constant 1-D bias), becomes ``MatMulIntegerToFloat(A, B, 1, s, a_zp,
b_zp, bias)`` (``fuse_integer_matmuls``): ``float(acc) * (1 * s) + bias`` is the same float32
arithmetic as the chain (1 * s == s exactly), without the int32 tensor, the Cast and the Mul
between. Only where ``s`` is known to hold 1 or N values (a DynamicQuantizeLinear scale times a
constant of at most one dimension) and each link has one reader.

Other com.microsoft ops are left as they are and refused by the importer's domain check.
"""
from __future__ import annotations

from typing import List, Optional

import onnx
from onnx import helper

__all__ = ["ACCEPTED_CONTRIB_OPS", "CONTRIB_OPS", "lower_contrib_ops"]

CONTRIB_OPS = frozenset(["DynamicQuantizeMatMul"])
# com.microsoft ops the engine runs as they are (the importer's domain check lets them through).
ACCEPTED_CONTRIB_OPS = frozenset([("com.microsoft", "DynamicQuantizeLSTM"), ("com.microsoft", "MatMulIntegerToFloat")])
_MS = "com.microsoft"


class _Names:
    def __init__(self, graph: onnx.GraphProto) -> None:
        self.used = {t.name for t in graph.initializer} | {n for node in graph.node for n in
                                                          list(node.input) + list(node.output)}
        self.used |= {v.name for v in graph.input} | {v.name for v in graph.output}

    def fresh(self, stem: str) -> str:
        name, k = stem, 0
        while name in self.used:
            k += 1
            name = f"{stem}_{k}"
        self.used.add(name)
        return name


def _inputs(node: onnx.NodeProto, count: int) -> List[str]:
    return list(node.input) + [""] * (count - len(node.input))


def _matmul_to_float(name: str, inputs: List[str], output: str) -> onnx.NodeProto:
    while inputs and not inputs[-1]:
        inputs = inputs[:-1]
    return helper.make_node("MatMulIntegerToFloat", inputs, [output], name=name, domain=_MS)


def lower_contrib_ops(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The model with CONTRIB_OPS rewritten and quantize_dynamic's MatMul chains fused (module
    docstring); the same object when there is nothing to do."""
    proto = _lower_dynamic_quantize_matmul(proto)
    return fuse_integer_matmuls(proto)


def _with_ms_opset(model: onnx.ModelProto) -> None:
    if not any(o.domain == _MS for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_MS, 1))


def _lower_dynamic_quantize_matmul(proto: onnx.ModelProto) -> onnx.ModelProto:
    if not any(n.domain == _MS and n.op_type in CONTRIB_OPS for n in proto.graph.node):
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    graph = copy.graph
    names = _Names(graph)
    nodes: List[onnx.NodeProto] = []
    for node in graph.node:
        if node.domain != _MS or node.op_type not in CONTRIB_OPS:
            nodes.append(node)
            continue
        a, b, b_s, b_z, bias = _inputs(node, 5)
        base = node.name or node.output[0]
        q, q_s, q_z = (names.fresh(f"{base}_{s}") for s in ("a_quantized", "a_scale", "a_zero_point"))
        nodes.append(helper.make_node("DynamicQuantizeLinear", [a], [q, q_s, q_z],
                                      name=names.fresh(f"{base}_DynamicQuantizeLinear")))
        nodes.append(_matmul_to_float(names.fresh(f"{base}_MatMulIntegerToFloat"),
                                      [q, b, q_s, b_s, q_z, b_z, bias], node.output[0]))
    del graph.node[:]
    graph.node.extend(nodes)
    return copy


def fuse_integer_matmuls(proto: onnx.ModelProto) -> onnx.ModelProto:
    """MatMulInteger -> Cast(float) -> Mul(s) [-> Add(bias)] as one MatMulIntegerToFloat (module
    docstring); the same object when no chain qualifies."""
    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    order = list(graph.node)
    index = {}  # output name -> position in order
    readers: dict = {}
    for k, node in enumerate(order):
        for o in node.output:
            index[o] = k
        for i in node.input:
            readers.setdefault(i, []).append(node)
    outputs = {o.name for o in graph.output}
    producer = {o: n for n in order for o in n.output}

    def only_reader(tensor: str, op: str) -> Optional[onnx.NodeProto]:
        r = readers.get(tensor, [])
        return r[0] if len(r) == 1 and r[0].op_type == op and r[0].domain in ("", "ai.onnx") and \
            tensor not in outputs else None

    def at_most_1d(name: str) -> bool:
        if name in inits:
            return len(inits[name].dims) <= 1
        p = producer.get(name)
        return p is not None and p.op_type == "DynamicQuantizeLinear" and p.output[1] == name

    chains = []
    for mm in order:
        if mm.op_type != "MatMulInteger" or mm.domain not in ("", "ai.onnx"):
            continue
        cast = only_reader(mm.output[0], "Cast")
        to = [helper.get_attribute_value(a) for a in cast.attribute if a.name == "to"] if cast is not None else []
        if to != [onnx.TensorProto.FLOAT]:
            continue
        mul = only_reader(cast.output[0], "Mul")
        if mul is None:
            continue
        scale = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
        sp = producer.get(scale)
        scalar_like = at_most_1d(scale) or (sp is not None and sp.op_type == "Mul" and
                                            all(at_most_1d(i) for i in sp.input))
        if not scalar_like:
            continue
        add = only_reader(mul.output[0], "Add")
        bias = ""
        if add is not None:
            other = add.input[1] if add.input[0] == mul.output[0] else add.input[0]
            if other in inits and len(inits[other].dims) == 1 and inits[other].data_type == onnx.TensorProto.FLOAT:
                bias = other
            else:
                add = None
        chains.append((mm, cast, mul, add, scale, bias))
    if not chains:
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    names = _Names(copy.graph)
    one = names.fresh("int8rt_one_float32")
    copy.graph.initializer.append(helper.make_tensor(one, onnx.TensorProto.FLOAT, [], [1.0]))
    drop, replace = set(), {}
    for mm, cast, mul, add, scale, bias in chains:
        a, b, a_z, b_z = _inputs(mm, 4)
        last = add if add is not None else mul
        fused = _matmul_to_float(mm.name or last.output[0], [a, b, one, scale, a_z, b_z, bias], last.output[0])
        drop.update(index[n.output[0]] for n in (mm, cast, mul) + ((add,) if add is not None else ()))
        replace[index[last.output[0]]] = fused
    nodes = []
    for k, node in enumerate(copy.graph.node):
        if k in replace:
            nodes.append(replace[k])
        elif k not in drop:
            nodes.append(node)
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    _with_ms_opset(copy)
    return copy
