"""ONNX Runtime's com.microsoft quantization ops, rewritten into standard ONNX ops at import.

``quantize_dynamic`` (onnxruntime.quantization) and ONNX Runtime's own graph
fusions emit three contrib ops; each becomes the standard ops that define it,
so the rest of the importer and the engine see only the default domain:

* ``MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias)``
  -> ``MatMulInteger(A, B, a_zp, b_zp)`` -> ``Cast(float)`` -> ``Mul(a_scale * b_scale)``
  (-> ``Add(bias)``): ONNX Runtime's kernel forms ``float(acc) * (a_scale * b_scale) + bias``,
  the same float32 operations in the same order (contrib_ops/cpu/quantization/matmul_integer_to_float.cc).
* ``DynamicQuantizeMatMul(A, B, b_scale, b_zero_point, bias)``: ``DynamicQuantizeLinear(A)``,
  then the MatMulIntegerToFloat chain above.
* ``DynamicQuantizeLSTM(X, W, R, B, sequence_lens, initial_h, initial_c, P, W_scale,
  W_zero_point, R_scale, R_zero_point)`` with constant W, R ([directions, input or hidden,
  4 * hidden], per tensor or per output column scales): ``LSTM`` over the dequantized weights
  ``(W - W_zero_point) * W_scale`` (float32, as DequantizeLinear), transposed to ONNX's
  [directions, 4 * hidden, input]. This is the network's weights exactly; ONNX Runtime's kernel
  additionally rounds X and each h_t to uint8 (per tensor, per step) before its int8 GEMMs, so
  its outputs differ from this float32 LSTM by that activation rounding (bounded in
  tests/test_integer_ops.py against ONNX Runtime on the same file).

Other com.microsoft ops are left as they are and refused by the importer's domain check.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .._errors import NotSupportedError

__all__ = ["CONTRIB_OPS", "lower_contrib_ops"]

CONTRIB_OPS = frozenset(["MatMulIntegerToFloat", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM"])
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


def _dequantized(name: str, inits: Dict[str, onnx.TensorProto], scale: str, zp: str, desc: str) -> np.ndarray:
    """(W - zp) * scale in float32 for W [D, rows, cols]; scale / zp per tensor, per direction or per
    direction and column ([D] or [D, cols])."""
    for n in (name, scale) + ((zp,) if zp else ()):
        if n not in inits:
            raise NotSupportedError(f"{desc}: input '{n}' must be a constant (initializer)")
    w = numpy_helper.to_array(inits[name])
    s = numpy_helper.to_array(inits[scale]).astype(np.float32)
    z = numpy_helper.to_array(inits[zp]).astype(np.float32) if zp else np.zeros_like(s)
    d = w.shape[0]
    s, z = s.reshape(d, 1, -1) if s.size > 1 else s.reshape(1, 1, 1), z.reshape(d, 1, -1) if z.size > 1 else z.reshape(1, 1, 1)
    return ((w.astype(np.float32) - z) * s).astype(np.float32)


def _lstm(node: onnx.NodeProto, inits: Dict[str, onnx.TensorProto], names: _Names,
          new_inits: List[onnx.TensorProto]) -> List[onnx.NodeProto]:
    desc = f"node '{node.name or node.output[0]}' (DynamicQuantizeLSTM)"
    x, w, r, b, lens, h0, c0, p, w_s, w_z, r_s, r_z = _inputs(node, 12)
    weights = []
    for q, s, z, stem in ((w, w_s, w_z, "W"), (r, r_s, r_z, "R")):
        value = np.ascontiguousarray(_dequantized(q, inits, s, z, desc).transpose(0, 2, 1))
        name = names.fresh(f"{node.name or node.output[0]}_{stem}_float32")
        new_inits.append(numpy_helper.from_array(value, name))
        weights.append(name)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    lstm = helper.make_node("LSTM", [x, weights[0], weights[1], b, lens, h0, c0, p], list(node.output),
                            name=node.name, **attrs)
    while lstm.input and not lstm.input[-1]:
        del lstm.input[-1]
    return [lstm]


def lower_contrib_ops(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The model with CONTRIB_OPS rewritten (module docstring); the same object when it has none."""
    if not any(n.domain == _MS and n.op_type in CONTRIB_OPS for n in proto.graph.node):
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    graph = copy.graph
    inits = {t.name: t for t in graph.initializer}
    names = _Names(graph)
    new_inits: List[onnx.TensorProto] = []
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
        else:
            nodes += _lstm(node, inits, names, new_inits)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(new_inits)
    if not any(n.domain == _MS for n in graph.node):
        keep = [o for o in copy.opset_import if o.domain != _MS]
        del copy.opset_import[:]
        copy.opset_import.extend(keep)
    return copy
