"""Which layers form auto's float stem that ends at a Log: the layers that
compute a magnitude from one network input alone (a spectrogram front end:
strided convolutions on a waveform, squares, sums, a square root) and the
Log that compresses it. quiet_positions.py measures, tries and judges the
stem as it does its other stems.

Why. A Log is there to spread values over decades (d log v = dv / v): each
value needs its own relative precision. A per-tensor int8 grid has one step
for every value, so the quiet ones (a CQT's soft bins, silence) round to
nothing or to a level or two on every int8 tensor of the front end, and the
Log turns that rounding into the largest errors of the tensor it writes.
Basic Pitch (basic-pitch 0.4.0: CQT on the waveform -> |.|^2 + eps -> Log
-> per-window normalisation -> CNN) collapses in every int8 engine
(centred cosine 0.48-0.62) and keeps 0.9966-0.9970 with its CQT front end
in float32 by hand (benchmarks/RESULTS_accuracy.md, acc51 section 5).

The walk. Up from the tensor a ``Log`` reads, every tensor must be the
float32 network input (one input, the same for all), a constant, or the
output of a layer that builds a magnitude from such tensors:

- a constant-weight linear layer (``WEIGHTED_OPS``: its weights, the inputs
  after the first, constants; no fused activation);
- an element-wise or reducing layer of ``MAGNITUDE_OPS`` (products and sums
  of stem tensors, the square root, the absolute value; ``Div`` and ``Pow``
  only by a constant: a ratio of two activations is a normalisation, not a
  magnitude);
- a layer that only moves values (``LAYOUT_OPS``);
- as the Log's own input only, a floor or cap by constants
  (``GUARD_OPS``: ``log(clip(mel, 1e-10))``, openWakeWord's mel
  spectrogram); elsewhere a Clip is an activation (ReLU6).

Any other producer (an activation, a normalisation, a pooling, a second
input) and there is no stem: a Log of a trunk feature is the trunk's to
keep, never a stem to give up. A stem is also bounded by its cost: at most
``MAX_MAC_SHARE`` of the network's multiply-accumulates (symbolic
dimensions counted as 1), so a network that is little more than a linear
map into a Log keeps its int8 body. Basic Pitch's CQT is 7.6 % of them
(40 M of 524 M per 2 s window).

The stem is those layers and the Log itself: an int8 Log (a table layer,
csrc/engine/lut_region.cc) would quantize the tensor it reads once more.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["GUARD_OPS", "LAYOUT_OPS", "LOG_OPS", "MAGNITUDE_OPS", "MAX_MAC_SHARE", "WEIGHTED_OPS", "log_stems", "macs"]

# the compressive readers a stem ends at
LOG_OPS = frozenset({"Log"})
# a constant-weight linear map of the first input
WEIGHTED_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
# a magnitude from stem tensors (Div and Pow: by a constant only)
MAGNITUDE_OPS = frozenset({"Mul", "Add", "Sub", "Div", "Pow", "Neg", "Abs", "Sqrt",
                           "ReduceSum", "ReduceSumSquare", "ReduceL2", "ReduceMean"})
_BY_CONSTANT = frozenset({"Div", "Pow"})
# the Log's guard against zero, by constant bounds (as its input's producer only)
GUARD_OPS = frozenset({"Clip", "Max", "Min"})
# layers that only move values
LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Concat",
                        "Slice", "Pad", "Split"})
# The most of the network's multiply-accumulates a stem may do: a front end
# is a small part of a network (Basic Pitch's CQT 7.6 %); past half, the
# "stem" is the network.
MAX_MAC_SHARE = 0.5


def macs(network: Any, layers: Iterable[str] | None = None) -> int:
    """Multiply-accumulates of the Conv / ConvTranspose / MatMul / Gemm
    layers of ``network`` (a builder's optimized network), or of those named
    in ``layers``, per run at the tensors' static shapes (a symbolic
    dimension counts as 1): output elements times the weights per output
    channel (an activation x activation MatMul: times the shared dimension)."""
    tensors, keep = network.tensors(), None if layers is None else set(layers)
    total = 0
    for node in network.nodes():
        if node["op"] not in WEIGHTED_OPS or (keep is not None and node["name"] not in keep) or len(node["inputs"]) < 2:
            continue
        out, w = tensors[node["outputs"][0]]["shape"], tensors[node["inputs"][1]]
        if not out:
            continue
        elements = int(np.prod([abs(d) for d in out]))
        if w["is_constant"] and w["shape"]:
            channel = out[1] if node["op"] in ("Conv", "ConvTranspose") and len(out) > 1 else out[-1]
            per = int(np.prod(w["shape"])) // max(1, abs(channel))
        else:
            a = tensors[node["inputs"][0]]["shape"]
            per = abs(a[-1]) if a else 1
        total += elements * max(1, per)
    return total


def _producer_ok(node: dict[str, Any], tensors: list[dict[str, Any]], floats: list[int], guard: bool) -> bool:
    """Whether ``node`` builds a magnitude from its float32 inputs ``floats``
    (module docstring); ``guard``: it writes the tensor the Log reads."""
    op = node["op"]
    if node["attrs"].get("int8rt_activation"):
        return False
    if op in GUARD_OPS:
        return guard and all(tensors[i]["is_constant"] for i in floats[1:])
    if op in WEIGHTED_OPS:
        return len(floats) >= 2 and all(tensors[i]["is_constant"] for i in floats[1:])
    if op in _BY_CONSTANT:
        return len(floats) == 2 and tensors[floats[1]]["is_constant"]
    return op in MAGNITUDE_OPS or op in LAYOUT_OPS


def _stem_of(network: Any, start: int, producer: dict[int, dict[str, Any]], inputs: set[int]) -> list[str] | None:
    """The layers computing tensor ``start`` from one float32 input of
    ``inputs`` alone through magnitude-building layers, or None."""
    tensors = network.tensors()
    layers: set[str] = set()
    reached: set[int] = set()
    front, seen = [start], {start}
    while front:
        t = front.pop()
        if t in inputs:
            reached.add(t)
            continue
        if tensors[t]["is_constant"]:
            continue
        node = producer.get(t)
        if node is None:
            return None  # another graph input (not float32), or no producer
        floats = [i for i in node["inputs"] if i >= 0 and tensors[i]["dtype"] == "float32"]
        if not floats or not _producer_ok(node, tensors, floats, guard=t == start):
            return None
        layers.add(node["name"])
        for i in floats:
            if i not in seen:
                seen.add(i)
                front.append(i)
    return sorted(layers) if len(reached) == 1 else None


def log_stems(network: Any, fp32_layers: Iterable[str] = ()) -> dict[str, list[str]]:
    """Tensor a Log reads -> the names of its stem's layers in run order,
    the Log last (module docstring), for each Log of a tensor computed
    from one float32 network input alone whose stem does at most
    ``MAX_MAC_SHARE`` of the network's multiply-accumulates and is not all
    in ``fp32_layers`` already."""
    tensors, nodes = network.tensors(), network.nodes()
    inputs = {i for i in network.inputs() if tensors[i]["dtype"] == "float32"}
    producer = {o: n for n in nodes for o in n["outputs"]}
    order = {n["name"]: k for k, n in enumerate(nodes)}
    total = macs(network)
    out: dict[str, list[str]] = {}
    for node in nodes:
        if node["op"] not in LOG_OPS or not node["inputs"] or node["inputs"][0] < 0:
            continue
        read = node["inputs"][0]
        layers = _stem_of(network, read, producer, inputs)
        if layers is None or macs(network, layers) > MAX_MAC_SHARE * total:
            continue
        name = tensors[read]["name"]
        chain = sorted(set(out.get(name, [])) | set(layers) | {node["name"]}, key=order.__getitem__)
        if not set(chain) <= set(fp32_layers):
            out[name] = chain
    return out
