"""A forward walk over a network's tensors from one tensor, for the
structural questions the accuracy code asks of a graph: does an input's
value reach an attention Softmax (attention_mask.py), does an input's axis
0 reach a recurrent layer's time axis (sequence_axis.py)."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["Readers", "reaches"]

# (node, the position of the tensor among its inputs) -> whether the walk stops there
Step = Callable[[dict[str, Any], int, int], bool]


class Readers:
    """Each tensor's readers in ``network``: (node, input position) pairs."""

    def __init__(self, network: Any) -> None:
        self.of: dict[int, list[tuple[dict[str, Any], int]]] = {}
        for node in network.nodes():
            for position, t in enumerate(node["inputs"]):
                if t >= 0:
                    self.of.setdefault(t, []).append((node, position))


def reaches(readers: Readers, start: int, found: Step, passes: Step) -> bool:
    """Whether a walk from tensor ``start`` meets a reader where
    ``found(node, position, tensor)``, following a reader's outputs where
    ``passes(node, position, tensor)`` (each tensor once)."""
    front, seen = [start], {start}
    while front:
        t = front.pop()
        for node, position in readers.of.get(t, ()):
            if found(node, position, t):
                return True
            if not passes(node, position, t):
                continue
            for out in node["outputs"]:
                if out >= 0 and out not in seen:
                    seen.add(out)
                    front.append(out)
    return False
