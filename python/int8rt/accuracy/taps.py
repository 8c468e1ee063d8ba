"""Intermediate tensors of a float32 network and of a lowered INT8 network.

The accuracy check, the ``auto`` calibrator and ``int8rt compare`` need
values inside the network, not only its outputs. Rather than a second
executor, they copy the network, mark the tensors of interest as extra
outputs and wrap it in an ordinary engine (``_core.Engine.create``): the
values come from the same kernels the engines run.

In a lowered INT8 network a tensor ``x`` held in int8 is ``x::int8`` (NHWC
for rank 4, unless the node writing it carries ``logical``: then in the
float tensor's own order, as MatMuls hold it); its scale is the ``out_scale`` of the node making it, the
``scale`` of an ``int8rt.Quantize``, or, behind a max pool, flatten, nearest resize or
data-movement layer (``int8rt.QTranspose``, ``QSlice``, ``QReshape``...), its input's
(csrc/engine/lower_int8.cc). :func:`int8_scales` reads them back and
:func:`int8_tap_engine` adds an ``int8rt.Dequantize`` per such tensor.

Inside If branches. A branch's tensors are named outside it under their
scope, ``"<If>/<then_branch|else_branch>/<tensor>"`` (``_core.branch_scope``,
nested Ifs joined), as calibration, its cache and the int8 plan name them.
A branch tensor cannot be an output of the network, so it is read from a
tapped run (``ExecutionContext.run_tapped``: every float32 tensor of the
branches a run takes, by scoped name; :func:`tapped_run`); with
``branches=True`` the functions here also cover the branches (of the
lowered network for the int8 side: the tap engine's Dequantize taps are
added inside them). A tensor of a branch the run did not take has no value.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from .. import _core

__all__ = ["INT8_SUFFIX", "TAP_SUFFIX", "Samples", "as_read", "batch_samples", "batches", "count", "groups",
           "flat_ceilings", "flat_floors", "fp32_tap_engine", "int8_channel_scales", "int8_grid_scales", "int8_scales", "int8_tap_engine", "one_node_engine", "quantized_inside", "rows", "run_batched",
           "scoped_networks", "scoped_tensors", "spread", "take", "tapped_run", "whole_picks", "WholeBatch"]

logger = logging.getLogger("int8rt")

INT8_SUFFIX = "::int8"
TAP_SUFFIX = "::tap"
# Output at the input's scale: these and the data-movement layers (lower_int8_moves.h).
_PASS_THROUGH = {"int8rt.QMaxPool", "int8rt.QFlatten", "int8rt.QResizeNearest"} | {
    "int8rt.Q" + op for op in ("Transpose", "Slice", "Split", "Pad", "Reshape", "Squeeze", "Unsqueeze",
                               "DepthToSpace", "SpaceToDepth")}
_KEEP_CHANNELS = {"int8rt.QMaxPool", "int8rt.QResizeNearest"}  # a per-channel grid passes these


def _copy(network: Any) -> Any:
    state = network.__getstate__()
    out = _core.Network.__new__(_core.Network)
    out.__setstate__(state)
    return out


def scoped_networks(network: Any, scope: str = "") -> Iterator[tuple[str, Any]]:
    """``(scope, network)``, then ``(scope, branch)`` for every If branch in
    it, nested ones under their joined scopes, depth first in node order."""
    yield scope, network
    for node in network.nodes():
        if node["op"] == "If":
            for branch in ("then_branch", "else_branch"):
                yield from scoped_networks(node["attrs"][branch], scope + _core.branch_scope(node["name"], branch))


def scoped_tensors(network: Any) -> dict[str, dict[str, Any]]:
    """Scoped name -> the tensor's description, for the tensors of
    ``network`` and of every If branch in it (:func:`scoped_networks`)."""
    return {scope + t["name"]: t for scope, net in scoped_networks(network) for t in net.tensors()}


def tapped_run(ctx: Any, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``ctx.run(inputs)`` with, beside the outputs, every float32 tensor the
    If branches the run took computed, by scoped name (``run_tapped``)."""
    outputs, inside = ctx.run_tapped(inputs)
    outputs.update(inside)
    return outputs


def _with_branches(network: Any, rewrite: Any, scope: str = "") -> Any:
    """A copy of ``network`` whose If branches are ``rewrite(scope, branch)``
    (a Network, scope the branch's :func:`scoped_networks` scope), applied
    inside out: ``branch`` has its own Ifs' branches rewritten already.
    Node attributes are read only, so the copy is made from the pickle
    state with the branch attributes replaced."""
    state = list(network.__getstate__())
    nodes = []
    for name, op, inputs, outputs, attrs in state[2]:
        if op == "If":
            attrs = dict(attrs)
            for branch in ("then_branch", "else_branch"):
                inner = scope + _core.branch_scope(name, branch)
                attrs[branch] = rewrite(inner, _with_branches(attrs[branch], rewrite, inner))
        nodes.append((name, op, inputs, outputs, attrs))
    state[2] = nodes
    out = _core.Network.__new__(_core.Network)
    out.__setstate__(tuple(state))
    return out


