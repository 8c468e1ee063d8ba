"""Bias correction: remove the mean shift int8 puts into conv / GEMM outputs.

Rounding weights and inputs to int8 is unbiased per value but not per output
channel: the sum over a channel's many products drifts by a systematic
amount, which the following layers (and batch statistics folded into them)
never see in float. Following the empirical variant of Nagel et al., "Data-
Free Quantization Through Weight Equalization and Bias Correction" (ICCV
2019, section 4.2) as NNCF's FastBiasCorrection applies it: for each Conv and
Gemm that will read an int8 input, on kept calibration samples (holdout.py),
with the layer's input taken from the float32 network,

    shift[c] = mean over samples and positions of
               layer(q(x), q(W))[c] - layer(x, W)[c]        (before any fused activation)

where q(x) is x on its calibrated int8 grid (the engine's: a zero point where
its plan holds one; and for the output of a table layer, the table applied to
its input's int8 code, lut_inputs.py, also where the layer reads it
through a reshaping op) and q(W) the per-output-channel
int8 weights the lowering makes (csrc/core/quantization.cc, through
int8rt._numerics), and the bias
becomes ``b - shift`` (``Builder.add_to_bias``). Layers are corrected
independently (no re-propagation through corrected layers), as the fast
variant does. The mean needs no layer run: a conv (Gemm) is linear, so the
mean over positions of its output channel c is sum over (input channel i,
tap k) of W[c, i, k] times the mean of the zero-padded input i at tap k's
offsets over the output positions (:func:`_tap_sums`); those means are
formed once for x and once for q(x), over the sum of all the samples
(summed chunk by chunk as they come, per input shape), at a cost of one
sample's input times the taps instead of the conv's over all samples (a
ResNet-50 auto build spent 5.5 of its 16.6 CPU seconds running each conv
twice; and once per chunk, ddddocr's 64 one-sample chunks cost 2.7 CPU s
where once per layer costs a 64th). Layers whose attributes that
does not cover (auto_pad, not 2-D) run as before: the layer alone in
float32 on x and W and on q(x) and q(W) (``one_node_engine``), the naive
twin the tests compare it with. ``BuilderConfig(bias_correction=True)`` applies it,
``False`` never; by default (None) the ``auto`` calibrator measures the
engine with and without it on its held-out samples and keeps it where it
is clearly closer to float32 (run.py), and other calibrators leave it off.
The shifts are measured on the calibration samples the builder kept for
it: at most ``SAMPLES``, strided over the whole calibration stream
(holdout.py's ``search_data``, strided.py), so that a kind of input that
comes only late in a long stream is measured too (until 2026-12-05 the
first 64; RESULTS_accuracy.md, acc18). The layers inside If branches are
measured by branch_bias.py, each branch through :func:`measure_shifts` as
a network of its own (acc22).

A MatMul with a constant B [K, N] whose output one Add of a constant reads
(a Linear as exporters write it for rank > 2 inputs: the int8 lowering
folds that Add into its QGemm's bias) is corrected into that Add's
constant, and an LSTM's input GEMM x W' per gate row into B's Wb half
(:func:`_foldable`; acc24). Their shift is a robust one: per chunk of
samples the median over its rows (tokens, time steps) of the row's error,
averaged over the chunks (:data:`_ROW_OPS`), measured by running the two
products per chunk (row_shifts.py: which rows, real tokens only where the
feed has a token mask; an LSTM's / RNN's recurrent GEMM; acc28). A MatMul
with no such Add (a bias-free Linear) gets one from ``add_to_bias``.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from .._numerics import quantize_weights as _quantize_int8
from . import row_shifts
from .lut_inputs import LutInput, table_output
from .metrics import fake_quantize
from .taps import Samples, WholeBatch, batches, fp32_tap_engine, groups, one_node_engine, rows, take

__all__ = ["SAMPLES", "apply", "correct_biases", "layer_inputs", "layer_outputs", "measure_shifts",
           "quantize_weights"]

logger = logging.getLogger("int8rt")

_ACTIVATION_ATTRS = ("int8rt_activation", "int8rt_clip_min", "int8rt_clip_max")

# Most kept calibration samples (strided over the stream: holdout.py) the shifts
# are measured on; also those the auto calibrator's trial of cross-layer equalization
# calibrates the rescaled tensors on (accuracy/run.py). The strided buffer
# holds every kept sample up to SAMPLES, then more than SAMPLES / 2: with 128
# never fewer than the first 64 that were measured until 2026-12-05 (with 64,
# 33-64: on the tests' collapse model 48 of its 192 kept samples, whose shifts
# were further from those of all 192 than the first 64's; RESULTS_accuracy.md,
# acc18). Measured before that: with 16, on
# PP-OCRv4 rec (64 calibration lines) auto + bias correction scored centred
# cosine 0.9524 against 0.9587 without and 0.9669 with 64; and the 24 kept
# samples of 16 first ones gave PP-OCR cls's rescaled ReLU outputs MSE
# thresholds up to 13% off those of all 256 samples (the equalized engine's
# held-out error 0.141 against 0.065 with 32 samples). The measurement runs
# every corrected layer twice over them, on the inputs the float32 network
# gives it: kept from the calibration pass by the auto calibrator without
# the accuracy check (pass_values.py), else a float32 pass of its own (on a
# 32-image calibration, 24 kept, that pass was a seventh of an auto build).
SAMPLES = 128


def quantize_weights(w: np.ndarray, rows_first: bool = True) -> np.ndarray:
    """``w`` on the lowering's per-output-channel int8 grid, as float32.

    Output channels are axis 0 (Conv OIHW, Gemm with transB) or, with
    ``rows_first=False``, axis 1 of a 2-D ``[K, N]`` matrix."""
    m = np.asarray(w, np.float32)
    axis = 0 if rows_first else 1
    q, scale = _quantize_int8(m, axis)
    bshape = tuple(-1 if d == axis else 1 for d in range(m.ndim))
    return (q.astype(np.float32) * scale.reshape(bshape)).astype(np.float32)


def _layers(network: Any, fp32_layers: set[str]) -> list[int]:
    """The Conv / Gemm / MatMul / LSTM / GRU / RNN nodes bias correction can measure
    (constant weights, a runtime data input, a bias to fold the shift
    into: :func:`_foldable`), whatever the scales."""
    tensors = network.tensors()
    out = []
    for i, node in enumerate(network.nodes()):
        if node["op"] not in _OPS or node["name"] in fp32_layers or len(node["inputs"]) < 2:
            continue
        x, w = tensors[node["inputs"][0]], tensors[node["inputs"][1]]
        if not w["is_constant"] or x["is_constant"]:
            continue
        attrs = node["attrs"]
        if node["op"] == "Gemm" and (attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0
                                     or attrs.get("beta", 1.0) != 1.0):
            continue
        if node["op"] in _ROW_OPS and not _foldable(network, node):
            continue
        out.append(i)
    return out


# The ops measured. A MatMul (a transformer Linear as exporters write it for
# activations of rank > 2) and an LSTM (its input GEMM x W') are measured row
# by row (_ROW_OPS: a row is a token, a time step): per chunk of samples, the
# median over its rows of q(x) q(W) - x W per output column / gate row, then
# the mean over the chunks. Not the mean over the rows, as for a conv: in a
# transformer a few tokens carry outlier activations that int8 clips, and
# their errors, a hundred times the others', set the mean. all-MiniLM-L6's
# first FFN output column 99 under auto's entropy thresholds: mean -2.78, the
# median row -0.005, 1% of the rows at -178; folding the mean into every
# token took the hidden states' centred cosine from 0.92 to 0.39
# (RESULTS_accuracy.md, acc24).
# Which rows (real tokens where the feed has a mask; the recurrent GEMM's
# previous states) and the products: row_shifts.py (acc28). GRU and RNN
# (acc28) as the LSTM: their input GEMM per gate row.
_OPS = ("Conv", "Gemm", "MatMul", "LSTM", "GRU", "RNN")
_ROW_OPS = ("MatMul", "LSTM", "GRU", "RNN")
_RNN_OPS = ("LSTM", "GRU", "RNN")


def _foldable(network: Any, node: dict[str, Any]) -> bool:
    """Whether a MatMul's or recurrent layer's shift has a bias to go into, as
    ``Builder.add_to_bias`` folds it, and the int8 lowering reads it as the
    measurement models it (lower_int8_linear.cc, lower_int8_rnn.cc):

    - MatMul: x of rank >= 2, a constant 2-D B [K, N], no fused activation:
      the shift goes into the Add of a constant of N values that alone
      reads its output (the Linear's bias, which the lowering folds into its
      QGemm's bias), or, for a bias-free Linear, into one ``add_to_bias``
      inserts there (folded the same way; acc28);
    - LSTM, GRU, RNN: x [seq, batch, input] (layout 0), constant W and R, B
      constant or absent: the shift of the gate pre-activations' input GEMM
      goes into B's Wb half, and for an LSTM / RNN whose state is int8 that
      of the recurrent GEMM h R' too (row_shifts.RecurrentGemm; GRU's stays
      float32)."""
    tensors = network.tensors()
    x, w = (tensors[node["inputs"][k]] for k in (0, 1))
    if node["op"] in _RNN_OPS:
        ins = node["inputs"]
        return (len(x["shape"]) == 3 and not node["attrs"].get("layout", 0) and len(w["shape"]) == 3 and len(ins) > 2
                and ins[2] >= 0 and tensors[ins[2]]["is_constant"]
                and (len(ins) < 4 or ins[3] < 0 or tensors[ins[3]]["is_constant"]))
    return len(x["shape"]) >= 2 and len(w["shape"]) == 2 and not any(k in node["attrs"] for k in _ACTIVATION_ATTRS)


def _targets(network: Any, scales: Mapping[str, float], fp32_layers: set[str]) -> list[int]:
    """The layers measured: those of :func:`_layers` whose input has a scale."""
    tensors, nodes = network.tensors(), network.nodes()
    return [i for i in _layers(network, fp32_layers)
            if scales.get(tensors[nodes[i]["inputs"][0]]["name"], 0.0) > 0]


def layer_inputs(network: Any, fp32_layers: set[str]) -> set[str]:
    """The tensors :func:`measure_shifts` reads for any scales: the data
    inputs of the layers it can measure (pass_values.py keeps them from
    the calibration pass)."""
    tensors, nodes = network.tensors(), network.nodes()
    layers = _layers(network, fp32_layers)
    return ({tensors[nodes[i]["inputs"][0]]["name"] for i in layers}
            | {n for i in layers if nodes[i]["op"] in _RNN_OPS for n in row_shifts.state_inputs(network, nodes[i])})


def layer_outputs(network: Any, fp32_layers: set[str]) -> set[str]:
    """The outputs of the layers :func:`measure_shifts` can measure that
    have no fused activation and run alone (no linear form, by the shapes
    known now; a conv of unknown rank counts as such): there the float32
    network's own output is the layer's output before any activation, which
    it measures against (pass_values.py keeps them from the calibration
    pass). The layers with a linear form read only their inputs: keeping
    their outputs too was 0.6 of the 1.0 GB ResNet-50's 24 kept samples
    held (2026-12-03 late afternoon)."""
    tensors, nodes = network.tensors(), network.nodes()
    return {tensors[nodes[i]["outputs"][0]]["name"] for i in _layers(network, fp32_layers)
            if not any(k in nodes[i]["attrs"] for k in _ACTIVATION_ATTRS) and len(nodes[i]["outputs"]) == 1
            and nodes[i]["op"] not in _ROW_OPS and not _linear(network, nodes[i])}


def _linear(network: Any, node: dict[str, Any]) -> bool:
    """Whether :func:`measure_shifts` measures ``node`` through its linear
    form (:func:`_output_sums`), not by running it alone."""
    form = _linear_form(node, list(network.tensors()[node["inputs"][0]]["shape"]))
    w_shape = network.tensors()[node["inputs"][1]]["shape"]
    return form is not None and (form["gemm"] or len(w_shape) == 4)


def _linear_form(node: dict[str, Any], x_shape: list[int]) -> Optional[dict[str, Any]]:
    """The geometry :func:`_tap_sums` needs for ``node`` (a Conv over a 4-D
    input with explicit pads, or a Gemm), or None where it does not apply
    (a MatMul or recurrent layer is measured row by row: row_shifts.py)."""
    attrs = node["attrs"]
    if node["op"] == "Gemm":
        return {"gemm": True, "transB": bool(attrs.get("transB", 0))} if len(x_shape) == 2 else None
    if node["op"] in _ROW_OPS:  # measured row by row: row_shifts.py
        return None
    if len(x_shape) != 4 or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        return None
    pads, strides, dil = (list(attrs.get(k, d)) for k, d in (("pads", [0, 0, 0, 0]), ("strides", [1, 1]),
                                                               ("dilations", [1, 1])))
    if len(pads) != 4 or len(strides) != 2 or len(dil) != 2:
        return None
    return {"gemm": False, "pads": pads, "strides": strides, "dilations": dil, "group": int(attrs.get("group", 1))}


def _tap_sums(xs: np.ndarray, form: dict[str, Any], kernel: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Sums over the output positions of the zero-padded input plane ``xs``
    ([C, H, W], float64: the input summed over the samples, which the taps
    are linear in) at each tap: [C, KH, KW] (float64), and the number of
    output positions summed (per channel and sample)."""
    (pt, pl, pb, pr), (sh, sw), (dh, dw) = form["pads"], form["strides"], form["dilations"]
    kh_n, kw_n = kernel
    c, h, w = xs.shape
    oh = (h + pt + pb - dh * (kh_n - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw_n - 1) - 1) // sw + 1
    xp = np.pad(xs, ((0, 0), (pt, pb), (pl, pr))) if pt or pl or pb or pr else xs
    out = np.empty((c, kh_n, kw_n), np.float64)
    for kh in range(kh_n):
        for kw in range(kw_n):
            part = xp[:, kh * dh: kh * dh + sh * (oh - 1) + 1: sh, kw * dw: kw * dw + sw * (ow - 1) + 1: sw]
            out[:, kh, kw] = part.sum(axis=(1, 2))
    return out, oh * ow


