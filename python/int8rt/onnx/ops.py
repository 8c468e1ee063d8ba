"""The ONNX operators int8rt imports, their attribute checks and normalisation.

This is the one place that says what the importer accepts:

* ``SUPPORTED_OPS``: ops that become IR nodes (same op type, attributes
  converted). Anything else is refused before any work is done, with an
  error naming the node, its op type and what is unsupported.
* ``FOLD_ONLY_OPS``: ops PyTorch exporters emit for shape arithmetic. They are
  accepted only when constant folding (``_fold.py``) removes them; one that
  is left computing on run-time data is refused, naming the node.

Each supported op may have a cheap up-front check (``check_node``: things
visible in attributes and initializer shapes, such as a 3-D Conv kernel or
Resize's antialias) and a normalisation applied when the node is emitted
(``normalize``). The IR has no opset, so normalisation rewrites the
opset-dependent forms into the form of the newest opset (ONNX 1.14+ spec):

* Squeeze / Unsqueeze (opset < 13): ``axes`` attribute -> constant input 1;
* Split (opset < 13): ``split`` attribute -> constant input 1;
* ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
  ReduceSumSquare (opset < 18), ReduceSum (opset < 13): ``axes`` attribute -> constant input 1;
* Softmax, LogSoftmax (opset < 13, "coerced to 2-D" semantics): over the last axis
  rewritten to ``axis=-1`` (identical there); otherwise kept with ``coerce_2d=1`` (the
  layer flattens the axes from ``axis`` on), which needs no rank at import;
* Conv / MaxPool / AveragePool ``auto_pad`` (SAME_UPPER, SAME_LOWER, VALID)
  -> explicit ``pads`` computed as the ONNX spec defines them; a strided SAME
  pad over a dynamic dimension stays ``auto_pad``, resolved by the float
  layer on every run;
* ConstantOfShape: the ``value`` tensor attribute (the IR has no tensor
  attributes) -> a one-element constant input 1, whose dtype is the output's
  (an int32 value becomes int64: the IR's integer constants are int64).

If, Loop and Scan are imported with their subgraphs as Networks of their own
(``_subgraphs.py``; an If whose condition is known at import is inlined
instead, ``_specialize.py``); the nodes inside are checked when their
subgraph is imported, against these same tables.

One-dimensional Conv, ConvTranspose, MaxPool and AveragePool ([N, C, L]) are
lifted to two dimensions with H = 1 (``lift_1d``: the importer writes
Unsqueeze(axis 2) -> the 2-D op -> Squeeze(axis 2), weights [.., k] ->
[.., 1, k]), as TensorRT's ONNX parser does, so they run on the 2-D float and
int8 kernels. The arithmetic is the 1-D op's: every window has height 1.
Three-dimensional Conv, ConvTranspose, MaxPool and AveragePool ([N, C, D, H, W])
run on the float32 layers (no int8 kernel).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["SUPPORTED_OPS", "FOLD_ONLY_OPS", "FLOAT16_VIA_FLOAT32", "BFLOAT16_VIA_FLOAT32", "NodeInfo", "check_node", "normalize", "describe", "lift_1d",
           "CONFORMANCE_EXCEPTIONS"]

SUPPORTED_OPS = frozenset([
    "Conv", "ConvTranspose", "BatchNormalization", "Gemm", "MatMul",
    "Add", "Sub", "Mul", "Div",
    "Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu",
    "Softmax", "LayerNormalization",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "Flatten", "Reshape", "Transpose", "Concat", "Split", "Slice", "Squeeze", "Unsqueeze", "Pad",
    "Resize", "Upsample", "ReduceMean",
    "Identity", "Dropout", "Constant", "Cast", "Pow", "Sqrt",
    "QuantizeLinear", "DequantizeLinear",
    "Exp", "Log", "Abs", "Neg", "Reciprocal", "Sin", "Cos", "Sign", "Floor", "Ceil", "Round",
    "Softplus", "Softsign", "Mish", "Elu", "Selu", "LogSoftmax",
    "Min", "Max", "Sum", "Mean", "ReduceSum", "ReduceMax", "ReduceMin",
    "InstanceNormalization", "GroupNormalization", "DepthToSpace", "SpaceToDepth",
    "Gather", "Shape", "Expand", "LSTM", "GRU", "RNN",
    "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor", "Not", "Where",
    "IsNaN", "IsInf", "ConstantOfShape", "Range",
    "Trilu", "ArgMax", "ArgMin", "CumSum", "GatherElements", "GatherND", "Mod", "Tile", "Size", "TopK", "ScatterND", "ScatterElements", "ReduceL1", "ReduceL2", "ReduceSumSquare",
    "CastLike", "LpNormalization", "ReduceProd", "Einsum",
    "If", "Loop", "Scan",  # decided at run time; subgraphs imported as Networks (_subgraphs.py)
    # integer ops (quantize_dynamic's, older integer-op files): engine/ops/matmul_integer.cc, conv_integer.cc
    "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv",
    "DynamicQuantizeLSTM", "MatMulIntegerToFloat",  # com.microsoft (_contrib.ACCEPTED_CONTRIB_OPS)
])

# Ops whose layers compute in float32 only. On float16 tensors the importer
# wraps them in Casts (float16 -> float32 is exact; the result is rounded once
# to float16), which is engine/dtypes.h's float16 rule: computed in float32,
# rounded once. float64 tensors take the same Casts, as TensorRT computes
# float64 models in float32 (the import logs a warning naming them): the
# inputs (and float64 weights) are rounded once to float32 (relative error
# <= 2^-24), the op computes in float32 and the result widens exactly, so an
# op agrees with float64 arithmetic to float32 precision (tests/test_float64_layers.py).
FLOAT16_VIA_FLOAT32 = frozenset([
    "Conv", "ConvTranspose", "BatchNormalization", "Gemm", "MatMul", "Relu", "LeakyRelu", "PRelu", "Sigmoid",
    "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu", "Softmax", "LogSoftmax", "LayerNormalization",
    "InstanceNormalization", "GroupNormalization", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "Resize", "Upsample", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
    "ReduceL2", "ReduceSumSquare", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Sin", "Cos", "Sign",
    "Floor", "Ceil", "Round", "Softplus", "Softsign", "Mish", "Elu", "Selu", "LpNormalization", "LSTM", "GRU",
    "RNN", "Range",
])

# Ops whose layers take float16 and float64 themselves but not bfloat16 (a
# storage type): on bfloat16 tensors they take FLOAT16_VIA_FLOAT32's Casts.
BFLOAT16_VIA_FLOAT32 = FLOAT16_VIA_FLOAT32 | frozenset(["Einsum"])

FOLD_ONLY_OPS: frozenset = frozenset()  # none at present (ReduceProd, the last one, runs at run time)

# ONNX TensorProto element types a Cast may produce at run time.
_CAST_TARGETS = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
                 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 16: "bfloat16", 17: "float8e4m3fn",
                 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4",
                 23: "float4e2m1", 24: "float8e8m0", 25: "uint2", 26: "int2"}


@dataclass
class NodeInfo:
    """What the checks see of one ONNX node (attributes already converted to Python values)."""

    name: str
    op: str
    inputs: List[str]
    outputs: List[str]
    attrs: Dict[str, Any]
    opset: int
    const_shape: Callable[[str], Optional[Tuple[int, ...]]]  # shape of an initializer, else None


def describe(name: str, op: str, outputs: Sequence[str]) -> str:
    """``node 'name' (Op)``; an unnamed node is identified by its first output."""
    if name:
        return f"node '{name}' ({op})"
    return f"node producing '{outputs[0] if outputs else '?'}' ({op})"


def _kernel_rank(info: NodeInfo) -> Optional[int]:
    if "kernel_shape" in info.attrs:
        return len(info.attrs["kernel_shape"])
    if info.op in ("Conv", "ConvTranspose") and len(info.inputs) > 1:
        shape = info.const_shape(info.inputs[1])
        if shape is not None:
            return len(shape) - 2
    return None


def _check_2d(info: NodeInfo) -> Optional[str]:
    rank = _kernel_rank(info)
    if rank is not None and rank not in (1, 2, 3):
        return f"only 1-D, 2-D and 3-D kernels are supported, this one has {rank} spatial dimension(s)"
    return None


def _check_pool(info: NodeInfo) -> Optional[str]:
    if "kernel_shape" in info.attrs and len(info.attrs["kernel_shape"]) not in (1, 2, 3):
        return f"only 1-D, 2-D and 3-D pooling is supported, kernel_shape is {info.attrs['kernel_shape']}"
    return None


def _check_batchnorm(info: NodeInfo) -> Optional[str]:
    if info.attrs.get("training_mode", 0) != 0:
        return "training_mode=1 is not supported (inference only)"
    if any(info.outputs[1:]):
        return "the training outputs (running mean / variance) are not supported"
    return None


def _check_resize(info: NodeInfo) -> Optional[str]:
    mode = info.attrs.get("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        return f"mode='{mode}' is not supported (nearest, linear, cubic)"
    if info.attrs.get("keep_aspect_ratio_policy", "stretch") not in ("stretch", "not_larger", "not_smaller"):
        return f"keep_aspect_ratio_policy='{info.attrs['keep_aspect_ratio_policy']}' is not supported"
    return None


def _check_upsample(info: NodeInfo) -> Optional[str]:
    mode = info.attrs.get("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        return f"mode='{mode}' is not supported (nearest, linear)"
    return None


def _check_gelu(info: NodeInfo) -> Optional[str]:
    if info.attrs.get("approximate", "none") not in ("none", "tanh"):
        return f"approximate='{info.attrs['approximate']}' is not supported (none, tanh)"
    return None


def _check_pad(info: NodeInfo) -> Optional[str]:
    mode = info.attrs.get("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        return f"mode='{mode}' is not supported (constant, reflect, edge, wrap)"
    return None


def _check_cast(info: NodeInfo) -> Optional[str]:
    to = info.attrs.get("to")
    if to not in _CAST_TARGETS:
        return f"cast to ONNX element type {to} is not supported ({sorted(_CAST_TARGETS.values())})"
    return None


def _check_constant(info: NodeInfo) -> Optional[str]:
    if "value_string" in info.attrs or "value_strings" in info.attrs:
        return "string constants are not supported"
    return None


_CHECKS: Dict[str, Callable[[NodeInfo], Optional[str]]] = {
    "Conv": _check_2d, "ConvTranspose": _check_2d,
    "MaxPool": _check_pool, "AveragePool": _check_pool,
    "BatchNormalization": _check_batchnorm, "Resize": _check_resize, "Upsample": _check_upsample,
    "Gelu": _check_gelu, "Pad": _check_pad, "Cast": _check_cast,
    "Constant": _check_constant,
}


def check_node(info: NodeInfo) -> Optional[str]:
    """Why ``info`` cannot be imported, or None. Cheap: attributes and initializer shapes only."""
    if info.op not in SUPPORTED_OPS and info.op not in FOLD_ONLY_OPS:
        return f"operator {info.op} is not supported"
    check = _CHECKS.get(info.op)
    return check(info) if check else None


# ---- normalisation at emission ---------------------------------------------------------------


@dataclass
class EmitContext:
    """What normalisation needs from the importer."""

    opset: int
    shape: Callable[[str], Optional[List[Optional[int]]]]       # inferred dims (None: unknown)
    constant: Callable[[str], Optional[np.ndarray]]               # a constant's value, else None
    add_constant: Callable[[str, np.ndarray], str]                # new constant from a stem; returns its name


def _attr_to_input(attrs: Dict[str, Any], inputs: List[str], key: str, ctx: EmitContext, stem: str) -> None:
    if key in attrs:
        inputs[1:2] = [ctx.add_constant(stem + "_" + key, np.asarray(attrs.pop(key), np.int64))]


def _auto_pad(desc: str, attrs: Dict[str, Any], inputs: List[str], ctx: EmitContext) -> None:
    mode = attrs.pop("auto_pad", "NOTSET")
    if mode == "NOTSET":
        return
    dims = ctx.shape(inputs[0])
    kernel = attrs.get("kernel_shape")
    if kernel is None and len(inputs) > 1 and ctx.constant(inputs[1]) is not None:
        kernel = list(ctx.constant(inputs[1]).shape[2:])
    if kernel is None:
        raise _not_supported(f"{desc}: auto_pad='{mode}' needs a known kernel size")
    n = len(kernel)
    strides = attrs.get("strides", [1] * n)
    dilations = attrs.get("dilations", [1] * n)
    sizes = list(dims[2:]) if dims is not None and len(dims) == n + 2 else [None] * n
    if mode in ("SAME_UPPER", "SAME_LOWER") and any(sz is None and st != 1 for sz, st in zip(sizes, strides)):
        # A strided SAME pad depends on the input size, which is dynamic:
        # the float layers resolve it on every run (int8 convs need pads).
        attrs["auto_pad"] = mode
        return
    begin, end = [0] * n, [0] * n
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(n):
            size = sizes[i]
            # With stride 1 the total pad is the dilated kernel minus one, whatever the size.
            out = math.ceil(size / strides[i]) if size is not None else None
            total = (kernel[i] - 1) * dilations[i] if size is None else max(
                0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size)
            small, large = total // 2, total - total // 2
            begin[i], end[i] = (small, large) if mode == "SAME_UPPER" else (large, small)
    elif mode != "VALID":
        raise _not_supported(f"{desc}: auto_pad='{mode}' is not supported")
    attrs["pads"] = begin + end


def _not_supported(message: str) -> Exception:
    from .._errors import NotSupportedError
    return NotSupportedError(message)


def normalize(desc: str, op: str, attrs: Dict[str, Any], inputs: List[str], outputs: List[str],
              ctx: EmitContext) -> None:
    """Rewrite ``attrs`` / ``inputs`` in place into the newest opset's form (see module doc)."""
    stem = outputs[0] if outputs else desc
    if op in ("Squeeze", "Unsqueeze", "Split") and ctx.opset < 13:
        if len(inputs) < 2:
            inputs.append("")
        _attr_to_input(attrs, inputs, "axes" if op != "Split" else "split", ctx, stem)
    elif op in ("ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare") and ctx.opset < 18:
        if "axes" in attrs:
            inputs[1:] = [ctx.add_constant(stem + "_axes", np.asarray(attrs.pop("axes"), np.int64))]
    elif op in ("ReduceMax", "ReduceMin") and ctx.opset < 18 or op == "ReduceSum" and ctx.opset < 13:
        if "axes" in attrs:
            inputs[1:] = [ctx.add_constant(stem + "_axes", np.asarray(attrs.pop("axes"), np.int64))]
    elif op in ("Softmax", "LogSoftmax") and ctx.opset < 13:
        dims = ctx.shape(inputs[0])
        axis = attrs.get("axis", 1)
        if dims is not None and axis % len(dims) == len(dims) - 1:
            attrs["axis"] = -1  # the last axis: both forms agree
        else:
            attrs["axis"] = axis
            attrs["coerce_2d"] = 1  # over the axes from `axis` on, flattened
    elif op in ("Conv", "MaxPool", "AveragePool"):
        _auto_pad(desc, attrs, inputs, ctx)
    elif op == "ConstantOfShape" and "value" in attrs:
        from onnx import numpy_helper
        value = numpy_helper.to_array(attrs.pop("value")).reshape(1)
        inputs[1:] = [ctx.add_constant(stem + "_value", value)]