def fp32_tap_engine(network: Any, names: Iterable[str]) -> Any:
    """A float32 engine over a copy of ``network`` (a builder's optimized
    network) whose outputs are its own plus every tensor in ``names``
    (none: over ``network`` itself, which the engine does not change)."""
    names = list(names)
    net = _copy(network) if names else network
    for name in names:
        t = net.find_tensor(name)
        if t < 0:
            raise _core.InvalidArgumentError(f"no tensor named '{name}' in the network")
        net.mark_output(t)
    return _core.Engine.create(net, {"precision": "fp32"})


Grid = tuple[Union[float, tuple[float, ...]], int]  # (scale or one scale per channel, zero point)


def _int8_grids(lowered: Any) -> dict[str, tuple[float, int]]:
    """Source tensor name -> (scale, zero point) its int8 copy carries, in
    network order, for the tensors held on one grid (:func:`_all_grids`);
    a per-channel grid whose channels' scales differ is left out
    (:func:`int8_channel_scales` has those)."""
    return {n: g for n, g in _all_grids(lowered).items() if not isinstance(g[0], tuple)}


def _all_grids(lowered: Any) -> dict[str, Grid]:
    """Source tensor name -> the grid its int8 copy carries, in network
    order: a layer's out_scale / out_zero_point, a Quantize's, or its
    input's through a byte mover. A per-channel grid (out_scales, a
    Quantize's scales: contracts.cc) whose channels all have the same scale
    is that one grid (a pre-quantized model's per-axis Q/DQ with equal
    scales); otherwise it is the tuple of the channels' float32 scales
    (``BuilderConfig.channel_activations``: channel axis 1, the innermost of
    the NHWC bytes), passed on only by movers that keep the channels where
    they are (max pool, nearest resize)."""
    tensors = lowered.tensors()
    grid_of: dict[int, Grid] = {}
    out: dict[str, Grid] = {}
    for node in lowered.nodes():
        attrs = node["attrs"]
        for t in node["outputs"]:
            info = tensors[t]
            if info["dtype"] != "int8" or info["is_constant"]:
                continue
            # per-channel grids: a layer's out_scales, a Quantize's scales (contracts.cc)
            per_channel = attrs.get("scales") if node["op"] == "int8rt.Quantize" else attrs.get("out_scales")
            g: Optional[Grid]
            if per_channel is not None:
                one = _one_scale(per_channel)
                scale: Union[float, tuple[float, ...]] = one if one is not None else tuple(
                    float(v) for v in np.asarray(per_channel, np.float64).astype(np.float32))
                g = (scale, int(attrs.get("out_zero_point", attrs.get("zero_point", 0))))
            elif "out_scale" in attrs:
                g = (float(attrs["out_scale"]), int(attrs.get("out_zero_point", 0)))
            elif node["op"] == "int8rt.Quantize":
                g = (float(attrs["scale"]), int(attrs.get("zero_point", 0)))
            elif node["op"] in _PASS_THROUGH and node["inputs"] and node["inputs"][0] in grid_of:
                g = grid_of[node["inputs"][0]]
                if isinstance(g[0], tuple) and node["op"] not in _KEEP_CHANNELS:
                    continue  # the channels move: no grid this reader's helpers know
            else:
                continue
            grid_of[t] = g  # layout intermediates (an NCHW copy between moves) too
            if info["name"].endswith(INT8_SUFFIX):
                out[info["name"][: -len(INT8_SUFFIX)]] = g
    return out


def _one_scale(per_channel: Sequence[float]) -> Optional[float]:
    """The scale of a per-channel grid whose channels all have the same
    one, as the engine holds it (float32): that grid is a per-tensor one;
    None where the channels differ."""
    scales = np.asarray(per_channel, np.float64).astype(np.float32)
    if scales.size == 0 or not np.all(scales == scales[0]):
        return None
    return float(scales[0])


def _scoped(per_network: Callable[[Any], dict[str, Any]], lowered: Any, branches: bool) -> dict[str, Any]:
    """``per_network(lowered)`` and, with ``branches``, that of every If
    branch in it, keyed by scoped name."""
    if not branches:
        return per_network(lowered)
    return {scope + name: v for scope, net in scoped_networks(lowered) for name, v in per_network(net).items()}


