"""What an INT8 engine holds, in the ONNX model's terms, for the Q/DQ export
(:mod:`int8rt.qdq_export`): each int8 tensor's grid and each weight layer's
weights and bias as the engine computes with them.

Read from two things the engine exposes and nothing else:

- its int8 plan (``Engine.int8_plan()``, ``csrc/include/int8rt/int8_plan.h``):
  per tensor the scale, zero point (-128: an unsigned activation; other
  values: a table output's asymmetric grid) or per-channel scales (axis 1,
  ``csrc/engine/lower_int8_channel_grids.cc``), its producer and its int8
  readers; per layer the ONNX nodes it computes;
- its lowered network (``_core.Engine.network()``): the int8 weights
  (canonical OIHW / [N, K]), ``w_scales`` and float bias of each
  ``int8rt.QConv`` / ``int8rt.QGemm``, and the float weights of each float
  Conv / Gemm / MatMul. These are the weights after everything the build did
  to them: BatchNormalization and constant Mul / Add folded in
  (``csrc/graph/passes/fold_batchnorm.cc``, ``fold_scale_bias.cc``),
  cross-layer equalization (``accuracy/equalize.py``), bias correction
  (``accuracy/bias_correction.py``) and, for a Conv reading a per-channel
  grid at scale 1, the input channels' scales folded into its float weights
  before quantization (the channel-grid lowering's SmoothQuant migration).

Such a Conv computes ``sum_c q_w[o, c] * q_x[c] * w_scale[o] * in_scale``
from the int8 codes ``q_x[c] = x[c] / s[c]``; the Q/DQ model dequantizes
``x`` to ``s[c] * q_x[c]``, so its effective weights are
``w_scale[o] * q_w[o, c] * in_scale / s[c]``: :attr:`LayerWeights.in_factors`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ._errors import Error

__all__ = ["LayerWeights", "TensorGrid", "layer_weights", "tensor_grids"]

_INT8_WEIGHT_OPS = ("int8rt.QConv", "int8rt.QGemm")
_FLOAT_WEIGHT_OPS = ("Conv", "Gemm", "MatMul")


@dataclass(frozen=True)
class TensorGrid:
    """An int8 tensor's grid: ``value = scale * (code - zero_point)`` with
    ``scale`` one float (``channel_scales`` empty) or one per channel of
    axis 1 (``channel_scales``, zero point 0)."""

    scale: float
    zero_point: int
    channel_scales: tuple[float, ...] = ()


@dataclass(frozen=True)
class LayerWeights:
    """The weights of one ONNX Conv / Gemm / MatMul as the engine computes
    with them, in the ONNX node's own weight layout.

    ``q`` int8 with ``scales`` (float32, one per output channel) for an int8
    layer, or ``q`` None and ``w`` float32 for a float one; ``bias`` float32
    per output channel (None: none); ``in_factors`` float32 per input channel
    that the dequantized weights are multiplied by (None: all 1; see the
    module docstring); ``computes``: the other ONNX nodes the engine's layer
    computes with it (a MatMul's bias Add), whose arithmetic is in ``bias``."""

    q: Optional[np.ndarray]
    scales: Optional[np.ndarray]
    w: Optional[np.ndarray]
    bias: Optional[np.ndarray]
    in_factors: Optional[np.ndarray] = None
    computes: frozenset[str] = frozenset()


def tensor_grids(plan: Any) -> dict[str, TensorGrid]:
    """Source tensor name -> its grid, for every tensor of ``plan``."""
    return {t.tensor: TensorGrid(float(np.float32(t.scale)), int(t.zero_point),
                                 tuple(float(np.float32(s)) for s in t.channel_scales))
            for t in plan.tensors}


def layer_weights(lowered: Any, plan: Any, onnx_nodes: dict[str, Any], constants: dict[str, np.ndarray],
                  source: str) -> dict[str, LayerWeights]:
    """ONNX node name -> :class:`LayerWeights` for every Conv / Gemm / MatMul
    of the model whose weights the engine holds (int8 layers, merged 1x1
    Convs split back by output channel; float layers by name). ``constants``:
    the model's initializers and Constant outputs, for the weight shapes;
    ``source``: the model, named in errors."""
    tensors = lowered.tensors()
    channel_in = {t.int8_tensor: np.asarray(t.channel_scales, np.float32) for t in plan.tensors if t.channel_scales}
    sources = {layer.name: list(layer.sources) for layer in plan.layers}
    out: dict[str, LayerWeights] = {}
    for node in lowered.nodes():
        op, attrs, ins = node["op"], node["attrs"], node["inputs"]
        if op in _INT8_WEIGHT_OPS:
            computed = sources.get(node["name"], [node["name"]])
            names = [n for n in computed if n in onnx_nodes and onnx_nodes[n].op_type in _FLOAT_WEIGHT_OPS]
            if not names or any(n in onnx_nodes and onnx_nodes[n].op_type == "ConvTranspose" for n in computed):
                continue  # a layer the export keeps to the formula (ConvTranspose) or that has no ONNX twin
            q = np.asarray(lowered.constant_data(ins[1])).astype(np.int8).reshape(tensors[ins[1]]["shape"])
            scales = np.asarray(attrs["w_scales"], np.float32).reshape(-1)
            bias = _bias(lowered, ins, q.shape[0], source)
            factors = None
            x_name = tensors[ins[0]]["name"]
            if x_name in channel_in and "in_scales" not in attrs:  # the grid folded into the weights
                factors = np.float32(attrs["in_scale"]) / channel_in[x_name]
            start = 0
            for name in names:
                n_out = _out_channels(onnx_nodes[name], constants)
                rows = slice(start, start + n_out)
                start += n_out
                out[name] = LayerWeights(_to_onnx_layout(q[rows], onnx_nodes[name], constants), scales[rows], None,
                                         None if bias is None else bias[rows], factors,
                                         frozenset(computed) - set(names))
            if start != q.shape[0]:
                raise Error(f"{source}: layer '{node['name']}': {q.shape[0]} output channels in the engine, "
                            f"{start} in the ONNX nodes {names}")
        elif op in _FLOAT_WEIGHT_OPS and node["name"] in onnx_nodes and len(ins) > 1 and ins[1] >= 0 \
                and tensors[ins[1]]["is_constant"] and tensors[ins[1]]["dtype"] == "float32" \
                and onnx_nodes[node["name"]].op_type == op:
            onnx_node = onnx_nodes[node["name"]]
            w = np.asarray(lowered.constant_data(ins[1]), np.float32).reshape(tensors[ins[1]]["shape"])
            if onnx_node.input[1] not in constants or w.shape != constants[onnx_node.input[1]].shape:
                continue  # weights the build re-laid out; the model's own then stand
            n_out = w.shape[0] if op == "Conv" else _out_channels(onnx_node, constants)
            if len(ins) > 2 and ins[2] >= 0 and (not tensors[ins[2]]["is_constant"] or
                                                 np.asarray(lowered.constant_data(ins[2])).size not in (1, n_out)):
                continue  # a computed bias, or a Gemm's C of [M, N]: the model's own stands
            out[node["name"]] = LayerWeights(None, None, w, _bias(lowered, ins, n_out, source))
    return out


def _bias(lowered: Any, ins: list[int], n_out: int, source: str) -> Optional[np.ndarray]:
    if len(ins) < 3 or ins[2] < 0:
        return None
    b = np.asarray(lowered.constant_data(ins[2]), np.float32).reshape(-1)
    if b.size not in (1, n_out):
        raise Error(f"{source}: the engine's bias '{lowered.tensors()[ins[2]]['name']}' has {b.size} values for "
                    f"{n_out} output channels")
    return np.broadcast_to(b, (n_out,)).copy()


def _attr(node: Any, name: str, default: int) -> int:
    return next((a.i for a in node.attribute if a.name == name), default)


def _out_channels(node: Any, constants: dict[str, np.ndarray]) -> int:
    w = constants[node.input[1]]
    if node.op_type == "Conv":
        return int(w.shape[0])
    if node.op_type == "Gemm":
        return int(w.shape[0] if _attr(node, "transB", 0) else w.shape[1])
    return int(w.shape[-1])  # MatMul [K, N]


def _to_onnx_layout(q: np.ndarray, node: Any, constants: dict[str, np.ndarray]) -> np.ndarray:
    """The engine's [out, ...] int8 weights in the ONNX node's layout."""
    shape = constants[node.input[1]].shape
    if node.op_type == "Conv" or (node.op_type == "Gemm" and _attr(node, "transB", 0)):
        return q.reshape(shape)
    return np.ascontiguousarray(q.reshape(shape[::-1]).T)  # Gemm transB=0 / MatMul: [K, N]
