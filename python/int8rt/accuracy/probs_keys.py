"""Which layers of an INT8 engine hold attention probabilities on a grid
that follows the key count (issues 11 / 12; the rule and its formula are in
csrc/engine/ops/int8/probs_keys.h): the fused ``int8rt.QAttention`` and the
unfused chain's ``int8rt.Quantize`` / ``int8rt.QMatMul`` carry
``probs_calibrated_keys``, the calibration's fewest keys, below which their
probabilities' scale grows as ``n_cal / n``. Read by the Q/DQ export, which
cannot express a scale that depends on the row length (it writes the
calibrated one and says so), and by the tests."""
from __future__ import annotations

from typing import Any, Optional

__all__ = ["ATTRIBUTE", "key_count_layers"]

ATTRIBUTE = "probs_calibrated_keys"


def key_count_layers(network: Any, op: Optional[str] = None) -> dict[str, int]:
    """Node name -> calibrated key count, for each node of ``network`` (an
    engine's lowered ``_core.Network``) whose probabilities' grid follows
    the key count; only nodes of type ``op`` where given."""
    return {n["name"]: int(n["attrs"][ATTRIBUTE]) for n in network.nodes()
            if int(n["attrs"].get(ATTRIBUTE, 0)) > 0 and op in (None, n["op"])}
