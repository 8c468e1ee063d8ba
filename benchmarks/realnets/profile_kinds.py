"""Per-layer profiles of int8rt and OpenVINO grouped into the same layer kinds,
so that the time one engine loses against the other can be read per kind.

int8rt's profile (``ExecutionContext.profile``: name, op, precision, detail
= kernel, ms) and OpenVINO's (``openvino_engines.profile``: name, type =
the runtime graph's layerType, exec = kernel, precision, ms) name their
layers differently; ``kind_int8rt`` and ``kind_openvino`` map both onto:

  conv            dense convolutions (int8rt QConv / Conv; OV Convolution)
  depthwise conv  int8rt's dw kernels; OV GroupConvolution
  matmul/gemm     int8rt QGemm / Gemm / MatMul; OV FullyConnected*, MatMul
  element-wise    arithmetic and activations (int8rt's int8 tables QLut and
                  per-channel QChannelMul included; OV Eltwise and Subgraph =
                  its fused snippets)
  quantize/reorder  int8rt Quantize / Dequantize; OV Reorder, Convert,
                  FakeQuantize (layout and precision changes)
  pool/reduce     pooling, global pooling, ReduceMean/Sum/...
  data movement   Reshape, Transpose, Concat, Slice, Split, Pad, Resize
                  (int8rt's QResizeNearest / QResizeBilinear; OV Interpolate), ...
  softmax, norm   Softmax; MVN / LayerNormalization
  other           anything else, under its own op name

OpenVINO fuses activations, bias, residual adds and requantization into
its convolutions, so an "element-wise" row that int8rt has and OpenVINO
lacks is time that the fusion saves.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

_ELTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
            "Tanh", "Erf", "Exp", "Log", "Neg", "Abs", "Max", "Min", "Where", "Equal", "Less", "Greater", "Not",
            "LeakyRelu", "PRelu", "Elu", "Gelu", "Swish", "Mish", "Softplus", "Cast", "Reciprocal", "Floor",
            "Ceil", "Round", "Sign", "Lut", "Add2", "Eltwise", "Subgraph", "Math", "Multiply", "Subtract",
            "Divide", "Power", "Convert", "ChannelMul"}
_MOVE = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Concatenate", "Slice",
         "StridedSlice", "Split", "VariadicSplit", "Pad", "Resize", "Interpolate", "Gather", "Expand",
         "Broadcast", "Tile", "DepthToSpace", "SpaceToDepth", "ShuffleChannels", "Identity", "ShapeOf",
         "ResizeNearest", "ResizeBilinear"}
_POOL = {"MaxPool", "AveragePool", "AvgPool", "GlobalAveragePool", "GlobalMaxPool", "Pooling", "ReduceMean",
         "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2", "Reduce"}
_GEMM = {"Gemm", "MatMul", "FullyConnected", "FullyConnectedQuantizedLegacy", "FullyConnectedQuantized",
         "MatMulInteger"}


def _common(op: str) -> str:
    if op in _GEMM or op.startswith("FullyConnected"):
        return "matmul/gemm"
    if op in _POOL:
        return "pool/reduce"
    if op in _MOVE:
        return "data movement"
    if op == "Softmax":
        return "softmax"
    if op in ("MVN", "LayerNormalization", "RMS", "NormalizeL2"):
        return "norm"
    if op in _ELTWISE:
        return "element-wise"
    return f"other ({op})"


def kind_int8rt(layer: dict) -> str:
    op = layer["op"].split(".")[-1]
    if layer["precision"] == "convert" or op in ("Quantize", "Dequantize"):
        return "quantize/reorder"
    if op.startswith("Q") and op != "QLinearConv":
        op = op[1:]
    if op in ("Conv", "ConvTranspose"):
        return "depthwise conv" if "_dw_" in layer["detail"] or "dwconv_" in layer["detail"] else "conv"
    return _common(op)


def kind_openvino(node: dict) -> str:
    t = node["type"]
    if t in ("Reorder", "FakeQuantize", "Convert"):
        return "quantize/reorder"
    if t in ("Convolution", "Deconvolution", "ConvolutionBackpropData"):
        return "depthwise conv" if "_dw_" in node["exec"] else "conv"
    if t == "GroupConvolution":
        return "depthwise conv"
    return _common(t)


def merge_profiles(profiles: list[list[dict]], how=np.median) -> list[dict]:
    """Per layer (by name, in the first profile's order), ``how`` (median or
    min) of ``ms`` over several profiles of the same engine (taken
    alternately with another engine's, so that a shared machine's load hits
    both alike). On a loaded machine the minimum is the better estimate of
    a layer's unloaded time: load only ever adds to it."""
    times: dict[str, list[float]] = defaultdict(list)
    for p in profiles:
        for layer in p:
            times[layer["name"]].append(layer["ms"])
    return [{**layer, "ms": float(how(times[layer["name"]]))} for layer in profiles[0]]


