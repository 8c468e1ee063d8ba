"""ONNX Runtime's com.microsoft quantization ops, rewritten into standard ONNX ops at import.

``quantize_dynamic`` (onnxruntime.quantization) and ONNX Runtime's own graph
fusions emit contrib ops. Two become the standard ops that define them, so the
rest of the importer and the engine see only the default domain:

* ``MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias)``
  -> ``MatMulInteger(A, B, a_zp, b_zp)`` -> ``Cast(float)`` -> ``Mul(a_scale * b_scale)``
  (-> ``Add(bias)``): ONNX Runtime's kernel forms ``float(acc) * (a_scale * b_scale) + bias``,
  the same float32 operations in the same order (contrib_ops/cpu/quantization/matmul_integer_to_float.cc).
* ``DynamicQuantizeMatMul(A, B, b_scale, b_zero_point, bias)``: ``DynamicQuantizeLinear(A)``,
  then the MatMulIntegerToFloat chain above.

``DynamicQuantizeLSTM`` (what quantize_dynamic makes of an LSTM) is not rewritten: the engine runs it
as ONNX Runtime does (engine/ops/dynamic_quant_rnn_gemms.h: X and each step's h quantized to uint8,
u8 x s8 GEMMs, the float32 LSTM cell), and the importer accepts it in the com.microsoft domain
(``ACCEPTED_CONTRIB_OPS``).

Other com.microsoft ops are left as they are and refused by the importer's domain check.
"""
from __future__ import annotations

from typing import List

import onnx
from onnx import helper

__all__ = ["ACCEPTED_CONTRIB_OPS", "CONTRIB_OPS", "lower_contrib_ops"]

CONTRIB_OPS = frozenset(["MatMulIntegerToFloat", "DynamicQuantizeMatMul"])
# com.microsoft ops the engine runs as they are (the importer's domain check lets them through).
ACCEPTED_CONTRIB_OPS = frozenset([("com.microsoft", "DynamicQuantizeLSTM")])
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


def _integer_to_float(node: onnx.NodeProto, a: str, b: str, a_scale: str, b_scale: str, a_zp: str, b_zp: str,
                      bias: str, names: _Names) -> List[onnx.NodeProto]:
    base = node.name or node.output[0]
    acc, acc_f, scale, prod = (names.fresh(f"{base}_{s}") for s in ("int32", "float", "scale", "scaled"))
    out = node.output[0]
    nodes = [
        helper.make_node("MatMulInteger", [a, b, a_zp, b_zp], [acc], name=names.fresh(f"{base}_MatMulInteger")),
        helper.make_node("Cast", [acc], [acc_f], to=onnx.TensorProto.FLOAT, name=names.fresh(f"{base}_Cast")),
        helper.make_node("Mul", [a_scale, b_scale], [scale], name=names.fresh(f"{base}_scales")),
        helper.make_node("Mul", [acc_f, scale], [prod if bias else out], name=names.fresh(f"{base}_Mul")),
    ]
    if bias:
        nodes.append(helper.make_node("Add", [prod, bias], [out], name=names.fresh(f"{base}_bias")))
    while nodes[0].input and not nodes[0].input[-1]:
        del nodes[0].input[-1]
    return nodes


def lower_contrib_ops(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The model with CONTRIB_OPS rewritten (module docstring); the same object when it has none."""
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
        elif node.op_type == "MatMulIntegerToFloat":
            a, b, a_s, b_s, a_z, b_z, bias = _inputs(node, 7)
            nodes += _integer_to_float(node, a, b, a_s, b_s, a_z, b_z, bias, names)
        elif node.op_type == "DynamicQuantizeMatMul":
            a, b, b_s, b_z, bias = _inputs(node, 5)
            base = node.name or node.output[0]
            q, q_s, q_z = (names.fresh(f"{base}_{s}") for s in ("a_quantized", "a_scale", "a_zero_point"))
            nodes.append(helper.make_node("DynamicQuantizeLinear", [a], [q, q_s, q_z],
                                          name=names.fresh(f"{base}_DynamicQuantizeLinear")))
            nodes += _integer_to_float(node, q, b, q_s, b_s, q_z, b_z, bias, names)
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(n.domain == _MS for n in graph.node):
        keep = [o for o in copy.opset_import if o.domain != _MS]
        del copy.opset_import[:]
        copy.opset_import.extend(keep)
    return copy