def int8_scales(lowered: Any, *, branches: bool = False) -> dict[str, float]:
    """Source tensor name -> the scale its int8 copy carries, in network
    order; with ``branches``, those inside If branches too, by scoped name."""
    return {name: s for name, (s, _) in _scoped(_int8_grids, lowered, branches).items()}


def int8_grid_scales(lowered: Any, *, branches: bool = False) -> dict[str, Union[float, tuple[float, ...]]]:
    """Source tensor name -> its scale (:func:`int8_scales`) or its
    channels' (:func:`int8_channel_scales`), for every int8 tensor, in
    network order; ``branches`` as in :func:`int8_scales`."""
    return {name: s for name, (s, _) in _scoped(_all_grids, lowered, branches).items()}


def int8_channel_scales(lowered: Any, *, branches: bool = False) -> dict[str, tuple[float, ...]]:
    """Source tensor name -> the float32 scales of its channels (axis 1),
    for the int8 tensors held on a per-channel grid whose channels differ
    (``BuilderConfig.channel_activations``), which :func:`int8_scales`
    leaves out; ``branches`` as there. Their zero points are in
    :func:`int8_zero_points`."""
    return {name: s for name, (s, _) in _scoped(_all_grids, lowered, branches).items() if isinstance(s, tuple)}


def int8_zero_points(lowered: Any, *, branches: bool = False) -> dict[str, int]:
    """Source tensor name -> the zero point its int8 copy carries, where not
    0 (unsigned activations, a pre-quantized model's), per-channel grids
    included; ``branches`` as in :func:`int8_scales`."""
    return {name: z for name, (_, z) in _scoped(_all_grids, lowered, branches).items() if z}


def flat_floors(lowered: Any, *, branches: bool = False) -> dict[str, float]:
    """Source tensor name -> the bottom of its grid, for the int8 tensors
    whose readers are flat below it (:func:`_flat_bounds`); ``branches`` as
    in :func:`int8_scales`."""
    return {n: lo for n, (lo, _) in _scoped(_flat_bounds, lowered, branches).items() if lo > -math.inf}


def flat_ceilings(lowered: Any, *, branches: bool = False) -> dict[str, float]:
    """Source tensor name -> the top of its grid, for the int8 tensors whose
    readers are flat above it (a HardSigmoid's input); as :func:`flat_floors`."""
    return {n: hi for n, (_, hi) in _scoped(_flat_bounds, lowered, branches).items() if hi < math.inf}


def as_read(x: np.ndarray, floor: Optional[float], ceiling: Optional[float]) -> np.ndarray:
    """``x`` as readers flat below ``floor`` and above ``ceiling`` see it
    (:func:`flat_floors`, :func:`flat_ceilings`; None: no bound)."""
    if floor is not None:
        x = np.maximum(x, np.float32(floor))
    if ceiling is not None:
        x = np.minimum(x, np.float32(ceiling))
    return x


def _flat_bounds(lowered: Any) -> dict[str, tuple[float, float]]:
    """Source tensor name -> (floor, ceiling): the values of its codes -128
    and 127 where every reader is flat beyond them (-inf / inf where not),
    for the int8 tensors held with a zero point that only these read:
    tables built for a clipped input (``int8rt.QLut`` with
    ``in_zero_point``: a HardSwish's input held on [-3, T],
    lower_int8_zero_points.cc; floor only), or a Dequantize into float ops
    flat beyond them (:func:`_flat_range`: a table region the lowering
    planned may run in float in the end, a squeeze-and-excitation gate kept
    float32). What the grid clips there changes nothing the readers
    compute, so the accuracy check and ``compare`` measure such a tensor
    against its float32 values clipped to them."""
    tensors, all_nodes = lowered.tensors(), lowered.nodes()
    readers: dict[int, list[dict[str, Any]]] = {}
    for node in all_nodes:
        for t in node["inputs"]:
            if t >= 0:
                readers.setdefault(t, []).append(node)
    grids = _int8_grids(lowered)
    outputs = set(lowered.outputs())
    out: dict[str, tuple[float, float]] = {}
    for t, nodes in readers.items():
        name = tensors[t]["name"][: -len(INT8_SUFFIX)]
        if not tensors[t]["name"].endswith(INT8_SUFFIX) or name not in grids or grids[name][1] == 0:
            continue
        scale, zero_point = grids[name]
        floor = float(np.float32(-128 - zero_point) * np.float32(scale))
        ceiling = float(np.float32(127 - zero_point) * np.float32(scale))
        lo, hi = floor, ceiling
        for n in nodes:
            if n["op"] == "int8rt.QLut" and n["attrs"].get("in_zero_point", 0) != 0:
                hi = math.inf
            elif (table := _table_reader(n, t)) is not None:
                hi = hi if _flat_top(lowered, table) else math.inf
            elif n["op"] == "int8rt.Dequantize" and n["outputs"]:
                flat_lo, flat_hi = _flat_range(lowered, all_nodes, n["outputs"][0], outputs)
                lo = lo if flat_lo >= floor else -math.inf
                hi = hi if flat_hi <= ceiling else math.inf
            else:
                lo, hi = -math.inf, math.inf
        if lo > -math.inf or hi < math.inf:
            out[name] = (lo, hi)
    return out


