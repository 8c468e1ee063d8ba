"""The build report: what calibration chose and what it costs in accuracy.

``engine.build_report()`` returns a :class:`BuildReport`. The builder fills it
after an INT8 build (int8rt/accuracy/check.py) and stores it as JSON in the
engine's metadata (key ``build_report``), so a saved engine keeps it. Plain
frozen dataclasses: ``to_json`` / ``from_json`` round-trip, ``format``
gives the text the CLI prints.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Collection, Mapping, Optional

from .mixed import latency_verdict, latency_warning

__all__ = ["BuildReport", "OutputCheck", "TensorCheck", "METADATA_KEY", "coarse_histogram", "latency_text",
           "rescaled_tensors"]

METADATA_KEY = "build_report"
HISTOGRAM_BINS = 64  # per tensor in the report: enough to see a spike or a long tail, small in the engine file


@dataclass(frozen=True)
class TensorCheck:
    """One int8 tensor measured on the held-out slice.

    Attributes:
        name: the tensor (ONNX name).
        threshold: the amax the engine quantizes it with (``scale * 127``).
        method: what chose the threshold (``"entropy"``, ``"auto:mse"``, ...).
        clipped: share of held-out values int8 saturates (beyond the
            rounding range of codes 127 / -128, metrics.clipped_fraction).
        sqnr_db: SQNR of the tensor quantized at its scale (dB).
        observed_max: largest ``|x|`` on the held-out slice.
        warning: why this tensor is suspicious, or None.
        low: for a tensor held with a zero point (unsigned or asymmetric
            activations, docs/numerics.md), the bottom of its range (the
            value of code -128; ``threshold`` is then the top, code 127);
            None for a symmetric one, whose range is ``±threshold``.
        observed_min, observed_top: smallest and largest value on the
            held-out slice (None in reports written before they were kept).
            Like ``clipped`` and ``sqnr_db``, as the tensor's readers see it:
            one whose readers are flat beyond its grid (a HardSigmoid's input,
            taps.flat_floors / flat_ceilings) is clipped to the grid first.
        histogram: the calibration histogram of ``|x|`` coarsened to at
            most ``HISTOGRAM_BINS`` bins from 0: ``(bin width, counts)``, for
            the report's plots (None where the builder had no histogram:
            a cache, an older report).
        channel_thresholds: for a tensor held on a per-channel grid
            (``BuilderConfig.channel_activations``: one scale per channel
            of axis 1), each channel's top (code 127); ``threshold`` and
            ``low`` are then the widest channel's, and ``clipped`` and
            ``sqnr_db`` measure each value at its own channel's scale.
            None for a tensor on one grid.
        channel_observed: on a per-channel grid, each channel's largest
            held-out value as its top is compared with: the largest ``|x|``
            on a symmetric grid, the largest ``x`` on one held with a zero
            point (None for a tensor on one grid, or an older report). The
            calibration keeps channel maxima, not per-channel histograms, so
            these bars, not a histogram, are what the page shows per channel.
    """

    name: str
    threshold: float
    method: str
    clipped: float
    sqnr_db: float
    observed_max: float
    warning: Optional[str] = None
    low: Optional[float] = None
    observed_min: Optional[float] = None
    observed_top: Optional[float] = None
    histogram: Optional[tuple[float, tuple[int, ...]]] = None
    channel_thresholds: Optional[tuple[float, ...]] = None
    channel_observed: Optional[tuple[float, ...]] = None

    def channels_over(self) -> Optional[int]:
        """How many channels of a per-channel grid have a held-out value
        past their top (None where unknown)."""
        if not self.channel_thresholds or not self.channel_observed:
            return None
        return sum(1 for top, seen in zip(self.channel_thresholds, self.channel_observed) if seen > top)

    def range_text(self) -> str:
        """The range the engine holds beside the one observed: ``"4.453 /
        4.493"`` (threshold / largest |x|) for a symmetric tensor; ``"[-2.507,
        3.304] / [-3.08, 2.208]"`` for one held with a zero point, which
        clips below as well as above. On a per-channel grid, the narrowest
        and the widest channel's: ``"0.08644 to 20.81 per channel (8) /
        19.7"``, ``"[-0.1, 0.2] to [-2.5, 4.9] per channel (8) / [min, max]"``."""
        seen = (f"[{self.observed_min:.4g}, {self.observed_top:.4g}]"
                if self.observed_min is not None and self.observed_top is not None
                else f"max |x| {self.observed_max:.4g}")
        tops = self.channel_thresholds
        if tops:
            if self.low is None:
                return f"{min(tops):.4g} to {max(tops):.4g} per channel ({len(tops)}) / {self.observed_max:.4g}"
            ratio = self.low / self.threshold  # every channel's bottom / top: (-128 - z) / (127 - z)
            return (f"[{ratio * min(tops):.4g}, {min(tops):.4g}] to [{self.low:.4g}, {self.threshold:.4g}] "
                    f"per channel ({len(tops)}) / {seen}")
        if self.low is None:
            return f"{self.threshold:.4g} / {self.observed_max:.4g}"
        return f"[{self.low:.4g}, {self.threshold:.4g}] / {seen}"