def by_kind(layers: list[dict], kind) -> dict[str, dict]:
    """kind -> {ms, n, precisions} summed over ``layers``."""
    out: dict[str, dict] = defaultdict(lambda: {"ms": 0.0, "n": 0, "precisions": set()})
    for layer in layers:
        k = out[kind(layer)]
        k["ms"] += layer["ms"]
        k["n"] += 1
        k["precisions"].add(layer["precision"])
    return dict(out)


def compare_table(ours: list[dict], ov: list[dict]) -> list[str]:
    """Markdown rows: kind | int8rt ms (layers, precisions) | OpenVINO ms (nodes,
    precisions) | int8rt - OpenVINO ms; largest loss first, totals last."""
    a, b = by_kind(ours, kind_int8rt), by_kind(ov, kind_openvino)
    empty = {"ms": 0.0, "n": 0, "precisions": set()}
    kinds = sorted(set(a) | set(b), key=lambda k: -(a.get(k, empty)["ms"] - b.get(k, empty)["ms"]))
    rows = ["| layer kind | int8rt ms (layers; precision) | OpenVINO INT8 ms (nodes; precision) | int8rt - OV ms |",
            "|---|---:|---:|---:|"]
    for k in kinds:
        x, y = a.get(k, empty), b.get(k, empty)
        rows.append(f"| {k} | {x['ms']:.3f} ({x['n']}; {'/'.join(sorted(x['precisions'])) or '-'}) | "
                    f"{y['ms']:.3f} ({y['n']}; {'/'.join(sorted(y['precisions'])) or '-'}) | "
                    f"{x['ms'] - y['ms']:+.3f} |")
    ta, tb = sum(v["ms"] for v in a.values()), sum(v["ms"] for v in b.values())
    rows.append(f"| **sum of layers** | {ta:.3f} ({sum(v['n'] for v in a.values())}) | "
                f"{tb:.3f} ({sum(v['n'] for v in b.values())}) | {ta - tb:+.3f} |")
    return rows


def top_layers(layers: list[dict], n: int, fmt) -> list[str]:
    """The ``n`` slowest layers, each formatted by ``fmt(layer)``."""
    return [f"    {layer['ms']:8.3f} ms  {fmt(layer)}" for layer in sorted(layers, key=lambda l: -l["ms"])[:n]]


def slowest_int8rt(layers: list[dict], n: int, width: int) -> list[str]:
    """:func:`top_layers` of an int8rt profile: kind, precision (``width``
    wide), layer name and kernel detail."""
    return top_layers(layers, n, lambda l: f"{kind_int8rt(l):16s} {l['precision']:{width}s} {l['name']}  [{l['detail']}]")


def slowest_openvino(nodes: list[dict], n: int, width: int) -> list[str]:
    """:func:`top_layers` of an OpenVINO profile: kind, precision, node name,
    its type and the implementation OpenVINO ran."""
    return top_layers(nodes, n, lambda l: f"{kind_openvino(l):16s} {l['precision']:{width}s} {l['name']}  "
                                          f"[{l['type']}: {l['exec']}]")