def _table_reader(node: dict[str, Any], t: int) -> Optional[int]:
    """The id of the 256-value float table through which ``node`` reads int8
    tensor ``t`` where it reads it only that way (lower_int8_gates.cc: a
    QChannelMul's int8 gate codes, a QLutFloat's input); else None."""
    inputs = node["inputs"]
    if node["op"] == "int8rt.QChannelMul" and len(inputs) == 4 and inputs[1] == t and inputs[0] != t:
        return inputs[3]
    if node["op"] == "int8rt.QLutFloat" and inputs[0] == t:
        return inputs[1]
    return None


def _flat_top(lowered: Any, table: int) -> bool:
    """Whether a table reader is flat above its grid's top: its region's
    values on the two top codes are equal, so the region saturated inside
    the grid (a HardSigmoid gate whose input grid reaches past 2.5). Its
    grid's bottom needs no test: the lowering holds a table reader's input
    with a zero point only below the region's flat part
    (lower_int8_zero_points.cc, adopt_flat_input_grids)."""
    values = np.asarray(lowered.constant_data(table), np.float32).reshape(-1)
    return values.size == 256 and values[255] == values[254]


def _flat_range(lowered: Any, nodes: list[dict[str, Any]], t: int, outputs: set[int]) -> tuple[float, float]:
    """(a, b): everything the network computes from float tensor ``t`` is
    constant in ``t``'s value x below a and above b (-inf / inf: not known
    to be), by the ONNX definitions of the element-wise ops of ``t`` alone
    that read it, followed forward in run order. Each tensor of that region
    is either ``clip(alpha x + beta, lo, hi)`` (:func:`_piece`'s ops composed:
    Relu, Clip, HardSigmoid, Neg, Max / Min with a scalar, scalar Add / Sub /
    Mul / Div and their fused Relu / Clip) or constant below some x (``(None,
    A)``: a ThresholdedRelu, 0 up to its alpha; a HardSwish, 0 below
    -3, or a product with a factor that is 0 below A, as in ``x * relu6(x +
    3) / 6``, and whatever one op makes of such a tensor). A tensor of the
    region that anything else reads, or that is a network output, bounds
    (a, b) by where it is flat: so any element-wise op (a Sigmoid, a
    Softplus) of a region tensor is flat where that tensor is. Such an op
    reading ``t`` itself leaves it raw, rightly: strictly monotone, it sees
    every value the grid would clip."""
    inf = math.inf
    form: dict[int, tuple[Any, ...]] = {t: (1.0, 0.0, -inf, inf)}
    a, b = inf, -inf

    def leaf(y: int) -> None:  # a region tensor read from outside the region
        nonlocal a, b
        f = form[y]
        if f[0] is None:
            lo_x, hi_x = f[1], inf
        else:
            alpha, beta, lo, hi = f
            lo_x, hi_x = ((lo - beta) / alpha, (hi - beta) / alpha) if alpha > 0 else \
                ((hi - beta) / alpha, (lo - beta) / alpha)
        a, b = min(a, lo_x), max(b, hi_x)

    for node in nodes:  # in run order
        ins = [i for i in node["inputs"] if i in form]
        if not ins:
            continue
        out = _region_form(lowered, node, form) if len(node["outputs"]) == 1 else None
        if out is None:
            for y in ins:
                leaf(y)
        else:
            form[node["outputs"][0]] = out
    for y in form:
        if y in outputs:
            leaf(y)
    return (-inf, inf) if (a, b) == (inf, -inf) else (a, b)  # no reader at all: not known


def _region_form(lowered: Any, node: dict[str, Any], form: Mapping[int, tuple[Any, ...]]) -> Optional[tuple[Any, ...]]:
    """The form (:func:`_flat_range`) of ``node``'s output, a function of the
    region's x, where ``node`` is an op the region follows; else None."""
    inf = math.inf
    region = [i for i in node["inputs"] if i in form]
    if len(region) == 1 and node["inputs"].count(region[0]) == 1:
        f = form[region[0]]
        if node["op"] == "HardSwish" and node["inputs"] == region:
            if f[0] is None:
                return f
            alpha, beta, lo, hi = f  # 0 where its input is below -3, constant where the clip is
            return (None, max((max(lo, -3.0) - beta) / alpha, -inf)) if alpha > 0 and lo < inf else None
        if node["op"] == "ThresholdedRelu" and node["inputs"] == region:
            return _thresholded(f, float(node["attrs"].get("alpha", 1.0)))
        piece = _piece(lowered, node, region[0])
        if piece is None:
            return None
        if f[0] is None:
            return f  # one op of a tensor constant below A: constant below A
        return _compose(piece, f)
    if node["op"] == "Mul" and len(node["inputs"]) == 2 and all(i in form for i in node["inputs"]):
        zero_below = [_zero_below(form[i]) for i in node["inputs"]]
        known = [z for z in zero_below if z is not None]
        return (None, max(known)) if known else None  # x * u(x) with u 0 below A: 0 below A
    return None


