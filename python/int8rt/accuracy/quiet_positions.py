"""The ``auto`` calibrator's float stem: the layers from a network input to
a per-position normalisation (or into a recurrent layer, or into a Log),
kept out of int8 (their Convs in BF16 where the CPU runs BF16 natively, else
float32) where most positions of the tensor that normalisation (recurrent
layer, Log) reads lie below one int8 step.

Which layers. A *stem* is the chain that computes the tensor a
LayerNormalization over the last axis (each position's channels) reads
from one float32 network input alone: walking up from that tensor, every
layer on the way has exactly one float32 input that is not a constant
(shape tensors, int64, do not count), up to the input. HuBERT's and
wav2vec2's feature extractor is one (raw samples -> 7 Conv1d with a
GroupNorm of a group per channel and GELUs -> Transpose -> LayerNorm), so
is SegFormer's first patch embedding; a ViT's is not (the class token's
Concat reads a second non-constant tensor).

When. A per-tensor int8 grid has one step for every position; a
normalisation over each position's channels divides each position by its
own spread. Where the positions' spreads differ by more than the grid's
range (audio: silence and speech; a HuBERT feature extractor's frames span
0.003 to 1.4 in RMS over the channels), the quiet positions lie below one
step of every int8 tensor along the stem: they round to nothing, or to one
level, and the normalisation then scales that rounding up to the size of a
loud position. Measured on the tensor the normalisation reads (float32
values of the judging samples, at the default set's threshold): the share
of positions whose RMS over the channels is below one step (threshold /
127). At ``QUIET_SHARE`` or more, the stem out of int8 is tried against
the engine as it stands on the judging samples and kept where its output
error is lower by ``auto_choice.MIN_GAIN`` (decision_rule.py,
``"margin"``). No threshold can help: the spread is in the data, not in
tails a threshold clips (every method: held-out relative L2 0.74-1.11 on
HuBERT); nor can part of the stem (every int8 tensor on it drops the quiet
positions: HuBERT with its first three Convs out of int8 0.74, its last
three 0.83).

A recurrent layer (LSTM, GRU, RNN) that reads a network input, through
layout layers only (Transpose, Reshape, ...), is the other reader: its int8
form quantizes the sequence on one grid for every time step, so quiet steps
round to nothing there too. Its stem is those layout layers and the
recurrent layer itself, measured and judged as above (the positions: its
time steps). A recurrent layer reading computed features (a CRNN's LSTM
after its CNN) has no stem: the features' spread is the CNN's to keep, and a
whole CNN is not a stem to give up. Resemblyzer's voice encoder (a power mel
spectrogram, not log, into a 3-layer LSTM; acc51): 52-53 % of the first
LSTM's time steps below one step at mse's threshold; every single method
0.05-0.44 centred cosine, auto 0.28-0.41 -> 0.998 with that LSTM in float32 (ONNX
Runtime, which leaves LSTMs in float, 0.9987). Once such a stem is kept, the
network's other recurrent layers are one more candidate (recurrent_float.py).

A Log of a magnitude computed from a network input alone (a spectrogram
front end: strided Convs on the waveform, squares, sums, a square root) is
the third reader; log_stems.py says which layers its stem is (a DAG, not a
chain: the walk, and how it is bounded so that no trunk is ever proposed).
A Log spreads each value by itself, so the tensor it reads is measured per
value (:func:`per_value`), not per position. Basic Pitch (acc52): 94 % of
the values its Log reads below one step at mse's threshold; every single
method 0.56-0.63 centred cosine, auto 0.60 -> 0.997 with the CQT front end
and the Log in float32.

Measured (benchmarks/RESULTS_accuracy.md, acc33): random-weight HuBERT and
wav2vec2 on speech-like audio (25 % silence): 71 % of the frames the
feature extractor hands its LayerNorm are below one step; centred cosine
0.7252 -> 0.9997 (HuBERT; ONNX Runtime INT8 0.4405), the stem's Convs in
BF16 at 0.55x float32's CPU time (float32 stem: 0.95x). Issue 11's rows
(PP-OCR det, MiniLM, ViT, ConvNeXt, LRASPP, Silero VAD) and section 133's
image / text transformers: the same outputs as before (no stem, or no
position below a step: SegFormer 0 %).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import decision_rule, log_stems

__all__ = ["QUIET_SHARE", "RECURRENT", "StemTrial", "Trial", "float_rows", "native_bf16", "per_value", "quiet_share",
           "quiet_stems", "stem_precisions", "stems", "try_stem"]

# The share of positions below one int8 step from which the float stem is
# tried: HuBERT's and wav2vec2's 0.71 (module docstring) against 0.0 on
# SegFormer's image stem; a few quiet positions (padding, a dark border)
# are not worth a trial build.
QUIET_SHARE = 0.1

# the normalisation over each position's channels
_PER_POSITION_NORMS = frozenset({"LayerNormalization"})
# the recurrent layers, whose int8 form quantizes the sequence they read on one
# grid for every time step (csrc/engine/lower_int8_rnn.cc); their stem is the
# recurrent layer and the layout layers between it and the input, no more
# (a CRNN's LSTM reads a CNN's features: not a stem to give up)
RECURRENT = frozenset({"LSTM", "GRU", "RNN"})
_LAYOUT = frozenset({"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"})
# the layers that have a BF16 kernel (BuilderConfig.layer_precisions "bf16")
_BF16_OPS = frozenset({"Conv", "Gemm", "MatMul"})


def stems(network: Any, fp32_layers: Iterable[str] = ()) -> dict[str, list[str]]:
    """Tensor a per-position normalisation, a recurrent layer or a Log
    reads -> the names of the layers of its stem (module docstring; a Log's:
    log_stems.py), input side first, the recurrent layer or the Log itself
    last, for each such tensor computed from one float32 network input alone
    (or that input itself, for a recurrent reader or a Log); layers in
    ``fp32_layers`` count as stem layers already float."""
    tensors, nodes = network.tensors(), network.nodes()
    inputs = {i for i in network.inputs() if tensors[i]["dtype"] == "float32"}
    producer = {o: n for n in nodes for o in n["outputs"]}
    out: dict[str, list[str]] = {}
    for node in nodes:
        if node["op"] not in _PER_POSITION_NORMS | RECURRENT or not node["inputs"]:
            continue
        read = node["inputs"][0]
        if node["op"] in _PER_POSITION_NORMS and node["attrs"].get("axis", -1) not in (-1, len(tensors[read]["shape"]) - 1):
            continue
        chain, t = ([node["name"]] if node["op"] in RECURRENT else []), read  # a recurrent reader quantizes it itself
        while t not in inputs:
            layer = producer.get(t)
            if layer is None or layer["op"] in _PER_POSITION_NORMS | RECURRENT:  # no spread left past one
                break
            if node["op"] in RECURRENT and layer["op"] not in _LAYOUT:
                break
            floats = [i for i in layer["inputs"] if i >= 0 and tensors[i]["dtype"] == "float32"
                      and not tensors[i]["is_constant"]]
            if len(floats) != 1:
                break
            chain.append(layer["name"])
            t = floats[0]
        if t in inputs and chain and not set(chain) <= set(fp32_layers):
            out[tensors[read]["name"]] = chain[::-1]
    for name, chain in log_stems.log_stems(network, fp32_layers).items():  # a Log's (log_stems.py)
        out[name] = [n for n in out.get(name, []) if n not in chain] + chain
    return out


def stem_precisions(network: Any, layers: Iterable[str]) -> dict[str, str]:
    """``layer_precisions`` entries for the stem ``layers``: ``"bf16"`` for
    its Convs, Gemms and MatMuls with constant weights where BF16 kernels
    run natively (AVX512-BF16, under the ISA cap: :func:`native_bf16`),
    ``"fp32"`` for every other layer and everywhere else. BF16 keeps a
    float's exponent per value, so a quiet position keeps its own relative
    precision (HuBERT 0.9997 against 0.9998 in float32, at 0.55x float32's
    CPU time instead of 0.95x; benchmarks/RESULTS_accuracy.md, acc33)."""
    bf16 = native_bf16()
    tensors = network.tensors()
    nodes = {n["name"]: n for n in network.nodes()}

    def precision(name: str) -> str:
        node = nodes[name]
        weights = [i for i in node["inputs"][1:2] if i >= 0]
        if bf16 and node["op"] in _BF16_OPS and weights and tensors[weights[0]]["is_constant"]:
            return "bf16"
        return "fp32"
    return {n: precision(n) for n in layers}


def native_bf16() -> bool:
    """Whether BF16 kernels run natively here: the CPU has AVX512-BF16 and
    the ISA cap (``INT8RT_MAX_ISA``, ``int8rt.set_max_isa``) allows the
    avx512bf16 tier they are registered under (csrc/kernels/x86/avx512bf16)."""
    from ..kernels import ISA_NAMES, cpu_features, get_max_isa

    return bool(cpu_features().get("avx512_bf16")) and ISA_NAMES.index(get_max_isa()) >= ISA_NAMES.index("avx512bf16")


# A tensor's values as rows of its last axis: one array, or one per calibration run.
Rows = Union[np.ndarray, Sequence[np.ndarray]]


def quiet_share(values: Rows, threshold: float) -> float:
    """The share of positions of ``values`` (every axis but the last) whose
    RMS over the last axis (the channels) is below one step of the
    symmetric int8 grid of ``threshold``. ``values`` may be a list of
    arrays whose last axes differ (one per calibration run: an attention
    product's rows are as long as that run's sequence); their positions
    count alike."""
    parts = [values] if isinstance(values, np.ndarray) else list(values)
    rms = [np.sqrt((v.reshape(-1, v.shape[-1]) ** 2).mean(axis=1))
           for v in (np.asarray(p, dtype=np.float64) for p in parts) if v.ndim >= 2 and v.size]
    if not rms or not threshold > 0:
        return 0.0
    return float((np.concatenate(rms) < threshold / 127.0).mean())


def float_rows(network: Any, data: Any, batch_size: int) -> Callable[[list[str]], dict[str, Rows]]:
    """``values(names)`` for :func:`quiet_stems`: the float32 values of the
    tensors ``names`` of ``network`` (a builder's optimized network) over
    the samples ``data`` (taps.Samples), in runs of ``batch_size``, as rows
    of the last axis: per tensor one [rows, last axis] array per run (runs
    of different lengths may differ in both; :func:`quiet_share` takes the
    list)."""
    from .taps import batches, fp32_tap_engine

    def values(names: list[str]) -> dict[str, Rows]:
        ctx = fp32_tap_engine(network, names).create_execution_context()
        parts: dict[str, list[np.ndarray]] = {k: [] for k in names}
        for chunk in batches(data, batch_size):
            out = ctx.run(chunk)
            for k in names:
                parts[k].append(np.asarray(out[k]).reshape(-1, np.shape(out[k])[-1]))
        return parts
    return values


def per_value(rows: Rows) -> list[np.ndarray]:
    """``rows`` with each value a position of its own (rows of one): a Log
    spreads each value by itself, so a value below one step is a quiet
    position whatever its neighbours (log_stems.py)."""
    parts = [rows] if isinstance(rows, np.ndarray) else list(rows)
    return [np.asarray(p).reshape(-1, 1) for p in parts]


def quiet_stems(network: Any, thresholds: Mapping[str, float],
                values: Callable[[list[str]], Mapping[str, Rows]],
                fp32_layers: Iterable[str] = ()) -> tuple[list[str], dict[str, float]]:
    """The stem layers to try in float32, and the quiet share of each
    stem's normalised tensor: the stems (:func:`stems`) whose tensor holds a
    threshold in ``thresholds`` and a quiet share of at least
    ``QUIET_SHARE`` on ``values(names) -> {name: float32 values}``; the
    tensor a Log reads counted per value (:func:`per_value`)."""
    found = {k: v for k, v in stems(network, fp32_layers).items() if thresholds.get(k, 0.0) > 0}
    if not found:
        return [], {}
    logs = set(log_stems.log_stems(network, fp32_layers))
    got = values(sorted(found))
    shares = {k: round(quiet_share(per_value(got[k]) if k in logs else got[k], thresholds[k]), 4)
              for k in found if k in got}
    layers: list[str] = []
    for k, share in shares.items():
        if share >= QUIET_SHARE:
            layers += [n for n in found[k] if n not in layers]
    return layers, shares



# float_trial({layer: "fp32" | "bf16"}) -> (a Builder like the build's with
# those layer precisions too, a callable adopting it as the build's):
# builder.build_engine
Trial = Callable[[dict[str, str]], tuple[Any, Callable[[], None]]]


@dataclass(frozen=True)
class StemTrial:
    """The float stem tried at one set of thresholds.

    Attributes:
        layers: the stem layers tried out of int8, each's precision
            (:func:`stem_precisions`; none: nothing was tried).
        shares: quiet share of each stem's normalised tensor.
        current / tried: errors (auto_choice._Errors) of the build's engine
            and of the one with the stem in float32 (None where not tried).
        engine, builder, adopt: the engine tried, its Builder, and what
            makes that Builder the build's.
        uncentred: the decision reads the uncentred error too.
        per_value: the tensors in ``shares`` measured per value (a Log's:
            :func:`per_value`), not per position.
    """

    layers: dict[str, str]
    shares: dict[str, float]
    current: Optional[Any] = None
    tried: Optional[Any] = None
    engine: Any = None
    builder: Any = None
    adopt: Optional[Callable[[], None]] = None
    uncentred: bool = False
    per_value: frozenset[str] = frozenset()

    @property
    def keep(self) -> bool:
        """The stem stays float32: output error lower by the margin
        (decision_rule.keeps, ``"margin"``: it costs the stem's speed)."""
        return self.tried is not None and decision_rule.keeps(self.tried, self.current, test="margin",
                                                              uncentred=self.uncentred)

    def report(self) -> str:
        """The build report's ``float_stem`` entry."""
        shares = ", ".join(f"{k} {v:.0%}" + (" of its values" if k in self.per_value else "")
                           for k, v in self.shares.items())
        if self.tried is None:
            return f"off (positions below one int8 step: {shares or 'no stem'}; under {QUIET_SHARE:.0%})"
        bf16 = sum(p == "bf16" for p in self.layers.values())
        return (f"{'on' if self.keep else 'off'} (auto: {len(self.layers)} layers, {bf16} of them in BF16; "
                f"positions below one int8 step: {shares})")


def try_stem(network: Any, trial: Trial, scales: Mapping[str, float], current_errors: Callable[[], Any],
             judge: Callable[[Any], Any], values: Callable[[list[str]], Mapping[str, Rows]], *,
             fp32_layers: Iterable[str] = (), bias_correction: Optional[bool] = None) -> StemTrial:
    """The float stem (:func:`quiet_stems` at the thresholds of ``scales``,
    int8 scales) tried against the build's engine at ``scales``, whose
    errors on the judging samples ``current_errors()`` gives; ``judge``
    scores the engine tried."""
    thresholds = {k: v * 127.0 for k, v in scales.items()}
    names, shares = quiet_stems(network, thresholds, values, fp32_layers)
    logs = frozenset(log_stems.log_stems(network, fp32_layers)) & set(shares)
    if not names:
        return StemTrial({}, shares, per_value=logs)
    layers = stem_precisions(network, names)
    builder, adopt = trial(layers)
    engine = builder.build(dict(scales))
    return StemTrial(layers, shares, current_errors(), judge(engine), engine, builder, adopt,
                     decision_rule.reads_uncentred("float stem", bias_correction), logs)