def _output_sums(xs: np.ndarray, samples: int, w64: np.ndarray, form: dict[str, Any]) -> tuple[np.ndarray, int]:
    """Sums over samples and positions of the layer's output channels
    without bias (float64), from ``xs``, its input summed over ``samples``
    samples (a Gemm's [K], a conv's [C, H, W]; float64), through
    :func:`_tap_sums`; and their count. ``w64``: the weights in float64."""
    if form["gemm"]:
        return (w64 @ xs if form["transB"] else xs @ w64), samples
    taps, positions = _tap_sums(xs, form, (w64.shape[2], w64.shape[3]))
    g = form["group"]
    cout, cin_g = w64.shape[0], w64.shape[1]
    sums = np.einsum("gockl,gckl->go", w64.reshape(g, cout // g, cin_g, w64.shape[2], w64.shape[3]),
                     taps.reshape(g, cin_g, w64.shape[2], w64.shape[3]))
    return sums.reshape(cout), samples * positions


def measure_shifts(network: Any, scales: Mapping[str, float], data: Samples, batch_size: int,
                   fp32_layers: set[str], values: Sequence[Mapping[str, np.ndarray]] = (),
                   affine: Optional[Mapping[str, tuple[float, int]]] = None,
                   luts: Optional[Mapping[str, LutInput]] = None, *,
                   linear: bool = True, limit: Optional[int] = None) -> dict[str, list[float]]:
    """Each target layer's correction (the values to add to its bias,
    ``-shift``), measured on the first ``limit`` (default ``SAMPLES``)
    samples of ``data`` (the samples the builder kept for it, spread over
    the stream already);
    nothing is changed. ``values``: the layers' float32 inputs (and the
    outputs of :func:`layer_outputs`) for the first of those samples, in
    blocks of consecutive samples (a whole batch: one block), as the
    calibration pass computed them (pass_values.py); the samples past them
    run a float32 pass of their own in chunks of ``batch_size``, and each
    layer runs alone where its output is not there.
    ``affine``: the inputs the engine holds with a zero point (unsigned
    activations), name -> (scale, zero point), quantized on that grid instead
    of ``scales``' symmetric one. ``luts``: the inputs a table layer writes
    (lut_inputs.py), name -> how: taken as the engine computes them from
    the table's float32 input (which the float32 pass then also gives),
    not rounded from their own float values. ``linear=False``: every layer
    runs alone (the naive twin of the mean through the taps, for the tests)."""
    affine = affine or {}
    luts = _through_movers(network, {x: lut for x, lut in (luts or {}).items()
                                     if network.find_tensor(lut.source) >= 0})

    def engine_input(name: str, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The layer input ``name`` as the engine holds it, dequantized."""
        if name in luts:
            return table_output(luts[name], values[luts[name].source]).reshape(values[name].shape)
        return fake_quantize(values[name], *affine[name]) if name in affine else fake_quantize(values[name],
                                                                                                 scales[name])

    data = take(data, SAMPLES if limit is None else limit)
    nodes, tensors = network.nodes(), network.tensors()
    engines: dict[int, tuple[Any, Any, list[str]]] = {}
    forms: dict[int, tuple[dict[str, Any], np.ndarray, np.ndarray]] = {}  # layer -> (form, W, q(W))
    by_rows: dict[int, Any] = {}  # MatMul / recurrent layer -> a context of its row_error_engine
    recurrent: dict[int, row_shifts.RecurrentGemm] = {}  # LSTM / RNN with an int8 state -> its h R' rows
    mask = row_shifts.mask_input(network)
    for i in _targets(network, scales, fp32_layers):
        node = nodes[i]
        attrs = {k: v for k, v in node["attrs"].items() if k not in _ACTIVATION_ATTRS}
        w_id = node["inputs"][1]
        rows_first = node["op"] in ("Conv", *_RNN_OPS) or bool(attrs.get("transB", 0))
        w = network.constant_data(w_id).astype(np.float32)
        if node["op"] in _RNN_OPS:  # [dirs, gates * hidden, input]: one scale per gate row, as lower_int8_rnn.cc
            w = w.reshape(-1, w.shape[-1])
            gemm = row_shifts.RecurrentGemm.make(network, node, scales)
            if gemm is not None:
                recurrent[i] = gemm
        qw = quantize_weights(w, rows_first)
        if node["op"] in _ROW_OPS:  # as [K, N]: the input's rows times it give the output's
            w_kn, qw_kn = (m.T if rows_first else m for m in (w, qw))
            by_rows[i] = row_shifts.row_error_engine(qw_kn, qw_kn - w_kn).create_execution_context()
            continue
        form = _linear_form(node, list(tensors[node["inputs"][0]]["shape"])) if linear else None
        if form is not None and (form["gemm"] or w.ndim == 4):  # _linear(network, node)
            forms[i] = (form, w.astype(np.float64), qw.astype(np.float64))  # as _output_sums reads them, once
            continue
        ref = one_node_engine(network, node, attrs=attrs)
        quant = one_node_engine(network, node, attrs=attrs, constants={w_id: qw})
        if ref is not None and quant is not None:
            engines[i] = (ref[0], quant[0], ref[1])  # contexts per use: each keeps its run's buffers
    if not engines and not forms and not by_rows:
        return {}
    inputs = {tensors[nodes[i]["inputs"][0]]["name"] for i in [*engines, *forms, *by_rows]}
    wanted = ({name for _, _, runtime in engines.values() for name in runtime}
              | {tensors[nodes[i]["inputs"][0]]["name"] for i in [*forms, *by_rows]}
              | {luts[x].source for x in inputs if x in luts}
              | {n for gemm in recurrent.values() for n in gemm.wanted()}) - {n for g in groups(data) for n in g}
    kept_outputs = layer_outputs(network, fp32_layers)
    ctx = None
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    # per input tensor of a linear layer, per input shape past axis 0: [sum x, sum q(x), samples]
    planes: dict[str, dict[tuple, list]] = {}
    for k, chunk in enumerate(_chunks(data, values, batch_size)):
        if (k < len(values) and values[k] and wanted.issubset(values[k])
                and (isinstance(chunk, WholeBatch) or rows(values[k]) == rows(chunk))):  # values[k]'s samples
            chunk_values = dict(values[k])
        else:  # a float32 pass of its own
            ctx = ctx or fp32_tap_engine(network, sorted(wanted)).create_execution_context()
            chunk_values = ctx.run(chunk)
        chunk_values.update(chunk)
        for x_name in {tensors[nodes[i]["inputs"][0]]["name"] for i in forms}:
            x = chunk_values[x_name]
            xq = engine_input(x_name, chunk_values)
            # x and q(x) summed over the samples, per input shape: the layers
            # are linear in them, so their output sums come once from the totals
            acc = planes.setdefault(x_name, {}).setdefault(x.shape[1:], [0.0, 0.0, 0])
            acc[0] = acc[0] + x.sum(axis=0, dtype=np.float64)
            acc[1] = acc[1] + xq.sum(axis=0, dtype=np.float64)
            acc[2] += x.shape[0]
        row_inputs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for i, row_ctx in by_rows.items():
            x_name = tensors[nodes[i]["inputs"][0]]["name"]
            if x_name not in row_inputs:
                x = chunk_values[x_name]
                keep = row_shifts.token_mask(chunk_values, mask, x.shape)  # padding tokens left out
                row_inputs[x_name] = row_shifts.sample_rows(x, engine_input(x_name, chunk_values), keep)
            x, dx = row_inputs[x_name]
            if not len(x):  # no real token in the chunk
                continue
            errors = row_ctx.run({"x": x, "dx": dx})["e"]
            h_errors = recurrent[i].errors(chunk_values) if i in recurrent else None
            if h_errors is not None and h_errors.shape == errors.shape:  # the gate pre-activation's, row by row
                errors = errors + h_errors
            sums[i] = sums.get(i, 0.0) + np.median(errors, axis=0).astype(np.float64)
            counts[i] = counts.get(i, 0) + 1
        for i, (ref_engine, q_engine, runtime) in engines.items():
            x_name, y_name = (tensors[nodes[i][k][0]]["name"] for k in ("inputs", "outputs"))
            feeds = {r: chunk_values[r] for r in runtime}
            if y_name in chunk_values and y_name in kept_outputs:  # the network's own, no activation fused
                y = chunk_values[y_name]
            else:
                (y,) = ref_engine.create_execution_context().run(feeds).values()
            feeds[x_name] = engine_input(x_name, chunk_values)
            (yq,) = q_engine.create_execution_context().run(feeds).values()
            axes = tuple(a for a in range(y.ndim) if a != 1)
            d = np.subtract(yq, y, dtype=np.float64).sum(axis=axes)  # as yq.astype(float64) - y, one copy fewer
            sums[i] = sums.get(i, 0.0) + d
            counts[i] = counts.get(i, 0) + y.size // y.shape[1]
    for i, (form, w, qw) in forms.items():
        for xs, qs, samples in planes.get(tensors[nodes[i]["inputs"][0]]["name"], {}).values():
            (got, n), (want, _) = _output_sums(qs, samples, qw, form), _output_sums(xs, samples, w, form)
            sums[i] = sums.get(i, 0.0) + (got - want)
            counts[i] = counts.get(i, 0) + n
    return {nodes[i]["name"]: (-total / max(1, counts[i])).astype(np.float32).tolist() for i, total in sums.items()}


# Ops that only reshape their first input (the int8 engine moves its bytes as
# they are): a table's output read through them is the table's output reshaped.
_RESHAPES = ("Unsqueeze", "Squeeze", "Reshape", "Flatten")


def _through_movers(network: Any, luts: Mapping[str, LutInput]) -> dict[str, LutInput]:
    """``luts`` and, under their own names, the tensors reshaping ops make of
    a table's output (a 1-D conv, lowered as 2-D, reads its input through
    an Unsqueeze: Silero VAD's encoder convs read their ReLU tables so;
    RESULTS_accuracy.md, acc22), in network order."""
    out = dict(luts)
    tensors = network.tensors()
    for node in network.nodes():
        if node["op"] in _RESHAPES and node["inputs"] and node["outputs"] and node["inputs"][0] >= 0:
            source = tensors[node["inputs"][0]]["name"]
            if source in out:
                out[tensors[node["outputs"][0]]["name"]] = out[source]
    return out


def _chunks(data: Samples, values: Sequence[Mapping[str, np.ndarray]], batch_size: int
            ) -> Iterator[dict[str, np.ndarray]]:
    """``data`` in chunks along axis 0 (``taps.batches``), the first ones of
    the sizes of ``values``' blocks (each the float32 values of the next
    samples, in order: pass_values.py's parts, uncut; a whole batch one
    chunk, as ``taps.batches`` makes it), the rest of ``batch_size``."""
    k = 0
    for group in groups(data):
        if isinstance(group, WholeBatch):
            yield from batches(group, batch_size)
            k += 1
            continue
        n, start = rows(group), 0
        while start < n:
            size = rows(values[k]) if k < len(values) and values[k] else batch_size
            yield from batches({name: v[start:start + size] for name, v in group.items()}, size)
            start += size
            k += 1


def apply(builder: Any, deltas: Mapping[str, list[float]]) -> Any:
    """Adds ``deltas`` (layer -> values, from :func:`measure_shifts`) to the
    biases of ``builder``'s network; returns ``builder``."""
    for name, delta in deltas.items():
        builder.add_to_bias(name, delta)
    return builder


def correct_biases(builder: Any, network: Any, scales: Mapping[str, float], data: Samples,
                   batch_size: int, fp32_layers: set[str]) -> dict[str, tuple[float, list[float]]]:
    """Measures each target layer's shift on ``data`` and folds it into the
    bias of ``builder``'s network. Returns layer -> (mean |shift|, the
    values added to its bias)."""
    deltas = measure_shifts(network, scales, data, batch_size, fp32_layers)
    apply(builder, deltas)
    out = {name: (float(np.abs(np.asarray(d)).mean()), d) for name, d in deltas.items()}
    if out:
        logger.info("bias correction: %d layers, mean |shift| %.3g", len(out),
                    float(np.mean([m for m, _ in out.values()])))
    return out
