"""The tensors auto holds at their calibration range (minmax) in every set:
a network input's linear image where a normalisation reads it. That is the
float inputs and the tensors computed from them by constant-weight linear
layers (Conv, ConvTranspose, MatMul, Gemm, with no fused activation) and
layout ops (Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Identity, and
Concat with tensors that do not depend on any input's values: a ViT's class
token), up to the first other layer, for each input whose image a
LayerNormalization reads: the patchify stem of a ConvNeXt, the patch
embedding of a ViT. Elsewhere none (a network input outside such an
image is widened to its range after auto's decisions where the chosen
threshold clips it by 1-20 %: input_floor.py).

Why. An input's range is its data domain (normalised pixels from black to
white), and so is that of a fixed linear map of it: the calibration data
reaches the domain's ends at a few positions, and a deployment's data can
hold them in bulk (a silhouette, an over-exposed photograph). A threshold
fitted there (mse, percentile, entropy) spends that range on the
calibration set's content, and such an image loses from the first layer on.
A normalisation then divides each position by its own spread, so what the
clipping did to a saturated patch (each channel clipped by another share:
its direction changed) reaches every later layer at full weight, while the
normalisation's output no longer scales with the input's extremes, and the
thresholds fitted after it pay. The held-out judge cannot see this when no
calibration sample is of that kind.

Measured (benchmarks/RESULTS_accuracy.md, acc19): issue 11's HF ConvNeXt,
mse's thresholds with the input and the stem Conv's output at minmax:
centred cosine 0.99734 -> 0.99948 (ONNX Runtime quantize_static 0.99934),
while minmax on any other group of its tensors (each stage, the residual
stream, the GELU inputs or outputs, the pooled features) did not help;
HF ViT 0.99824 -> 0.99868. On CNNs without a normalisation after the input
(PP-OCRv4 rec: the first Conv and its depthwise Conv, then HardSwish) the
same rule cost 0.0135 centred cosine and 7 points of line accuracy: the
clipped extremes are not carried to every later layer there, and the rule
does not apply. Nor where an InstanceNormalization reads the image
(wav2vec2's feature extractor: a GroupNorm with a group per channel,
normalising each channel over time, not each position over the channels;
and a waveform's largest values are a thin tail, not a domain's end): there
it cost 0.7356 -> 0.5598 centred cosine (random weights, speech-like audio).
"""
from __future__ import annotations

from typing import Any

__all__ = ["LAYOUT_OPS", "LINEAR_OPS", "NORMALIZATION_OPS", "input_image", "linear_image"]

# Layers whose output is a constant-weight linear map of their first input
# (no fused activation: ``int8rt_activation``) ...
LINEAR_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
# ... those that only move its values (a Concat: beside tensors that depend
# on no input's values) ...
LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Concat"})
# ... and the layers whose reading the image makes it count: a LayerNorm,
# each position's vector over the channels (not Group- / InstanceNorm, over
# the positions: module docstring).
NORMALIZATION_OPS = frozenset({"LayerNormalization"})


def linear_image(network: Any, input_name: str | None = None) -> set[str]:
    """Names of the float32 inputs of ``network`` (a ``_core`` network), or
    of the one named ``input_name``, and of every tensor computed from them
    through ``LINEAR_OPS`` and ``LAYOUT_OPS`` alone (module docstring), read
    by a normalisation or not."""
    tensors = network.tensors()
    inputs = set(network.inputs())
    free: set[int] = {i for i, t in enumerate(tensors) if t["is_constant"]}  # depend on no input's values
    reached = {i for i in inputs if tensors[i]["dtype"] == "float32" and input_name in (None, tensors[i]["name"])}
    for node in network.nodes():  # in run order
        floats = [i for i in node["inputs"] if i >= 0 and tensors[i]["dtype"] == "float32"]
        if all(i in free for i in floats) and not any(i in inputs for i in node["inputs"] if i >= 0):
            free |= set(node["outputs"])
        if node["op"] == "Concat":
            linear = any(i in reached for i in floats) and all(i in reached or i in free for i in floats)
        elif node["op"] in LINEAR_OPS:
            linear = len(floats) > 1 and floats[0] in reached and all(tensors[i]["is_constant"] for i in floats[1:])
        else:
            linear = node["op"] in LAYOUT_OPS and bool(floats) and floats[0] in reached
        if linear and not node["attrs"].get("int8rt_activation"):
            reached |= {o for o in node["outputs"] if tensors[o]["dtype"] == "float32"}
    return {tensors[i]["name"] for i in reached}


def input_image(network: Any) -> set[str]:
    """The tensors auto holds at their calibration range: for each float32
    input, its :func:`linear_image` if a ``NORMALIZATION_OPS`` layer over
    the last axis alone (each position's channels) reads one of its tensors
    (another input, a mask, is not held for it)."""
    tensors, nodes = network.tensors(), network.nodes()
    read = {tensors[n["inputs"][0]]["name"] for n in nodes if n["op"] in NORMALIZATION_OPS and n["inputs"]
            and n["attrs"].get("axis", -1) in (-1, len(tensors[n["inputs"][0]]["shape"]) - 1)}
    out: set[str] = set()
    for i in network.inputs():
        if tensors[i]["dtype"] == "float32":
            image = linear_image(network, tensors[i]["name"])
            out |= image if image & read else set()
    return out