def _thresholded(f: tuple[Any, ...], threshold: float) -> Optional[tuple[Any, ...]]:
    """ThresholdedRelu(y) = y where y > threshold, else 0 (ONNX), of y = f(x):
    0 for every x where y <= threshold, so constant below the x where y
    reaches it (y rising with x); ``f`` itself where y never gets that low."""
    if f[0] is None:
        return f  # constant below A stays constant below A
    alpha, beta, lo, _ = f
    if alpha <= 0:
        return None  # y falls as x grows: 0 above some x, which this form does not hold
    return f if lo > threshold else (None, (threshold - beta) / alpha)


def _zero_below(f: tuple[Any, ...]) -> Optional[float]:
    """Where a clip-affine form is 0 for every x below it (its low end's
    value is 0); None where it is not."""
    if f[0] is None:
        return None
    alpha, beta, lo, hi = f
    end = lo if alpha > 0 else hi  # the value as x goes to -inf
    if end != 0.0:
        return None
    return (lo - beta) / alpha if alpha > 0 else (hi - beta) / alpha


def _compose(piece: tuple[float, float, float, float], f: tuple[float, float, float, float]
             ) -> tuple[float, float, float, float]:
    """clip(a2 * clip(a1 x + b1, lo1, hi1) + b2, lo2, hi2) as one
    clip(a x + b, lo, hi); a constant where the two ranges miss (lo == hi)."""
    a2, b2, lo2, hi2 = piece
    a1, b1, lo1, hi1 = f
    m1, m2 = a2 * lo1 + b2, a2 * hi1 + b2
    lo, hi = max(lo2, min(m1, m2)), min(hi2, max(m1, m2))
    if lo > hi:  # the inner range lies wholly beyond one end of the outer clip
        lo = hi = lo2 if max(m1, m2) < lo2 else hi2
    return a2 * a1, a2 * b1 + b2, lo, hi


def _piece(lowered: Any, node: dict[str, Any], t: int) -> Optional[tuple[float, float, float, float]]:
    """(alpha, beta, lo, hi) with ``node``'s output = clip(alpha * x + beta,
    lo, hi) for x the value of its input ``t``, alpha != 0, where ``node`` is
    an element-wise op of ``t`` and scalar constants only; else None."""
    op, ins, attrs = node["op"], node["inputs"], node["attrs"]
    consts = [_scalar(lowered, i) if i != t else None for i in ins]
    if ins.count(t) != 1 or any(c is None for i, c in zip(ins, consts) if i != t and i >= 0):
        return None
    inf = math.inf
    if op == "Relu" and ins == [t]:
        return 1.0, 0.0, 0.0, inf
    if op == "Clip" and ins[0] == t:
        lo = consts[1] if len(ins) > 1 and ins[1] >= 0 else float(attrs.get("min", -inf))
        hi = consts[2] if len(ins) > 2 and ins[2] >= 0 else float(attrs.get("max", inf))
        return 1.0, 0.0, lo, hi
    if op == "HardSigmoid" and ins == [t]:
        alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
        return (alpha, beta, 0.0, 1.0) if alpha != 0 else None
    if op == "Neg" and ins == [t]:
        return -1.0, 0.0, -inf, inf
    if op in ("Max", "Min") and len(ins) == 2:  # with a scalar: a clip at it from one side
        c = consts[1 - ins.index(t)]
        return (1.0, 0.0, c, inf) if op == "Max" else (1.0, 0.0, -inf, c)
    if len(ins) != 2 or op not in ("Add", "Sub", "Mul", "Div"):
        return None
    c, first = consts[1 - ins.index(t)], ins[0] == t
    alpha, beta = {"Add": (1.0, c), "Sub": (1.0, -c) if first else (-1.0, c),
                   "Mul": (c, 0.0), "Div": (1.0 / c if c else 0.0, 0.0) if first else (0.0, 0.0)}[op]
    if alpha == 0:
        return None  # c / x, or a product with 0: not a line in x
    act = attrs.get("int8rt_activation")  # a fused activation after the op (graph passes)
    if act is None:
        return alpha, beta, -inf, inf
    if act == "Relu":
        return alpha, beta, 0.0, inf
    if act == "Clip":
        return alpha, beta, float(attrs.get("int8rt_clip_min", -inf)), float(attrs.get("int8rt_clip_max", inf))
    return None


