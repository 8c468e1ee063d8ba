"""Which network input is the attention (padding) mask, found by graph
structure: bias correction's MatMul medians take real tokens only
(row_shifts.py), and for that they need the input that says which tokens
are padding.

An encoder exported from HF transformers (BERT, MiniLM, DistilBERT, T5, and
the sentence-transformers exports of them) turns its ``[batch, seq]`` mask
into an additive or selecting term of the attention scores before their
Softmax: ``(1 - mask[:, None, None, :].float()) * min`` added to the
scores (older exports: Unsqueeze, Cast, Sub, Mul, Add), ``where(mask == 0,
-inf, scores)`` (DistilBERT's masked_fill: Equal, Where), or the newer mask
helpers' ``Flatten / Gather / And / Expand / Where`` (transformers 4.5x).
Whatever the chain, the mask's *values* reach a Softmax over attention
scores through element-wise and data-moving ops only. The token ids do
not: they are the indices of an embedding Gather, and a value read only
through ``Shape`` (sequence length, batch size) is not a value at all. So
:func:`structural_mask_inputs` walks forward from each 2-D integer / bool /
float input through :data:`_MASK_OPS` (a Gather, GatherElements or
GatherND only where the walk holds its data, not its indices: torch's
dynamo exporter selects the mask's entries with GatherND) and keeps the inputs that reach the input of a
Softmax of rank >= 3 (``[batch, heads, seq, seq]`` scores, or
``[batch * heads, seq, seq]``).

:func:`mask_input` takes the one input found so; where none or several
are (a network without attention, an encoder-decoder's two masks), the
name rule acc28 used: the one 2-D input whose name holds ``mask``.
"""
from __future__ import annotations

from typing import Any, Optional

from .forward_walk import Readers, reaches

__all__ = ["MASK_DTYPES", "VALUE_OPS", "mask_input", "named_mask_inputs", "structural_mask_inputs"]

MASK_DTYPES = ("int64", "int32", "bool", "float32", "int8", "uint8")

# The ops a mask's values pass through on their way to the scores: casts,
# arithmetic and comparisons, logic, selection, and moves of data (no op
# that mixes positions by weights: a MatMul, a Conv, a reduction).
# quiet_products.py follows attention scores to their Softmax through them.
VALUE_OPS = frozenset({
    "Cast", "CastLike", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Expand", "Tile", "Transpose",
    "Slice", "Concat", "Gather", "GatherElements", "GatherND", "Sub", "Mul", "Add", "Div", "Neg", "Min", "Max", "Clip", "Not", "And", "Or", "Xor",
    "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Where",
})


def _mask_candidates(network: Any) -> list[int]:
    tensors = network.tensors()
    return [t for t in network.inputs() if _rank(tensors[t]) == 2 and tensors[t]["dtype"] in MASK_DTYPES]


def _rank(tensor: dict[str, Any]) -> int:
    """The tensor's rank, -1 where unknown (an If branch's inputs)."""
    return -1 if tensor["shape"] is None else len(tensor["shape"])


def structural_mask_inputs(network: Any) -> list[str]:
    """The 2-D inputs (of a mask's dtype) whose values reach a Softmax over
    attention scores (module docstring), in the network's input order."""
    tensors, readers = network.tensors(), Readers(network)

    def scores(node: dict[str, Any], position: int, t: int) -> bool:
        return node["op"] == "Softmax" and _rank(tensors[t]) >= 3

    def passes(node: dict[str, Any], position: int, t: int) -> bool:
        return node["op"] in VALUE_OPS and not (node["op"].startswith("Gather") and position != 0)

    return [tensors[t]["name"] for t in _mask_candidates(network) if reaches(readers, t, scores, passes)]


def named_mask_inputs(network: Any) -> list[str]:
    """The 2-D inputs (of a mask's dtype) whose name holds ``mask``
    (``attention_mask``, ``input_mask``): acc28's rule, the fallback."""
    tensors = network.tensors()
    return [tensors[t]["name"] for t in _mask_candidates(network) if "mask" in tensors[t]["name"].lower()]


def mask_input(network: Any) -> Optional[str]:
    """The network's token-mask input: the one found by structure
    (:func:`structural_mask_inputs`), else the one found by name
    (:func:`named_mask_inputs`), else None."""
    for found in (structural_mask_inputs(network), named_mask_inputs(network)):
        if len(found) == 1:
            return found[0]
    return None
