"""The tensors auto holds at their calibration range (minmax) in every set:
the network's float inputs and their linear image, the tensors computed from
an input by constant-weight linear layers (Conv, ConvTranspose, MatMul,
Gemm, with no fused activation) and layout ops (Transpose, Reshape,
Flatten, Squeeze, Unsqueeze, Identity) alone, up to the first other layer.

Why. An input's range is its data domain (normalised pixels from black to
white, audio from silence to full scale), and so is that of a fixed linear
map of it: the calibration data reaches the domain's ends at a few
positions, and a deployment's data can hold them in bulk (a silhouette, a
scanned page, an over-exposed photograph). A clipping threshold fitted
there (mse, percentile, entropy) spends that range on the calibration
set's content, and every image that sits at the ends of the domain loses
from the first layer on; after the first nonlinearity or normalisation the
tensors no longer scale with the input's extremes alone (a LayerNorm takes
them out), and there the fitted thresholds pay. The held-out judge cannot
see this when no calibration sample is of that kind.

Measured (benchmarks/RESULTS_accuracy.md, acc19): issue 11's HF ConvNeXt
(patchify Conv -> LayerNorm stem), mse's thresholds with the input and the
stem Conv's output at minmax: centred cosine 0.99734 -> 0.99948 (ONNX
Runtime quantize_static 0.99934), top-1 0.930 -> 0.947; minmax on any other
group of its tensors (each stage, the residual stream, the GELU inputs or
outputs, the pooled features) did not help, minmax everywhere 0.99935.
"""
from __future__ import annotations

from typing import Any

__all__ = ["LAYOUT_OPS", "LINEAR_OPS", "input_image"]

# Layers whose output is a constant-weight linear map of their first input
# (no fused activation: ``int8rt_activation``) ...
LINEAR_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
# ... and those that only move its values.
LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})


def input_image(network: Any) -> set[str]:
    """Names of the float32 network inputs of ``network`` (a ``_core``
    network) and of every tensor computed from one of them through
    ``LINEAR_OPS`` (every other input constant) and ``LAYOUT_OPS`` alone."""
    tensors = network.tensors()
    reached = {i for i in network.inputs() if tensors[i]["dtype"] == "float32"}
    grew = True
    while grew:
        grew = False
        for node in network.nodes():
            if not node["inputs"] or node["inputs"][0] not in reached or node["attrs"].get("int8rt_activation"):
                continue
            rest = [i for i in node["inputs"][1:] if i >= 0]
            if node["op"] in LINEAR_OPS and rest and all(tensors[i]["is_constant"] for i in rest) or \
                    node["op"] in LAYOUT_OPS:
                new = {o for o in node["outputs"] if tensors[o]["dtype"] == "float32"} - reached
                reached |= new
                grew = grew or bool(new)
    return {tensors[i]["name"] for i in reached}