def _scalar(lowered: Any, t: int) -> Optional[float]:
    """The value of constant tensor ``t`` where it holds one value; else None."""
    if t < 0 or not lowered.tensor(t)["is_constant"]:
        return None
    v = np.asarray(lowered.constant_data(t), np.float32).reshape(-1)
    return float(v[0]) if v.size == 1 else None


def quantized_inside(lowered: Any, network: Any) -> set[str]:
    """Source tensors (of ``network``, the float network ``lowered`` came
    from) that a fused int8 layer quantizes without an int8 tensor of their
    own, so :func:`int8_scales` cannot see them though their scale is in
    the engine: the attention probabilities of ``int8rt.QAttention``
    (``probs_scale``: the input of the fused layer's second MatMul, the last
    node of its name, csrc/engine/lower_int8_attention.cc)."""
    tensors = network.tensors()
    by_name = {node["name"]: node for node in network.nodes()}
    out: set[str] = set()
    for node in lowered.nodes():
        if node["op"] != "int8rt.QAttention":
            continue
        second = by_name.get(node["name"].split("+")[-1])
        if second is not None and second["inputs"] and second["inputs"][0] >= 0:
            out.add(tensors[second["inputs"][0]]["name"])
    return out


def int8_tap_engine(lowered: Any, float_shapes: Mapping[str, list[int]], names: Optional[Iterable[str]] = None,
                    metadata: Optional[Mapping[str, str]] = None, *,
                    branches: bool = False) -> tuple[Any, dict[str, str]]:
    """An engine over a copy of the lowered network whose outputs also hold,
    for each source tensor in ``names`` (default: all int8 ones), its value
    as the INT8 engine computes it, in float32 and the float network's
    layout: the int8 copy dequantized where there is one (each channel at
    its own scale on a per-channel grid), else the float tensor itself.

    ``float_shapes`` are the source tensors' shapes (NCHW). With
    ``branches``, names may be scoped ones inside If branches (and the
    default covers them): their dequantized copies are computed inside the
    branch, read by :func:`tapped_run` under ``<scope><name>::tap``.
    Returns the engine and source name -> the output (or tapped) name
    holding it."""
    wanted = list(_scoped(_all_grids, lowered, branches) if names is None else names)
    where: dict[str, str] = {}

    def add_taps(scope: str, net: Any, mark: bool) -> Any:
        scales, channels, zero_points = int8_scales(net), int8_channel_scales(net), int8_zero_points(net)
        logical = {net.tensor(t)["name"] for node in net.nodes() if node["attrs"].get("logical")
                   for t in node["outputs"]}
        for scoped in wanted:
            if not scoped.startswith(scope):
                continue
            name = scoped[len(scope):]  # not found here when it is in a branch inside this one
            q = net.find_tensor(name + INT8_SUFFIX)
            if q < 0 or (name not in scales and name not in channels) or scoped not in float_shapes:
                existing = net.find_tensor(name)  # computed in float only
                if existing >= 0 and net.tensor(existing)["dtype"] == "float32":
                    if mark:
                        net.mark_output(existing)
                    where[scoped] = scoped
                continue
            # a per-channel grid: the Dequantize's scales, channel c's for channel c (convert_layers.cc)
            attrs = {"scale": float(scales[name])} if name in scales else {"scales": list(channels[name])}
            if zero_points.get(name):
                attrs["zero_point"] = zero_points[name]
            if name + INT8_SUFFIX in logical:
                attrs["logical"] = 1
            out = net.add_node("int8rt.Dequantize", name + "::dequantize_tap", [q], attrs, [name + TAP_SUFFIX])[0]
            net.set_shape(out, list(float_shapes[scoped]))
            if mark:
                net.mark_output(out)
            where[scoped] = scoped + TAP_SUFFIX
        return net

    # inside a branch a tap is computed, not an output: tapped_run reads it
    net = _with_branches(lowered, lambda scope, branch: add_taps(scope, branch, False)) if branches else _copy(lowered)
    net = add_taps("", net, True)
    meta = dict(metadata or {})
    meta.setdefault("precision", "int8")
    return _core.Engine.create(net, meta), where