_WINDOW_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")


def lift_1d(desc: str, op: str, attrs: Dict[str, Any], inputs: List[str], ctx: EmitContext) -> bool:
    """Rewrites a 1-D window op (after ``normalize``) into its 2-D form with H = 1, in
    place: attributes get a leading 1 (kernel, strides, dilations, output_shape) or 0
    (pads, output_padding) and constant weights a unit axis. Returns False (nothing
    changed) for any other node; the caller adds the Unsqueeze / Squeeze. A window
    attribute of the wrong length for one spatial axis is the InvalidArgumentError the
    2-D layer gives (``desc: attribute 'pads' has 3 values, expected 2``), checked here
    before the lift changes its length."""
    if op not in _WINDOW_OPS:
        return False
    weights = ctx.constant(inputs[1]) if op in ("Conv", "ConvTranspose") and len(inputs) > 1 else None
    kernel = attrs.get("kernel_shape")
    rank = len(kernel) if kernel is not None else (weights.ndim - 2 if weights is not None else None)
    if rank != 1:
        return False
    if "output_shape" in attrs and len(attrs["output_shape"]) == 3:  # [N, C, L]: the spatial part
        attrs["output_shape"] = list(attrs["output_shape"])[2:]
    for key, want in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("output_padding", 1),
                      ("output_shape", 1), ("pads", 2)):
        if key in attrs and len(attrs[key]) != want:
            from .._errors import InvalidArgumentError
            raise InvalidArgumentError(f"{desc}: attribute '{key}' has {len(attrs[key])} values, expected {want} "
                                       "(one spatial axis)")
    for key, lead in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("output_padding", 0),
                      ("output_shape", 1)):
        if key in attrs:
            attrs[key] = [lead] + list(attrs[key])
    if "pads" in attrs:
        begin, end = attrs["pads"]
        attrs["pads"] = [0, begin, 0, end]
    if weights is not None:
        inputs[1] = ctx.add_constant(inputs[1] + "_2d", weights[:, :, None, :])
    return True