@dataclass(frozen=True)
class OutputCheck:
    """One network output: INT8 engine against the float32 network.

    ``top1_agreement`` / ``top1_constant_baseline`` are set for ``[N, C]``
    outputs (class scores); the baseline is what a constant output would get.
    """

    name: str
    cosine: float
    centred_cosine: float
    relative_l2: float
    max_abs_error: float
    top1_agreement: Optional[float] = None
    top1_constant_baseline: Optional[float] = None


@dataclass(frozen=True)
class BuildReport:
    """What the INT8 build measured (see ``docs/accuracy.md``).

    Attributes:
        measured: False when nothing could be measured (scales from a cache,
            ``BuilderConfig(accuracy_check=False)``); ``reason`` says why.
        algorithm: the calibration cache header's algorithm.
        calibration_batches: batches the calibrator returned.
        threshold_samples: samples the thresholds were computed on.
        check_samples: samples the report was measured on.
        held_out: True when those samples were not used for thresholds;
            False when the data was too small to set any aside.
        slice_rule: how the measured samples were chosen, in words.
        thresholds_from_cache: the scales came from the calibration cache
            and the check read the data of a calibrator made from arrays
            anyway (cached_check.py); ``threshold_samples`` is then 0.
        tensors: per int8 tensor, in network order.
        outputs: per network output.
        warnings: every warning, as logged.
        seconds: time spent calibrating (thresholds included) and checking.
        bias_corrected_layers: layers whose bias was corrected
            (``BuilderConfig(bias_correction=True)``).
        mixed_precision: with ``BuilderConfig(accuracy_target=...)``, the
            fields of :class:`int8rt.accuracy.mixed.MixedPrecision` (target,
            scores, float layers, per-layer sensitivity, latency).
        auto_choice: the ``auto`` calibrator's decisions (also when nothing
            is measured): ``"thresholds"`` (the chosen set: a method for
            every tensor, or ``"per-tensor"`` / ``"refined"``),
            ``"bias_correction"``, ``"equalization"`` and
            ``"unsigned_activations"`` (``"on"`` /
            ``"off"``, and whether auto decided it or the config did),
            ``"samples"`` (held-out samples
            the decisions were judged on), ``"errors"`` (each candidate's
            output error there: relative L2, class scores and dense maps
            as sqrt(1 - centred cosine^2)), and where any, ``"at_range"``
            (the tensors every set held at their calibration range:
            input_range.py) and ``"input_floor"`` (the network inputs
            widened to their range last: name -> "own -> range",
            input_floor.py).
    """

    measured: bool
    reason: str = ""
    algorithm: str = ""
    calibration_batches: int = 0
    threshold_samples: int = 0
    check_samples: int = 0
    held_out: bool = False
    slice_rule: str = ""
    tensors: tuple[TensorCheck, ...] = ()
    outputs: tuple[OutputCheck, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    bias_corrected_layers: int = 0
    mixed_precision: Optional[dict[str, Any]] = None
    auto_choice: Optional[dict[str, Any]] = None
    thresholds_from_cache: bool = False

    def tensor(self, name: str) -> TensorCheck:
        """The check of tensor ``name`` (KeyError if it is not an int8 tensor)."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(f"no int8 tensor named {name!r} in the build report")

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=True, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "BuildReport":
        d: dict[str, Any] = json.loads(text)
        d["tensors"] = tuple(TensorCheck(**{**t, "histogram": _histogram(t.get("histogram")),
                                            "channel_thresholds": _floats(t.get("channel_thresholds")),
                                            "channel_observed": _floats(t.get("channel_observed"))})
                             for t in d.get("tensors", ()))
        d["outputs"] = tuple(OutputCheck(**o) for o in d.get("outputs", ()))
        d["warnings"] = tuple(d.get("warnings", ()))
        return cls(**d)

    def format(self, *, all_tensors: bool = False, rescaled: Collection[str] = ()) -> str:
        """Text for people: outputs, warnings and the worst tensors (all with
        ``all_tensors``); ``rescaled`` (:func:`rescaled_tensors` of the
        engine's metadata) marks the rows of tensors cross-layer equalization
        divided per channel, whose figures are of the rescaled values."""
        auto = self._auto_line()
        if not self.measured:
            return f"accuracy check: not measured ({self.reason})" + (f"\n{auto}" if auto else "")
        lines = [f"accuracy check on {self.check_samples} samples ({self._slice_text()}); "
                 + (f"thresholds from the calibration cache ({self.algorithm}), none from these samples"
                    if self.thresholds_from_cache else
                    f"thresholds from {self.threshold_samples} samples, {self.algorithm}")]
        for o in self.outputs:
            line = (f"  output {o.name}: centred cosine {_f(o.centred_cosine)}, cosine {_f(o.cosine)}, "
                    f"relative L2 {_f(o.relative_l2)}, max |err| {o.max_abs_error:.4g}")
            if o.top1_agreement is not None:
                line += (f", top-1 agreement {o.top1_agreement:.4f} "
                         f"(a constant output: {o.top1_constant_baseline:.4f})")
            lines.append(line)
        shown = self.tensors if all_tensors else sorted(self.tensors, key=lambda t: t.sqnr_db)[:5]
        if shown:
            channels = ("; the narrowest to the widest channel's on a per-channel grid"
                        if any(t.channel_thresholds for t in shown) else "")
            lines.append(f"  {'int8 tensors' if all_tensors else 'lowest-SQNR int8 tensors'} "
                         f"({len(self.tensors)} in all): SQNR dB, clipped %, threshold / observed max "
                         f"([low, top] / [min, max] where held with a zero point{channels}), method")
            width = max(len(t.name) for t in shown)
            for t in shown:
                lines.append(f"    {t.name:<{width}}  {t.sqnr_db:6.1f}  {100 * t.clipped:7.3f}%  "
                             f"{t.range_text()}  {t.method}" + (f" {RESCALED_MARK}" if t.name in rescaled else ""))
            if any(t.name in rescaled for t in shown):
                lines.append(f"    {RESCALED_MARK}: {RESCALED_NOTE}")
        mp = self.mixed_precision
        if mp:
            lines.append(f"  mixed precision: target {mp['target']:.4g}, {'met' if mp['met'] else 'NOT met'}: "
                         f"score {mp['score']:.4f} (all int8 {mp['score_all_int8']:.4f}) with "
                         + (f"{float_set_text(mp)}; " if mp["float_layers"] or mp.get("sensitivity") else
                            "every layer int8 (it meets the target: no layer ranked); ")
                         + latency_text(mp))
            lines += [f"    {line}" for line in float_layer_lines(mp)]
        if auto:
            lines.append(auto)
        for w in self.warnings + ((mixed_warning(mp),) if mixed_warning(mp) else ()):
            lines.append(f"  WARNING: {w}")
        return "\n".join(lines)

    def _slice_text(self) -> str:
        """Which samples were measured, and whether the thresholds saw them."""
        if self.thresholds_from_cache:  # cached_check.py: the slice a calibrating build holds out
            return (f"the slice a build calibrating on this data holds out{'' if self.held_out else ' (none: too few)'}; "
                    f"{self.slice_rule}")
        return (f"{'held out from calibration' if self.held_out else 'NOT held out: the calibration data itself'}; "
                f"{self.slice_rule}")

    def _auto_line(self) -> str:
        a = self.auto_choice
        if not a:
            return ""
        errors = ", ".join(f"{k} {v:.4g}" for k, v in a.get("errors", {}).items())
        layers = a.get("bias_correction_layers")  # measured: top level / inside If branches (run.py)
        measured = (f" [measured on {layers['top level']} top-level and {layers['If branches']} If-branch layer(s)]"
                    if layers else "")
        return (f"  auto calibration: thresholds {a.get('thresholds')}, equalization {a.get('equalization', 'off')}, "
                f"unsigned activations {a.get('unsigned_activations', 'off')}, "
                f"bias correction {a.get('bias_correction', 'off')}{measured} (output error on {a.get('samples')} held-out "
                f"samples: {errors})" + (f"; held at their range: {', '.join(a['at_range'])}" if a.get("at_range")
                                          else "")
                + (f"; inputs widened to their range: {', '.join(f'{k} {v}' for k, v in a['input_floor'].items())}"
                   if a.get("input_floor") else "")  # input_floor.py
                + (f"; float stem {a['float_stem']}" if a.get("float_stem") else "")  # quiet_positions.py
                + (f"; float recurrent {a['float_recurrent']}" if a.get("float_recurrent") else "")  # recurrent_float.py
                + (f"; float products {a['float_products']}" if a.get("float_products") else "")  # quiet_products.py
                + (f"; per part {', '.join(p['taken'] for p in a['parts'])}" if isinstance(a.get("parts"), list)
                   else ""))  # auto_parts.py


RESCALED_MARK = "(rescaled)"
RESCALED_NOTE = ("cross-layer equalization divided this tensor per channel: its figures are of the engine's "
                 "values, the model's divided by the factors in the engine's metadata (int8rt compare undoes them)")


def rescaled_tensors(metadata: Mapping[str, str]) -> frozenset[str]:
    """The tensors cross-layer equalization rescaled, from an engine's
    ``metadata`` (equalize.RESCALED_KEY, written after the check)."""
    from .equalize import RESCALED_KEY

    return frozenset(json.loads(metadata.get(RESCALED_KEY, "{}")))


def coarse_histogram(counts: Any, bin_width: float, max_abs: float) -> tuple[float, tuple[int, ...]]:
    """``(width, counts)``: the bins of a calibration histogram of ``|x|``
    up to ``max_abs`` merged, ``ceil(used / HISTOGRAM_BINS)`` at a time, into
    at most ``HISTOGRAM_BINS`` (the counts are exact sums)."""
    counts = [int(c) for c in counts]
    used = min(len(counts), max(1, math.ceil(max_abs / bin_width))) if bin_width > 0 else len(counts)
    group = max(1, math.ceil(used / HISTOGRAM_BINS))
    return bin_width * group, tuple(sum(counts[i:min(i + group, used)]) for i in range(0, used, group))


def _histogram(h: Any) -> Optional[tuple[float, tuple[int, ...]]]:
    return None if h is None else (float(h[0]), tuple(int(c) for c in h[1]))  # JSON lists back to tuples


def _floats(v: Any) -> Optional[tuple[float, ...]]:
    return None if v is None else tuple(float(x) for x in v)


def latency_text(mp: dict[str, Any]) -> str:
    """What automatic mixed precision's choice costs (``BuildReport.mixed_precision``):
    ``latency A -> B ms (FP32 engine: C ms)``, saying so where B saves less
    than mixed.MIN_SAVING of C (the FP32 figure is absent from older reports)."""
    shipped_all_int8 = "float_layers" in mp and not mp["float_layers"]  # one engine, timed once (mixed.py)
    text = (f"latency {mp['ms_chosen']:.3f} ms" if shipped_all_int8
            else f"latency {mp['ms_all_int8']:.3f} -> {mp['ms_chosen']:.3f} ms")
    ms = mp.get("ms_fp32")
    if ms is None:
        return text
    verdict = latency_verdict(mp["ms_chosen"], ms)
    return text + f" (FP32 engine: {ms:.3f} ms{', ' + verdict if verdict else ''})"


def float_set_text(mp: dict[str, Any]) -> str:
    """The layers kept out of int8: ``3 layer(s) in float32 [...]``, or
    with BF16 layers (mixed.py, acc39) ``3 layer(s) in float (2 BF16, 1 FP32)
    [...]``."""
    layers, bf16 = list(mp["float_layers"]), mp.get("bf16_layers") or ()
    if not bf16:
        return f"{len(layers)} layer(s) in float32 {layers}"
    return f"{len(layers)} layer(s) in float ({len(bf16)} BF16, {len(layers) - len(bf16)} FP32) {layers}"


def bf16_line(mp: dict[str, Any]) -> str:
    """Whether the float layers run BF16 and what that costs against FP32,
    or why they stay FP32 (a report older than acc39: "")."""
    if not mp.get("float_layers") or "bf16_note" not in mp:
        return ""
    if not mp.get("bf16_layers"):
        return f"float layers FP32: {mp['bf16_note']}"
    why = f" ({mp['bf16_note']})" if mp["bf16_note"] else ""
    return (f"BF16 for {len(mp['bf16_layers'])} of {len(mp['float_layers'])} float layer(s){why}: score "
            f"{mp['bf16_score']:.5f} (FP32: {mp['fp32_score']:.5f}; target {mp['target']:.5g}); their float cost "
            f"+{sum(mp['bf16_ms'].values()):.3f} "
            f"ms in BF16 against +{sum(mp['fp32_kept_ms'].values()):.3f} ms in FP32; latency {mp['ms_chosen']:.3f} ms "
            f"against {mp['ms_fp32_kept']:.3f} ms with them FP32 (int8rt build --accuracy-fp32)")


def float_layer_lines(mp: dict[str, Any]) -> list[str]:
    """Each float layer with its sensitivity and float cost (mixed.float_costs;
    a BF16 layer's in BF16 and in FP32 beside it), whether they run BF16,
    then which ranking chose them and what the other would have kept (lines of
    the text report and the page; a report older than acc37 has no costs)."""
    cost = mp.get("float_ms") or {}
    sens = mp.get("sensitivity") or {}
    bf16, fp32_kept = mp.get("bf16_ms") or {}, mp.get("fp32_kept_ms") or {}

    def costs(name: str) -> str:
        if name in bf16:
            return f", BF16, float cost +{bf16[name]:.3f} ms (FP32: +{fp32_kept[name]:.3f} ms)"
        return (", FP32" if bf16 else "") + (f", float cost +{cost[name]:.3f} ms" if name in cost else "")
    lines = [f"{name}: sensitivity {sens[name]:.4g}{costs(name)}" for name in mp["float_layers"] if name in sens]
    lines += [line for line in (bf16_line(mp),) if line]
    if cost and mp["float_layers"]:
        by_sensitivity = mp["ranking"] == "sensitivity"
        other = tuple(mp.get("by_cost" if by_sensitivity else "by_sensitivity") or ())
        lines.append(f"chosen by {mp['ranking']}: float cost +{sum(cost[n] for n in mp['float_layers']):.3f} ms "
                     f"(CPU ms added over int8, the layers' own time; "
                     + ("sensitivity per float ms" if by_sensitivity else "most sensitive first")
                     + (" keeps the same set" if set(other) == set(mp["float_layers"]) else
                        f" would keep {len(other)} layer(s), +{sum(cost[n] for n in other):.3f} ms") + ")")
    return lines


def mixed_warning(mp: Optional[dict[str, Any]]) -> str:
    """The mixed-precision latency warning of a report (mixed.latency_warning), "" where none."""
    if not mp:
        return ""
    return latency_warning(len(mp["float_layers"]), mp["ms_chosen"], mp.get("ms_fp32"),
                           len(mp.get("bf16_layers") or ()))


def _f(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"