def one_node_engine(network: Any, node: dict[str, Any], *, attrs: Optional[dict[str, Any]] = None,
                    constants: Optional[Mapping[int, np.ndarray]] = None) -> Optional[tuple[Any, list[str]]]:
    """An FP32 engine running just ``node`` of ``network``, its runtime
    inputs as engine inputs; ``attrs`` replace the node's attributes and
    ``constants`` (tensor id -> array) its constant inputs. Returns the
    engine and the runtime input names, or None when an input is not float32
    or the node cannot run alone (logged at DEBUG)."""
    tensors = network.tensors()
    net = _core.Network()
    ids, runtime = [], []
    try:
        for t in node["inputs"]:
            if t < 0:
                ids.append(-1)
                continue
            info = tensors[t]
            if info["is_constant"]:
                data = constants[t] if constants and t in constants else network.constant_data(t)
                ids.append(net.find_tensor(info["name"]) if net.find_tensor(info["name"]) >= 0
                           else net.add_constant(info["name"], data))
            elif info["dtype"] == "float32" and info["shape"]:
                found = net.find_tensor(info["name"])
                if found < 0:
                    found = net.add_input(info["name"], list(info["shape"]), "float32")
                    runtime.append(info["name"])
                ids.append(found)
            else:
                return None
        outs = net.add_node(node["op"], node["name"], ids, dict(node["attrs"] if attrs is None else attrs),
                            [tensors[t]["name"] for t in node["outputs"]])
        for o, t in zip(outs, node["outputs"]):
            if tensors[t]["dtype"] != "float32":
                return None
            net.set_shape(o, list(tensors[t]["shape"]))
            net.mark_output(o)
        return _core.Engine.create(net, {"precision": "fp32"}), runtime
    except (_core.Error, ValueError, TypeError, RuntimeError) as e:
        logger.debug("layer '%s' (%s) cannot run alone: %s", node["name"], node["op"], e)
        return None


class WholeBatch(dict):
    """A calibration batch ({input name: array}) that is run as it came,
    never cut or joined with others along axis 0: the batch of a network
    whose batch dimension is fixed, or whose inputs are not all batch-first
    (a recurrent state ``[2, N, H]`` beside ``x[N, D]``, as Silero VAD's),
    where axis 0 of every input is not the sample axis. ``samples``: the
    samples it holds (:func:`batch_samples` with the model's declared
    shapes, as the router counts them); default: that rule without them.
    ``group``: the recording it was cut from, where known (recordings.py);
    ``index``: its place in the calibration stream (0-based, get_batch
    order), where known (recordings.py's blocks)."""

    def __init__(self, inputs: Mapping[str, np.ndarray], samples: Optional[int] = None,
                 group: Optional[Any] = None, index: Optional[int] = None) -> None:
        super().__init__(inputs)
        self.samples = batch_samples(inputs) if samples is None else samples
        self.group = group
        self.index = index


Samples = Union[Mapping[str, np.ndarray], Sequence[Mapping[str, np.ndarray]]]


def groups(data: Samples) -> list[Mapping[str, np.ndarray]]:
    """``data`` as a list of {input name: array} groups: samples of one shape
    share a group; networks with dynamic dimensions beyond the batch may
    have several (holdout.py's ``search_data``), and each :class:`WholeBatch`
    is a group of its own."""
    return [data] if isinstance(data, Mapping) else list(data)


def rows(group: Mapping[str, np.ndarray]) -> int:
    """Samples in one group: a :class:`WholeBatch`'s ``samples``; else axis
    0 of its inputs that have one (a 0-d input has none)."""
    if isinstance(group, WholeBatch):
        return group.samples
    return next((len(v) for v in group.values() if v.ndim), 1)


def batch_samples(inputs: Mapping[str, np.ndarray], shapes: Optional[Mapping[str, Sequence[int]]] = None) -> int:
    """Samples in one batch: the size of its batch dimension, read from the
    inputs that have one (a 0-d input, a sample rate, has none). Where they
    all agree on axis 0, that (batch-first inputs). Else each input's batch
    axis is axis 0 unless ``shapes`` (the model's declared shapes, -1 free)
    fixes it, then its first free axis (calib/session.py's rule: an LSTM
    state ``[2, N, H]`` has its batch on axis 1), and the size there where
    those agree; else (every shape fixed at import) the one size every
    input has on some axis. A batch with no input of rank >= 1, or where
    none of these rules gives one size, is one sample. The one rule for
    counting a batch's samples: the router's counts and limits
    (holdout.py), :func:`rows` of a :class:`WholeBatch`, SmoothQuant's
    prefetch."""
    shapes = shapes or {}
    ranked = {k: np.shape(a) for k, a in inputs.items() if np.ndim(a)}
    if not ranked:
        return 1
    first = {s[0] for s in ranked.values()}
    if len(first) == 1:
        return first.pop()
    sizes = set()
    for name, shape in ranked.items():
        declared = list(shapes.get(name, ()))
        axis = 0 if len(declared) != len(shape) or declared[0] < 0 else \
            next((i for i, d in enumerate(declared) if d < 0), None)
        if axis is not None:
            sizes.add(shape[axis])
    if len(sizes) == 1:
        return sizes.pop()
    common = set.intersection(*(set(s) for s in ranked.values()))
    return common.pop() if len(common) == 1 else 1


