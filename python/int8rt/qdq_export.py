"""Export a Q/DQ ONNX model: ``int8rt.export_qdq(model, scales, path)``.

TensorRT 11 dropped implicit quantization (calibrators) and builds INT8
engines only from explicitly quantized models, where QuantizeLinear /
DequantizeLinear pairs carry the scales; ONNX Runtime runs such models too.
This writes one from the original FP32 ONNX model and either an INT8 engine
built in this process (the export reproduces that engine: below) or
calibrated activation scales (int8rt's, or a TensorRT calibration cache).

From an engine (``export_qdq(model, engine, path)``): the engine's own int8
plan and lowered network (:mod:`int8rt._qdq_engine`) give each tensor's
actual grid (uint8 with the plan's zero point for unsigned activations and
asymmetric table outputs, per-axis scales on axis 1 for per-channel
activation grids) and each weight layer's weights and bias as the engine
computes with them (BatchNormalization and constant Mul / Add folded in,
cross-layer equalization, bias correction, a per-channel input grid folded
into the weights); the ONNX nodes the build folded away are removed
(:mod:`int8rt._qdq_weights`). The placement below holds for both.

From scales (the symmetric export):

Where the pairs go is decided by int8rt itself: the model is imported and
lowered to INT8 with the given scales (as ``int8rt.build_engine`` would,
graph passes included), its int8 plan (``Engine.int8_plan()``) is read, and
every tensor int8rt holds in int8 gets a
Q -> DQ pair (TensorRT's explicit-quantization convention: the inputs of
quantizable layers, i.e. Conv/Gemm/MatMul and the Add/Concat/pooling layers
int8rt runs in int8, and the int8 outputs of int8 layers). A tensor without a
scale never gets one, because int8rt runs its readers in float. Scales are
the calibrated per-tensor ones, zero point 0 (int8, symmetric); the one
exception is the output of a max-pool run in int8, which keeps its input's
scale (max-pooling int8 values is exact, as in int8rt's QMaxPool and
TensorRT). Weights of the Conv/Gemm/MatMul layers int8rt runs in int8 become
int8 initializers + DequantizeLinear, per output channel with int8rt's
formula (``_qdq_graph.py``); biases stay float32.

Inside If branches: a branch the build lowered to int8 (calibration took it)
gets its Q/DQ pairs and int8 weights inside the branch subgraph, placed by
the same rules from the plan's records under the branch's scope
(:mod:`int8rt._qdq_scopes`); a branch left float32 stays as it is. The
tensors of a 1-D Conv or pool, which int8rt runs as 2-D, are written on
their ONNX twins (``_qdq_scopes.lifting_aliases``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Union

import numpy as np

from . import _core
from ._errors import Error, InvalidArgumentError, NotSupportedError
from ._names import check_names
from .engine import Engine

if TYPE_CHECKING:
    import onnx

    from ._qdq_graph import ActivationQ, Names
    from ._qdq_scopes import Level, PlanView

__all__ = ["export_qdq"]

logger = logging.getLogger("int8rt")

QDQ_MIN_OPSET = 13  # per-axis DequantizeLinear

ScalesOrCache = Union[Mapping[str, float], bytes, bytearray, memoryview, str, "os.PathLike[str]", Engine]


def export_qdq(model: Union[str, "os.PathLike[str]", bytes, "onnx.ModelProto"], scales_or_cache: ScalesOrCache,
               path: Union[str, "os.PathLike[str]"], *, per_channel: bool = True,
               fp32_layers: Iterable[str] = ()) -> None:
    """Writes an explicitly quantized (Q/DQ) copy of ``model`` to ``path``.

    Args:
        model: the original FP32 ONNX model (path, bytes or ``onnx.ModelProto``,
            not modified). Models below opset 13 are converted to opset 13.
        scales_or_cache: an INT8 :class:`int8rt.Engine` built from ``model``
            in this process (``int8rt.build_engine``; its ``int8_plan()`` is
            not None): the export then writes that engine's grids, weights
            and biases, and ONNX Runtime running it reproduces the engine.
            Or, for the symmetric export (zero points 0, weights quantized
            from the model's: what a build from these scales alone holds):
            tensor name -> scale (``amax / 127``), e.g.
            ``engine.scales()``; or a TensorRT calibration cache as bytes, as a
            ``str`` starting with ``"TRT-"`` (its contents), or as a path
            (``os.PathLike``, or any other ``str``).
        path: the output file, written atomically (temporary file, then
            ``os.replace``): on any failure nothing is left at ``path`` and an
            existing file there is unchanged.
        per_channel: per-output-channel weight scales (int8rt's numerics);
            False gives one scale per weight tensor, which int8rt itself never
            uses (the exported model then no longer matches int8rt's engine).
            Scales only (an engine's weights are its own).
        fp32_layers: ONNX node names kept in float32 (as
            ``BuilderConfig.layer_precisions[name] = "fp32"``). Scales only
            (an engine's float layers are the ones it was built with).

    Raises:
        InvalidArgumentError: an unknown name in ``fp32_layers``, or scales with
            which no layer of the model runs in int8; an engine without an
            int8 plan (FP32, or loaded from a file), or with ``per_channel``
            or ``fp32_layers`` set.
        FormatError: a malformed model or cache.
        NotSupportedError: an operator int8rt cannot import, or a weight that
            is computed in the graph rather than stored.
        ImportError: without the ``onnx`` package.
    """
    import onnx
    from onnx import version_converter

    from ._qdq_graph import rewrite_qdq
    from ._qdq_scopes import as_imported, if_branches, name_nodes
    from .onnx._importer import import_with_graphs
    from .onnx._load import load

    proto, source = load(model)
    proto = _copy(proto)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset < QDQ_MIN_OPSET:
        logger.info("%s: converting opset %d to %d for per-axis DequantizeLinear", source, opset, QDQ_MIN_OPSET)
        proto = version_converter.convert_version(proto, QDQ_MIN_OPSET)
    # int8rt's view of the model: its If branches, the Ifs it decided at import, the 1-D lifting (_qdq_scopes)
    network, graphs = import_with_graphs(proto)
    if any(True for _ in if_branches(proto.graph)):
        proto = as_imported(graphs)
    name_nodes(proto, network)
    if isinstance(scales_or_cache, Engine):
        if not per_channel or list(fp32_layers):
            raise InvalidArgumentError(f"{source}: per_channel and fp32_layers are the engine's own when exporting "
                                       "an engine; build the engine with them instead")
        n_act, n_w = _rewrite_from_engine(proto, network, scales_or_cache, source)
    else:
        scales = _resolve_scales(scales_or_cache)
        fp32 = _check_layers(proto, fp32_layers, source)
        plan = _int8_plan(proto, network, scales, fp32, source)
        n_act, n_w = _rewrite_levels(proto, plan, network, None, source, lambda level, names: rewrite_qdq(
            level.graph, _activations(level, source), _weight_nodes(level.plan, level.graph), per_channel,
            names=names, constants=level.constants))
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise Error(f"{source}: the Q/DQ model int8rt produced fails the ONNX checker: {e}") from e
    if proto.ByteSize() >= 2**31:
        raise NotSupportedError(f"{source}: the Q/DQ model exceeds protobuf's 2 GiB (external data is not written)")
    _write_atomic(proto.SerializeToString(), os.fspath(path))
    logger.info("wrote %s: %d activation Q/DQ pairs, %d int8 weights", os.fspath(path), n_act, n_w)


def _copy(proto: "onnx.ModelProto") -> "onnx.ModelProto":
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(proto)
    return out


def _resolve_scales(scales_or_cache: ScalesOrCache) -> dict[str, float]:
    from .calib.cache import read_cache

    if isinstance(scales_or_cache, Mapping):
        return {str(k): float(np.float32(v)) for k, v in scales_or_cache.items()}
    if isinstance(scales_or_cache, (bytes, bytearray, memoryview)):
        return read_cache(bytes(scales_or_cache))[2]
    if isinstance(scales_or_cache, str) and scales_or_cache.startswith("TRT-"):
        return read_cache(scales_or_cache)[2]
    if isinstance(scales_or_cache, (str, os.PathLike)):
        cache_path = os.fspath(scales_or_cache)
        if not os.path.isfile(cache_path):
            raise FileNotFoundError(f"calibration cache '{cache_path}' does not exist")
        return read_cache(_PathArg(cache_path))[2]
    raise TypeError("scales_or_cache must be a {tensor: scale} mapping, cache bytes/text, or a cache path; "
                    f"got {type(scales_or_cache).__name__}")


class _PathArg(os.PathLike):
    """A plain ``str`` path as ``os.PathLike`` (``read_cache`` takes str as contents)."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __fspath__(self) -> str:
        return self._path


def _check_layers(proto: "onnx.ModelProto", fp32_layers: Iterable[str], source: str) -> dict[str, str]:
    from ._qdq_scopes import scoped_names

    fp32 = {str(name): "fp32" for name in fp32_layers}
    check_names(sorted(fp32), [n.name for n in proto.graph.node] + sorted(scoped_names(proto.graph)[0]),
                f"{source}: fp32_layers")
    return fp32


def _rewrite_levels(proto: "onnx.ModelProto", plan: Any, network: Any, lowered: Any, source: str,
                    edit: Callable[["Level", "Names"], tuple[int, int]]) -> tuple[int, int]:
    """Runs ``edit(level, names)``, which returns the (activation pairs,
    int8 weights) it wrote, on the main graph and on each If branch with
    plan records (``_qdq_scopes.levels``), with fresh names for the whole
    model; then drops the float weights that only rewritten nodes read, in
    whichever graph holds them (a branch's Conv may read an outer one)."""
    from ._qdq_graph import Names
    from ._qdq_scopes import drop_unread_initializers, levels, reads_anywhere

    names = Names(proto.graph)
    read_before = reads_anywhere(proto.graph)
    n_act = n_w = 0
    for level in levels(proto.graph, plan, network, lowered):
        a, w = edit(level, names)
        n_act, n_w = n_act + a, n_w + w
        if level.scope:
            logger.info("%s: If branch '%s': %d activation Q/DQ pairs, %d int8 weights", source, level.scope, a, w)
    drop_unread_initializers(proto.graph, read_before)
    return n_act, n_w


def _rewrite_from_engine(proto: "onnx.ModelProto", network: Any, engine: Engine, source: str) -> tuple[int, int]:
    """Edits ``proto`` into the Q/DQ form of ``engine`` (module docstring),
    each graph with the engine's lowered network for it."""
    from ._qdq_engine import layer_weights
    from ._qdq_graph import rewrite_qdq
    from ._qdq_weights import adopt_weights

    plan = engine.int8_plan()
    if plan is None:
        raise InvalidArgumentError(
            f"{source}: the engine has no int8 plan (an FP32 engine, or one loaded from a file: engine files do "
            "not keep it); export from the INT8 engine int8rt.build_engine returned, or pass engine.scales() "
            "for the symmetric export")
    _warn_key_count_grids(engine, source)

    def edit(level: "Level", names: "Names") -> tuple[int, int]:
        graph, consts = level.graph, level.constants
        weights = layer_weights(level.lowered, level.plan, {n.name: n for n in graph.node}, consts, source)
        engine_names = {n["name"] for n in level.lowered.nodes()} | {s for layer in level.plan.layers
                                                                     for s in layer.sources}
        removed = adopt_weights(graph, weights, engine_names, consts, names.fresh)
        logger.info("%s: %s%d layers take the engine's weights; nodes folded into them removed: %s", source,
                    f"If branch '{level.scope}': " if level.scope else "", len(weights), removed)
        given = {name: w for name, w in weights.items() if w.q is not None}
        by_formula = sorted(_weight_nodes(level.plan, graph) - set(given))
        if by_formula:  # ConvTranspose: a fold or equalization the engine applied to them is not carried
            logger.warning("%s: int8 weights of %s quantized from the model's float weights, not read from the "
                           "engine", source, by_formula)
        return rewrite_qdq(graph, _activations(level, source), _weight_nodes(level.plan, graph) | set(given), True,
                           given, names=names, constants=consts)

    return _rewrite_levels(proto, plan, network, engine.network(), source, edit)


def _warn_key_count_grids(engine: Engine, source: str) -> None:
    """Says where the engine's unfused attention chain quantizes
    probabilities on a grid that follows the key count
    (accuracy/probs_keys.py): a Q/DQ model has one static scale per tensor,
    so the export writes the calibrated one there, with which rows shorter
    than calibrated clip again (RESULTS.md §135). A fused QAttention's
    probabilities are left float by the export and need no word."""
    from .accuracy.probs_keys import key_count_layers

    quantizes = key_count_layers(engine.network(), op="int8rt.Quantize")
    if quantizes:
        name, keys = next(iter(quantizes.items()))
        logger.warning("%s: the engine quantizes %d attention probabilities tensor(s) on a grid that follows the "
                       "key count below the calibration's (e.g. at '%s', below %d keys); a Q/DQ model cannot, so the "
                       "export writes the calibrated scale, with which rows of fewer keys clip", source,
                       len(quantizes), name, keys)


def _int8_plan(proto: "onnx.ModelProto", network: Any, scales: dict[str, float], fp32: dict[str, str],
               source: str) -> _core.Int8Plan:
    """Lowers the model with int8rt and returns its int8 plan: the tensors it
    holds in int8 (-> activation Q/DQ) and which Conv/Gemm/MatMul run with
    int8 weights, in the main graph and in the If branches the scales reach."""
    from ._qdq_scopes import scoped_names
    from .accuracy.taps import scoped_tensors

    graph = proto.graph
    tensor_names = {i.name for i in graph.input} | {o for n in graph.node for o in n.output}
    unused = sorted(set(scales) - tensor_names - scoped_names(graph)[1] - set(scoped_tensors(network)))
    if unused:
        logger.warning("%s: %d scale(s) name no tensor of the model (ignored), e.g. %r", source, len(unused),
                       unused[0])
    plan = _core.Builder(network, "int8", fp32, True).build(scales).int8_plan()
    if not plan.tensors:
        raise InvalidArgumentError(
            f"{source}: no layer runs in int8 with these scales ({len(scales)} given, "
            f"{len(scales) - len(unused)} name tensors of the model)")
    return plan


def _activations(level: "Level", source: str) -> dict[str, "ActivationQ"]:
    """The int8 tensors of the level's own records, each on its grid
    (``_qdq_engine.tensor_grids``) and under its ONNX name: a tensor of the
    1-D lifting under its ONNX twin's, unless that twin has a record itself."""
    from ._qdq_engine import tensor_grids
    from ._qdq_graph import ActivationQ
    from ._qdq_scopes import lifting_aliases

    plan = level.plan
    aliases = lifting_aliases(level.source, level.visible)
    sources = {layer.name: layer.sources for layer in plan.layers}
    grids = tensor_grids(plan)
    own = [t for t in plan.tensors if not t.scope]  # a nested If's records are written in its branch
    direct = {t.tensor for t in own if t.tensor in level.visible}
    activations: dict[str, ActivationQ] = {}
    for t in own:
        name = t.tensor if t.tensor in direct else aliases.get(t.tensor)
        if name is None:
            raise Error(f"{source}: int8rt's int8 tensor '{level.scope}{t.tensor}' has no counterpart in the ONNX "
                        "graph")
        if name != t.tensor and name in direct:
            continue  # the twin's own record says how the ONNX tensor is held
        # A tensor quantized from float is fake-quantized for its int8 readers only.
        who = frozenset() if t.produced_in_int8 else frozenset(s for r in t.readers for s in sources[r])
        g = grids[t.tensor]
        aq = ActivationQ(g.scale, t.produced_in_int8, who, g.zero_point, g.channel_scales)
        had = activations.get(name)
        if had is not None:  # x_2d for one lifted Conv, x for another reader: one pair for both
            if (had.scale, had.zero_point, had.channel_scales) != (aq.scale, aq.zero_point, aq.channel_scales):
                raise Error(f"{source}: int8rt holds '{level.scope}{name}' on two grids (via '{t.tensor}')")
            produced = had.produced_in_int8 or aq.produced_in_int8
            aq = ActivationQ(aq.scale, produced, frozenset() if produced else had.readers | aq.readers,
                             aq.zero_point, aq.channel_scales)
        activations[name] = aq
    return activations


def _weight_nodes(plan: "PlanView", graph: "onnx.GraphProto") -> set[str]:
    """The Conv / Gemm / MatMul / ConvTranspose nodes of ``graph`` int8rt runs with int8 weights."""
    onnx_nodes = {n.name: n for n in graph.node}
    # A grouped ConvTranspose's output channel spans two weight axes, which
    # one per-axis DequantizeLinear cannot scale: its weights stay float.
    return {name for layer in plan.layers
            if layer.op in ("int8rt.QConv", "int8rt.QGemm", "int8rt.QConvTranspose") and not layer.scope
            for name in layer.sources
            if name in onnx_nodes and (onnx_nodes[name].op_type in ("Conv", "Gemm", "MatMul") or
                                       (onnx_nodes[name].op_type == "ConvTranspose" and
                                        _group(onnx_nodes[name]) == 1))}


def _group(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "group"), 1)


def _write_atomic(data: bytes, path: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