# ---- conformance cases a claimed op does not pass, and why ---------------------------------------
# (python -m int8rt.onnx.conformance; issue 11 asks that every claimed op
# pass all its cases or say here why not).
CONFORMANCE_EXCEPTIONS: Dict[str, str] = {
    "Equal": "the two string cases: the engine has no string tensors",
    "Identity": "test_identity_opt and _sequence: optional and sequence values, which the engine does not carry",
    "Dropout": "the test_training_dropout cases drop at random (training_mode true, ratio > 0): inference only",
    "Resize": "test_resize_downsample_scales_{linear,cubic}_align_corners: with non-integer scales ONNX's reference "
              "maps align_corners through in * scale - 1, int8rt (as ONNX Runtime and PyTorch) through the integer "
              "output size minus 1",
    "BatchNormalization": "the two _training_mode cases: batch statistics and running-mean outputs (training); "
                          "inference only",
    "If": "test_if_seq and test_if_opt: their branches give a sequence and an optional, which the engine does not "
          "carry",
    "Loop": "test_loop13_seq and test_loop16_seq_none: sequence and optional loop-carried values, which the engine "
            "does not carry",
    "Scan": "test_scan_sum: opset 8's batched Scan; int8rt converts opsets below 11 with ONNX's version converter, "
            "which rewrites it to the unbatched form with the batch of 1 dropped from its inputs, so the case's "
            "batched inputs no longer fit (the opset 9+ cases pass)",
}