def count(data: Samples) -> int:
    """Samples in ``data`` (:func:`rows` of every group)."""
    return sum(rows(g) for g in groups(data))


def take(data: Optional[Samples], limit: int) -> list[dict[str, np.ndarray]]:
    """The first ``limit`` samples of ``data`` as groups (group by group, the
    last one cut, unless it is a :class:`WholeBatch`: then whole); empty for no data."""
    out: list[dict[str, np.ndarray]] = []
    left = limit
    for group in groups(data) if data is not None else []:
        if left <= 0:
            break
        n = rows(group)
        if isinstance(group, WholeBatch):
            out.append(group)
        else:
            out.append({k: v[:left] if v.ndim else v for k, v in group.items()} if n > left else dict(group))
        left -= n
    return out


def spread(data: Optional[Samples], limit: int) -> list[dict[str, np.ndarray]]:
    """``limit`` samples of ``data`` spread evenly over all of them (sample
    ``i * n // limit`` of the ``n``, counted over the groups in order), as
    groups; all of them where ``n <= limit``. Where the groups are
    :class:`WholeBatch` es (batches never cut), those :func:`whole_picks`
    picks (until 2026-12-05, acc21, :func:`take`'s first ones)."""
    parts = groups(data) if data is not None else []
    n = sum(rows(g) for g in parts)
    if parts and all(isinstance(g, WholeBatch) for g in parts):
        return [parts[i] for i in whole_picks([rows(g) for g in parts], limit)]
    if n <= limit or any(isinstance(g, WholeBatch) for g in parts):
        return take(data, limit)
    chosen = np.arange(limit, dtype=np.int64) * n // limit
    out, start = [], 0
    for group in parts:
        m = rows(group)
        which = chosen[(chosen >= start) & (chosen < start + m)] - start
        start += m
        if len(which):
            out.append({k: v[which] if v.ndim else v for k, v in group.items()})
    return out


def whole_picks(sizes: Sequence[int], limit: int) -> list[int]:
    """Which of whole batches holding ``sizes`` samples :func:`spread`
    takes for ``limit`` samples: all where they hold at most ``limit``;
    else ``k`` batches spread evenly over the ``B`` (batch ``j * B // k``),
    ``k`` the batches that hold ``limit`` samples at their mean size
    (rounded up), so about ``limit`` samples from the whole stream."""
    n, count = sum(sizes), len(sizes)
    if n <= limit:
        return list(range(count))
    k = min(count, max(1, -(-limit * count // n)))
    return [j * count // k for j in range(k)]


def batches(data: Samples, size: int) -> Iterator[dict[str, np.ndarray]]:
    """``data`` in chunks of ``size`` samples along axis 0 (group by group;
    a :class:`WholeBatch` as one chunk); float data as float32, integer data
    (token ids) as it is."""
    for group in groups(data):
        if isinstance(group, WholeBatch):
            yield WholeBatch({k: _run_array(v) for k, v in group.items()}, group.samples, group.group, group.index)
        else:
            yield from _group_batches(group, size)


def _group_batches(data: Mapping[str, np.ndarray], size: int) -> Iterator[dict[str, np.ndarray]]:
    n = rows(data)
    for start in range(0, n, max(1, size)):  # a 0-d input (no samples axis) goes whole with each chunk
        yield {k: _run_array(v[start:start + size] if v.ndim else v) for k, v in data.items()}


def _run_array(v: np.ndarray) -> np.ndarray:
    """``v`` as an engine run takes it: C-contiguous, float data as float32,
    of its own shape (``np.ascontiguousarray`` would make a 0-d array [1])."""
    return np.asarray(v, dtype=np.float32 if v.dtype.kind == "f" else None, order="C")


def run_batched(engine: Any, data: Mapping[str, np.ndarray], size: int,
                keep: Optional[Iterable[str]] = None) -> dict[str, np.ndarray]:
    """Runs ``engine`` (a ``_core.Engine``) over ``data`` in chunks and
    concatenates the outputs named in ``keep`` (default: all)."""
    ctx = engine.create_execution_context()
    parts: dict[str, list[np.ndarray]] = {}
    wanted = None if keep is None else set(keep)
    for chunk in batches(data, size):
        for name, value in ctx.run(chunk).items():
            if wanted is None or name in wanted:
                parts.setdefault(name, []).append(value)
    return {k: np.concatenate(v) for k, v in parts.items()}
