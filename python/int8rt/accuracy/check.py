"""The accuracy check after an INT8 build: per int8 tensor and per output.

On samples the thresholds did not see (holdout.py says which), the float32
network runs with every int8 tensor as an extra output (taps.py). For each
tensor the engine holds in int8, at the scale the engine gives it:

* ``clipped``: share of values int8 saturates (more than rounding lost);
* ``sqnr_db``: SQNR of the tensor fake-quantized at that scale.

For each network output, the INT8 engine is compared with the float32
network (metrics.py): cosine, centred cosine, relative L2, max error, and
top-1 agreement beside a constant output's score for ``[N, C]`` outputs.

A tensor is a warning when it clips more than ``CLIP_WARN`` of its values,
or when its SQNR is more than ``SQNR_GAP_DB`` below the median SQNR of the
network's int8 tensors and another method's threshold does at least
``BETTER_DB`` better (otherwise no threshold helps: the tensor is logged at
INFO as a candidate for float). The warning names the tensor and, recomputed
from the same histogram, the other method with the best SQNR on the
held-out data among those clipping at most ``CLIP_WARN``, or, where none does,
says that the held-out values go beyond the calibration data's (a tensor
of few values, an SE block's pooled one, also says how many of how many
clip). An output whose centred cosine
is below ``OUTPUT_WARN`` is a warning too. So is the output of an
activation x activation product held in int8 (not attention scores) with
``quiet_products.QUIET_SHARE`` or more of its rows below one int8 step
(EfficientViT's linear attention: 71-95 %, the collapse auto's float
products avoid; quiet_products.py). Warnings go to the ``int8rt``
logger and into the report.

Tensors inside If branches are measured too, under their scoped names
(``pick/then_branch/x``, taps.py), from the float32 network's tapped run,
over the held-out samples whose run took their branch; a branch no sample
took has no row.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Optional, Union

import numpy as np

from .._numerics import amax_from_scale, scale_from_amax
from . import metrics, quiet_positions, quiet_products
from .report import BuildReport, OutputCheck, TensorCheck, coarse_histogram
from .taps import (as_read, batches, flat_ceilings, flat_floors, fp32_tap_engine, groups, int8_grid_scales,
                   int8_zero_points, scoped_tensors, tapped_run)

__all__ = ["BETTER_DB", "CLIP_WARN", "OUTPUT_WARN", "SQNR_GAP_DB", "measure"]

Scale = Union[float, tuple[float, ...]]  # a tensor's scale, or its channels' (taps.int8_channel_scales)

logger = logging.getLogger("int8rt")

# Thresholds of the warnings. On the bundled digits model calibrated with
# entropy (TensorRT's default) the most clipped tensor saturates 0.03% of its
# values and the lowest SQNR is 4.3 dB below the median; in the collapse of
# tests/accuracy_models.py the first ReLU saturates 50% at SQNR 2 dB (35 dB
# below the median), and on PP-OCR's classifier entropy leaves tensors
# saturating 50-100% (benchmarks/RESULTS_accuracy.md).
CLIP_WARN = 0.01
SQNR_GAP_DB = 15.0
BETTER_DB = 3.0  # a low-SQNR tensor warns only if another method does this much better
FEW_VALUES = 10_000  # a clipping warning on fewer held-out values than this says how many (2 of 160)
OUTPUT_WARN = 0.9

# Other methods a warning may recommend: (label, compute_amax options).
ALTERNATIVES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("minmax", {}), ("percentile", {"percentile": 99.99}), ("mse", {}), ("entropy", {}))


def _stats(tap: Any, data: Mapping[str, np.ndarray], batch_size: int, scales: Mapping[str, list[Scale]],
           zero_points: Optional[Mapping[str, int]] = None,
           floors: Optional[Mapping[str, float]] = None,
           keep: Optional[dict[str, list[np.ndarray]]] = None,
           ceilings: Optional[Mapping[str, float]] = None) -> dict[str, list[metrics.SumSquares]]:
    """Per tensor, a :class:`metrics.SumSquares` per scale in ``scales[name]``
    (a number, or a tuple of the channels' scales: a per-channel grid, each
    value measured at its channel's). ``floors`` / ``ceilings``: tensors whose readers are flat below / above
    a value (taps.flat_floors, taps.flat_ceilings), measured as those
    readers see them, clipped to it. ``keep``: name -> a list that each
    chunk's value of that tap output is appended to."""
    ctx = tap.create_execution_context()
    zero_points, floors, ceilings = zero_points or {}, floors or {}, ceilings or {}
    out = {n: [metrics.SumSquares() for _ in s] for n, s in scales.items()}
    for chunk in batches(data, batch_size):
        values = tapped_run(ctx, chunk)  # with the tensors of the If branches this chunk took
        for name, kept in (keep or {}).items():
            kept.append(values[name])
        values.update(chunk)
        for name, ss in scales.items():
            if name not in values:
                continue  # in a branch this chunk did not take
            v = as_read(values[name], floors.get(name), ceilings.get(name))
            for acc, s in zip(out[name], ss):
                acc.add(v, metrics.per_channel(s, v.ndim) if isinstance(s, tuple) else s, zero_points.get(name, 0))
    return out


def _alternatives(names: list[str], collector: Any, tap: Any, data: Mapping[str, np.ndarray], batch_size: int
                  ) -> dict[str, tuple[str, float, float, float, float]]:
    """Per name, (method, threshold, clipped, sqnr, calibration max |x|) of
    the best other method: the best SQNR among those clipping at most
    CLIP_WARN (among all where none does). One pass over the data."""
    labels: dict[str, list[str]] = {}
    amaxes: dict[str, list[float]] = {}
    for name in names:
        if collector is None or name not in collector:
            continue
        hist = collector.histogram(name)
        for method, options in ALTERNATIVES:
            a = hist.compute_amax(method, **options)
            if a > 0:
                labels.setdefault(name, []).append(method + (f" {options['percentile']}" if options else ""))
                amaxes.setdefault(name, []).append(a)
    if not amaxes:
        return {}
    stats = _stats(tap, data, batch_size,
                   {n: [scale_from_amax(a) for a in amaxes[n]] for n in amaxes})
    out = {}
    for name, st in stats.items():
        ok = [i for i, s in enumerate(st) if s.clipped_fraction <= CLIP_WARN] or list(range(len(st)))
        best = max(ok, key=lambda i: st[i].sqnr_db)
        out[name] = (labels[name][best], amaxes[name][best], st[best].clipped_fraction, st[best].sqnr_db,
                     collector.histogram(name).max_abs)
    return out


def _instead(alt: tuple[str, float, float, float, float], grid: str, observed_max: float) -> str:
    """The end of a warning: the other method that would not clip, or,
    where none clips less than CLIP_WARN, that the held-out values go beyond
    what calibration saw (EfficientNet-B0's squeeze conv: 2 of 160 values past
    every calibration value, and "entropy would set" one that clips as much)."""
    label, amax, clipped, sqnr, seen = alt
    if clipped <= CLIP_WARN:
        return (f"; {label} would set {amax:.4g}{grid}, clipping {100 * clipped:.2f}% at SQNR {sqnr:.1f} dB "
                "(calibrator='auto' chooses per tensor)")
    return (f"; no calibration method's threshold clips {100 * CLIP_WARN:g}% or less (the best, {label} at "
            f"{amax:.4g}{grid}, clips {100 * clipped:.2f}% at SQNR {sqnr:.1f} dB): the held-out values reach "
            f"{observed_max:.4g}, the calibration data's largest |x| was {seen:.4g}; calibrate on more, or more "
            "varied, samples")


def _coarse(collector: Any, name: str) -> Optional[tuple[float, tuple[int, ...]]]:
    """The report's copy of ``name``'s calibration histogram (report.coarse_histogram)."""
    if collector is None or name not in collector:
        return None
    h = collector.histogram(name)
    return coarse_histogram(h.counts, h.bin_width, h.max_abs) if h.total_count else None


def _worst_channel(s: metrics.SumSquares, tops: tuple[float, ...]) -> str:
    """``"; most in channel 3 (9.51% of its values, top 0.4198)"``: the
    channel of a per-channel grid that clips the largest share of its values."""
    if s.channel_clipped is None or not len(s.channel_clipped) or s.count == 0:
        return ""
    per_channel = s.count / len(s.channel_clipped)  # values per channel (every channel has as many)
    k = int(np.argmax(s.channel_clipped))
    return f"; most in channel {k} ({100 * s.channel_clipped[k] / per_channel:.2f}% of its values, top {tops[k]:.4g})"


def _channel_observed(s: metrics.SumSquares, zero_point: int) -> Optional[tuple[float, ...]]:
    """Each channel's largest held-out value as its top reads it: |x| on
    a symmetric grid, x on one with a zero point (TensorCheck.channel_observed)."""
    per = s.channel_max if zero_point else s.channel_max_abs
    return None if per is None else tuple(float(v) for v in per)


def _held(scale: Scale, zero_point: int) -> tuple[float, Optional[float], Optional[tuple[float, ...]]]:
    """(top, bottom, channel tops) of the grid a tensor is held on: the
    values of codes 127 and -128 (the top is the threshold, 127 * s, or 255 *
    s for zero point -128; bottom None for a symmetric grid, whose range is
    ±top) and, on a per-channel grid, each channel's top, with top and
    bottom the widest channel's."""
    def top(s: float) -> float:
        return amax_from_scale(s) if zero_point == 0 else float(np.float32(s) * np.float32(127 - zero_point))

    widest = max(scale) if isinstance(scale, tuple) else scale
    bottom = None if zero_point == 0 else float(np.float32(widest) * np.float32(-128 - zero_point))
    return top(widest), bottom, tuple(top(s) for s in scale) if isinstance(scale, tuple) else None


def measure(*, network: Any, engine: Any, data: Mapping[str, np.ndarray], batch_size: int,
            collector: Any, methods: Mapping[str, str], header: dict[str, Any]) -> BuildReport:
    """Measures ``engine`` (a ``_core.Engine``, INT8) against ``network``
    (the builder's optimized float32 network) on ``data``; ``methods`` names
    what chose each tensor's threshold; ``header`` holds the report's
    remaining fields (algorithm, sample counts, slice rule...)."""
    if header.get("thresholds_from_cache"):  # every scale is the cache's (cached_check.py)
        methods = {**{n: f"cache ({header.get('algorithm', '?')})" for n in int8_grid_scales(engine.network())},
                   **methods}
    lowered = engine.network()
    scoped = scoped_tensors(network)  # the network's tensors and its If branches'
    # with the per-channel grids (channel_activations): each channel measured at its own scale
    scales: dict[str, Scale] = {n: s for n, s in int8_grid_scales(lowered, branches=True).items() if n in scoped}
    inputs = {n for g in groups(data) for n in g}
    top = {t["name"] for t in network.tensors()}  # the rest are read from the tapped run
    tap = fp32_tap_engine(network, [n for n in scales if n not in inputs and n in top])
    zero_points = int8_zero_points(lowered, branches=True)  # unsigned activations: their own grid
    refs: dict[str, list[np.ndarray]] = {name: [] for name in engine.output_names}  # float32, from the taps' run
    # the int8 products' outputs (quiet_products.py), kept for their rows
    tensor_names = [t["name"] for t in network.tensors()]
    made_by = {tensor_names[t]: layer for layer, t in
               quiet_products.products(network, int8=quiet_products.int8_products(engine)).items()}
    made_by = {n: layer for n, layer in made_by.items() if isinstance(scales.get(n), float) and n not in refs}
    kept: dict[str, list[np.ndarray]] = {**refs, **{n: [] for n in made_by}}
    stats = _stats(tap, data, batch_size, {n: [s] for n, s in scales.items()}, zero_points,
                   flat_floors(lowered, branches=True), keep=kept, ceilings=flat_ceilings(lowered, branches=True))
    stats = {n: st for n, st in stats.items() if st[0].count}  # a branch no sample took: not measured
    scales = {n: s for n, s in scales.items() if n in stats}
    q_ctx = engine.create_execution_context()
    tests: dict[str, list[np.ndarray]] = {name: [] for name in engine.output_names}
    for chunk in batches(data, batch_size):
        got = q_ctx.run(chunk)
        for name in engine.output_names:
            tests[name].append(got[name])

    finite = [s[0].sqnr_db for s in stats.values() if math.isfinite(s[0].sqnr_db)]
    median = float(np.median(finite)) if finite else math.nan
    warnings: list[str] = []
    tensors: list[TensorCheck] = []
    clipping = {n for n in scales if stats[n][0].clipped_fraction > CLIP_WARN}
    low = {n for n in scales if math.isfinite(median) and stats[n][0].sqnr_db < median - SQNR_GAP_DB}
    alternatives = _alternatives(sorted(clipping | low), collector, tap, data, batch_size)
    for name, scale in scales.items():
        s = stats[name][0]
        z = zero_points.get(name, 0)
        threshold, bottom, channel_tops = _held(scale, z)
        alt = alternatives.get(name)
        reasons = []
        few = f"{s.clipped} of {s.count} values, " if s.count < FEW_VALUES else ""  # how much a share weighs
        if channel_tops is not None:
            if name in clipping:  # each channel at its own scale
                reasons.append(f"clips {100 * s.clipped_fraction:.2f}% of its values ({few}per-channel thresholds "
                               f"{min(channel_tops):.4g} to {max(channel_tops):.4g}"
                               + (f" with zero point {z}" if z else "") + f", observed [{s.min:.4g}, {s.max:.4g}]"
                               + _worst_channel(s, channel_tops) + ")")
        elif name in clipping and bottom is None:
            reasons.append(f"clips {100 * s.clipped_fraction:.2f}% of its values ({few}threshold {threshold:.4g}, "
                           f"observed max {s.max_abs:.4g})")
        elif name in clipping:  # held with a zero point: it may clip below, where a symmetric one would not
            reasons.append(f"clips {100 * s.clipped_fraction:.2f}% of its values ({few}held on [{bottom:.4g}, "
                           f"{threshold:.4g}] with zero point {z}, observed [{s.min:.4g}, {s.max:.4g}])")
        if name in low:
            gap = (f"has SQNR {s.sqnr_db:.1f} dB, {median - s.sqnr_db:.1f} dB below the median "
                   f"{median:.1f} dB of the int8 tensors")
            if reasons or (alt is not None and alt[3] >= s.sqnr_db + BETTER_DB):
                reasons.append(gap)
            else:  # no threshold does materially better: the tensor itself is hard for int8
                logger.info("tensor '%s' %s at any calibration method's threshold; a candidate for "
                            "layer_precisions", name, gap)
        warning = None
        if reasons:
            warning = f"tensor '{name}' ({methods.get(name, '?')}) " + " and ".join(reasons)
            if alt is not None:
                grid = ("" if bottom is None and channel_tops is None else
                        " on one grid for the whole tensor (channel_activations=False)" if channel_tops is not None
                        else " on a symmetric grid (±threshold, zero point 0)")
                warning += _instead(alt, grid, s.max_abs)
            elif collector is None:  # scales from a cache (cached_check.py): no histogram of this build
                warning += ("; the scales came from the calibration cache, so there is no calibration histogram to "
                            "recompute another method's threshold from (build without the cache to see one)")
            warnings.append(warning)
        tensors.append(TensorCheck(name=name, threshold=threshold, method=methods.get(name, "?"),
                                   clipped=s.clipped_fraction, sqnr_db=s.sqnr_db, observed_max=s.max_abs,
                                   warning=warning, low=bottom, observed_min=s.min, observed_top=s.max,
                                   histogram=_coarse(collector, name), channel_thresholds=channel_tops,
                                   channel_observed=_channel_observed(s, z)))

    for name, layer in made_by.items():
        share = quiet_positions.quiet_share(kept[name], scales[name] * 127.0)  # runs may differ in length
        if share >= quiet_products.QUIET_SHARE:
            warnings.append(f"tensor '{name}' ({methods.get(name, '?')}): {share:.0%} of its rows are below one "
                            f"int8 step (threshold {scales[name] * 127.0:.4g}): the activation x activation product "
                            f"'{layer}' that makes it loses them in int8; the auto calibrator keeps such products "
                            f"in float32 where that helps, or keep it there by hand (layer_precisions, "
                            f"int8_matmul_pairs=False)")

    outputs: list[OutputCheck] = []
    for name in engine.output_names:
        r, t = np.concatenate(refs[name]), np.concatenate(tests[name])
        agree = base = None
        if metrics.looks_like_class_scores(r.shape):
            agree, base = metrics.top1_agreement(r, t), metrics.constant_baseline(r)
        check = OutputCheck(name=name, cosine=metrics.cosine(r, t), centred_cosine=metrics.centred_cosine(r, t),
                            relative_l2=metrics.relative_l2(r, t),
                            max_abs_error=float(np.abs(r - t).max()) if r.size else 0.0,
                            top1_agreement=agree, top1_constant_baseline=base)
        outputs.append(check)
        if check.centred_cosine < OUTPUT_WARN:
            warnings.append(f"output '{name}': INT8 centred cosine with FP32 is {check.centred_cosine:.3f} "
                            f"(relative L2 {check.relative_l2:.3f})" +
                            (f", top-1 agreement {agree:.3f} where a constant output gets {base:.3f}"
                             if agree is not None else ""))
    for w in warnings:
        logger.warning("%s", w, extra={"in_build_report": True})
    return BuildReport(measured=True, tensors=tuple(tensors), outputs=tuple(outputs), warnings=tuple(warnings),
                       **header)
