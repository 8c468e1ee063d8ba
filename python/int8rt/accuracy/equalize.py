"""Cross-layer equalization (CLE): rescale the channels between two
consecutive convolutions so that one per-tensor int8 scale fits them all.

Following Nagel et al., "Data-Free Quantization Through Weight Equalization
and Bias Correction" (ICCV 2019, section 4.1), as AIMET and NNCF apply it to
depthwise-separable networks: for a Conv A whose output y (after a fused
ReLU, LeakyReLU or no activation, and no fused residual add) is read only by Convs B (any groups, y as
their data input, constant weights), output channel c of A is divided by
s_c and the weights that B applies to input channel c are multiplied by s_c:

    W_A[c] /= s_c,  b_A[c] /= s_c,  W_B[:, c] *= s_c,
    s_c = sqrt(r_A[c] / r_B[c])

with r_A[c] = max |W_A[c]| and r_B[c] = max over the B's of max |W_B[:, c]|
(the weights that read channel c). The network computes the same function,
since relu(z / s) = relu(z) / s for s > 0 (so is a LeakyReLU's, and no
activation's), up to float32 rounding; tests/test_equalize.py checks the
outputs. What changes is y: its channels' ranges move towards each other,
so the per-tensor scale int8 gives y wastes fewer levels on a few wide
channels (weights are per output channel already, so W_A's own
quantization does not change). A's activation must be positively
homogeneous: a ReLU6 / Clip with an upper bound, HardSwish or sigmoid
between the two is left alone (Nagel et al. replace ReLU6 by ReLU, which
changes the float network; int8rt does not). Chains (conv -> dw -> pw)
share layers between pairs, so the pairs are equalized in network order
``ROUNDS`` times, as AIMET iterates until the scales settle.

Applied by the builder before calibration (``BuilderConfig(equalize=...)``,
``int8rt build --equalize``) through ``Builder.set_node_constants``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["Pair", "Plan", "RESCALED_KEY", "equalization_factors", "equalize_network", "find_pairs", "plan"]

logger = logging.getLogger("int8rt")

ROUNDS = 4
# Engine metadata: JSON {tensor: [factor per channel]}, each tensor of the
# engine being the original network's divided by these along axis 1.
RESCALED_KEY = "int8rt.equalized_channels"
# Scales are kept in [1 / MAX_SCALE, MAX_SCALE]: a channel whose weights are
# all but zero on one side would otherwise take an extreme factor for no gain.
MAX_SCALE = 1e3
_HOMOGENEOUS = {None, "Relu", "LeakyRelu"}


@dataclass
class Pair:
    """Conv ``first`` (node index) whose output channels feed the Convs ``second``."""

    first: int
    second: list[int]


_ACTIVATION_ATTRS = {"int8rt_activation", "int8rt_clip_min", "int8rt_clip_max", "int8rt_leaky_alpha"}


def _activation_ok(attrs: dict[str, Any]) -> bool:
    # Any other fusion (int8rt_residual: + a skip tensor before the
    # activation) adds something the conv's weights do not scale.
    if any(k.startswith("int8rt_") and k not in _ACTIVATION_ATTRS for k in attrs):
        return False
    act = attrs.get("int8rt_activation")
    if act == "Clip":  # homogeneous only as a ReLU: lower bound 0, no upper bound
        return float(attrs.get("int8rt_clip_min", -np.inf)) == 0.0 and "int8rt_clip_max" not in attrs
    return act in _HOMOGENEOUS


def _conv_weights(network: Any, tensors: list[dict[str, Any]], node: dict[str, Any]) -> Optional[np.ndarray]:
    if node["op"] != "Conv" or len(node["inputs"]) < 2 or node["inputs"][1] < 0:
        return None
    w = tensors[node["inputs"][1]]
    if not w["is_constant"] or w["dtype"] != "float32" or len(w["shape"]) < 3:
        return None
    b = node["inputs"][2] if len(node["inputs"]) > 2 else -1
    if b >= 0 and (not tensors[b]["is_constant"] or tensors[b]["dtype"] != "float32"):
        return None
    return network.constant_data(node["inputs"][1])


def find_pairs(network: Any, skip: set[str] = frozenset()) -> list[Pair]:
    """The equalizable conv -> conv(s) pairs of ``network``, in network
    order; layers named in ``skip`` (kept in float) take no part."""
    tensors, nodes = network.tensors(), network.nodes()
    outputs = set(network.outputs())
    readers: dict[int, list[tuple[int, int]]] = {}
    for i, node in enumerate(nodes):
        for k, t in enumerate(node["inputs"]):
            if t >= 0:
                readers.setdefault(t, []).append((i, k))
    pairs = []
    for i, node in enumerate(nodes):
        if (node["name"] in skip or _conv_weights(network, tensors, node) is None or len(node["inputs"]) > 3
                or not _activation_ok(node["attrs"])):
            continue
        if len(node["outputs"]) != 1 or node["outputs"][0] in outputs:
            continue
        users = readers.get(node["outputs"][0], [])
        if not users or any(k != 0 or nodes[j]["name"] in skip or _conv_weights(network, tensors, nodes[j]) is None
                            for j, k in users):
            continue
        pairs.append(Pair(i, sorted({j for j, _ in users})))
    return pairs


def _input_channel_view(w: np.ndarray, groups: int, channels: int) -> np.ndarray:
    """|w| reduced to one value per input channel of the conv (max over the
    output rows of its group and the kernel window)."""
    out_per_group = w.shape[0] // groups
    in_per_group = w.shape[1]
    if in_per_group * groups != channels:
        raise ValueError("channel count mismatch")
    a = np.abs(w).reshape(groups, out_per_group, in_per_group, -1).max(axis=(1, 3))
    return a.reshape(channels)


def _scale_inputs(w: np.ndarray, groups: int, s: np.ndarray) -> np.ndarray:
    shape = w.shape
    out_per_group, in_per_group = shape[0] // groups, shape[1]
    v = w.reshape(groups, out_per_group, in_per_group, -1) * s.reshape(groups, 1, in_per_group, 1)
    return v.reshape(shape).astype(np.float32)


@dataclass
class Plan:
    """The equalization of one network, computed once: the factors per
    rescaled tensor, the constant updates (None: no pair), and what it was
    computed for (the network's nodes, ``rounds``, ``skip``), so that
    :func:`equalize_network` applies it only to a network with the same
    nodes (a builder made from the same model with the same rewrites has
    the same constants too: builder.py's ``_Rewrites.replay``)."""

    factors: dict[str, list[float]]
    updates: Optional[Callable[[], list]]
    nodes: list
    rounds: int
    skip: frozenset[str]


def plan(network: Any, rounds: int = ROUNDS, skip: set[str] = frozenset()) -> Plan:
    """The equalization of ``network``, which is left as it is (the weights
    depend on nothing else, so the factors are known before calibration:
    rescaled.py)."""
    factors, updates = _equalize(network, rounds, skip)
    return Plan(factors, updates, network.nodes(), rounds, frozenset(skip))


def equalize_network(builder: Any, rounds: int = ROUNDS, skip: set[str] = frozenset(),
                     computed: Optional[Plan] = None) -> dict[str, list[float]]:
    """Equalizes every pair of ``builder``'s optimized network in place
    (``Builder.set_node_constants``). Returns, per rescaled tensor (the
    output of each pair's first conv), the factors it was divided by, one
    per channel (axis 1): what ``int8rt compare`` needs to set the original
    network's values beside the engine's. ``computed``: a :func:`plan`
    of a builder like this one, used where it matches (the auto
    calibrator's trial: on ResNet-50 the second computation and the
    updates as Python lists were 1.3 of its 2.5 CPU s)."""
    network = builder.optimized_network()
    if (computed is None or computed.rounds != rounds or computed.skip != frozenset(skip)
            or computed.nodes != network.nodes()):
        computed = plan(network, rounds, skip)
    if computed.updates:
        builder.set_node_constants(computed.updates())
    return computed.factors


def equalization_factors(network: Any, rounds: int = ROUNDS, skip: set[str] = frozenset()) -> dict[str, list[float]]:
    """What :func:`equalize_network` would return for ``network``, which
    is left as it is."""
    return _equalize(network, rounds, skip)[0]


def _equalize(network: Any, rounds: int, skip: set[str]
              ) -> tuple[dict[str, list[float]], Optional[Callable[[], list]]]:
    """The factors per rescaled tensor, and the function that lists the
    constant updates (node, input, values) making the equalized network
    (None: no pair)."""
    nodes, tensors = network.nodes(), network.tensors()
    pairs = find_pairs(network, skip)
    if not pairs:
        return {}, None
    weights: dict[int, np.ndarray] = {}
    biases: dict[int, np.ndarray] = {}
    for p in pairs:
        for i in [p.first, *p.second]:
            if i not in weights:
                weights[i] = network.constant_data(nodes[i]["inputs"][1]).astype(np.float32)
                b = nodes[i]["inputs"][2] if len(nodes[i]["inputs"]) > 2 else -1
                if b >= 0:
                    biases[i] = network.constant_data(b).astype(np.float32)
    valid = []
    for p in pairs:
        c = weights[p.first].shape[0]
        try:
            for j in p.second:
                _input_channel_view(weights[j], int(nodes[j]["attrs"].get("group", 1)), c)
        except ValueError:
            continue
        valid.append(p)
    total = {p.first: np.ones(weights[p.first].shape[0]) for p in valid}
    for _ in range(rounds):
        for p in valid:
            wa = weights[p.first]
            c = wa.shape[0]
            ra = np.abs(wa).reshape(c, -1).max(axis=1)
            rb = np.max([_input_channel_view(weights[j], int(nodes[j]["attrs"].get("group", 1)), c)
                         for j in p.second], axis=0)
            s = np.ones(c, np.float64)
            ok = (ra > 0) & (rb > 0)
            s[ok] = np.sqrt(ra[ok] / rb[ok])
            s = np.clip(s, 1.0 / MAX_SCALE, MAX_SCALE)
            total[p.first] *= s
            weights[p.first] = (wa / s.reshape((c,) + (1,) * (wa.ndim - 1))).astype(np.float32)
            if p.first in biases:
                biases[p.first] = (biases[p.first] / s).astype(np.float32)
            for j in p.second:
                weights[j] = _scale_inputs(weights[j], int(nodes[j]["attrs"].get("group", 1)), s)
    touched = {i for p in valid for i in [p.first, *p.second]}

    def updates() -> list:
        logger.info("cross-layer equalization: %d conv pairs", len(valid))
        return ([(nodes[i]["name"], 1, w.ravel()) for i, w in weights.items() if i in touched]
                + [(nodes[i]["name"], 2, b.ravel()) for i, b in biases.items() if i in touched])
    return {tensors[nodes[i]["outputs"][0]]["name"]: s.tolist() for i, s in total.items()}, updates
