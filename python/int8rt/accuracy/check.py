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
network's int8 tensors. The warning names the tensor and, recomputed from
the same histogram, the other method whose threshold clips it least while
keeping the best SQNR on the held-out data. An output whose centred cosine
is below ``OUTPUT_WARN`` is a warning too. Warnings go to the ``int8rt``
logger and into the report.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Optional

import numpy as np

from . import metrics
from .report import BuildReport, OutputCheck, TensorCheck
from .taps import batches, fp32_tap_engine, int8_scales

__all__ = ["CLIP_WARN", "OUTPUT_WARN", "SQNR_GAP_DB", "measure"]

logger = logging.getLogger("int8rt")

# Thresholds of the warnings. On the bundled digits model calibrated with
# entropy (TensorRT's default) the most clipped tensor loses 0.05% of its
# values and the lowest SQNR is within 6 dB of the median; the collapse of
# tests/test_accuracy_check.py clips tens of percent (see that test).
CLIP_WARN = 0.01
SQNR_GAP_DB = 15.0
OUTPUT_WARN = 0.9

# Other methods a warning may recommend: (label, compute_amax options).
ALTERNATIVES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("minmax", {}), ("percentile", {"percentile": 99.99}), ("mse", {}), ("entropy", {}))


def _stats(tap: Any, data: Mapping[str, np.ndarray], batch_size: int, scales: Mapping[str, list[float]]
           ) -> dict[str, list[metrics.SumSquares]]:
    ctx = tap.create_execution_context()
    out = {n: [metrics.SumSquares() for _ in s] for n, s in scales.items()}
    for chunk in batches(data, batch_size):
        values = ctx.run(chunk)
        values.update(chunk)
        for name, ss in scales.items():
            for acc, s in zip(out[name], ss):
                acc.add(values[name], s)
    return out


def _alternative(name: str, collector: Any, tap: Any, data: Mapping[str, np.ndarray], batch_size: int
                 ) -> Optional[tuple[str, float, float, float]]:
    """(method, threshold, clipped, sqnr) of the best other method for ``name``."""
    if collector is None or name not in collector:
        return None
    hist = collector.histogram(name)
    labels, amaxes = [], []
    for method, options in ALTERNATIVES:
        a = hist.compute_amax(method, **options)
        if a > 0:
            labels.append(method + (f" {options['percentile']}" if options else ""))
            amaxes.append(a)
    if not amaxes:
        return None
    stats = _stats(tap, data, batch_size, {name: [float(np.float32(a) / np.float32(127)) for a in amaxes]})[name]
    ok = [i for i, s in enumerate(stats) if s.clipped_fraction <= CLIP_WARN] or list(range(len(stats)))
    best = max(ok, key=lambda i: stats[i].sqnr_db)
    return labels[best], amaxes[best], stats[best].clipped_fraction, stats[best].sqnr_db


def measure(*, network: Any, engine: Any, data: Mapping[str, np.ndarray], batch_size: int,
            collector: Any, methods: Mapping[str, str], header: dict[str, Any]) -> BuildReport:
    """Measures ``engine`` (a ``_core.Engine``, INT8) against ``network``
    (the builder's optimized float32 network) on ``data``; ``methods`` names
    what chose each tensor's threshold; ``header`` holds the report's
    remaining fields (algorithm, sample counts, slice rule...)."""
    scales = {n: s for n, s in int8_scales(engine.network()).items() if network.find_tensor(n) >= 0}
    inputs = set(data)
    tap = fp32_tap_engine(network, [n for n in scales if n not in inputs])
    stats = _stats(tap, data, batch_size, {n: [s] for n, s in scales.items()})
    ref_ctx, q_ctx = tap.create_execution_context(), engine.create_execution_context()
    refs: dict[str, list[np.ndarray]] = {}
    tests: dict[str, list[np.ndarray]] = {}
    for chunk in batches(data, batch_size):
        ref, got = ref_ctx.run(chunk), q_ctx.run(chunk)
        for name in engine.output_names:
            refs.setdefault(name, []).append(ref[name])
            tests.setdefault(name, []).append(got[name])

    finite = [s[0].sqnr_db for s in stats.values() if math.isfinite(s[0].sqnr_db)]
    median = float(np.median(finite)) if finite else math.nan
    warnings: list[str] = []
    tensors: list[TensorCheck] = []
    for name, scale in scales.items():
        s = stats[name][0]
        threshold = float(np.float32(scale) * np.float32(127))
        reasons = []
        if s.clipped_fraction > CLIP_WARN:
            reasons.append(f"clips {100 * s.clipped_fraction:.2f}% of its values (threshold {threshold:.4g}, "
                           f"observed max {s.max_abs:.4g})")
        if math.isfinite(median) and s.sqnr_db < median - SQNR_GAP_DB:
            reasons.append(f"has SQNR {s.sqnr_db:.1f} dB, {median - s.sqnr_db:.1f} dB below the median "
                           f"{median:.1f} dB of the int8 tensors")
        warning = None
        if reasons:
            method = methods.get(name, "?")
            warning = f"tensor '{name}' ({method}) " + " and ".join(reasons)
            alt = _alternative(name, collector, tap, data, batch_size)
            if alt is not None:
                label, amax, clipped, sqnr = alt
                warning += (f"; {label} would set {amax:.4g}, clipping {100 * clipped:.2f}% at SQNR {sqnr:.1f} dB "
                            "(calibrator='auto' chooses per tensor)")
            warnings.append(warning)
        tensors.append(TensorCheck(name=name, threshold=threshold, method=methods.get(name, "?"),
                                   clipped=s.clipped_fraction, sqnr_db=s.sqnr_db, observed_max=s.max_abs,
                                   warning=warning))

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
        logger.warning("%s", w)
    return BuildReport(measured=True, tensors=tuple(tensors), outputs=tuple(outputs), warnings=tuple(warnings),
                       **header)
