"""The builder's side of accuracy: one object per INT8 build that splits the
calibration stream (holdout.py), runs the ``auto`` search (auto.py) when the
calibrator asks for it, and after the build measures the engine (check.py)
and stores the report in the engine's metadata.

``int8rt.builder`` calls it at four points: :meth:`wrap` around the feed of
its calibration loop, :meth:`thresholds` before ``session.finish``,
:meth:`before_build` (bias correction) and :meth:`finish` on the built engine.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any, Callable, Optional

import numpy as np

from .. import _core
from ..calibrator import CalibrationAlgoType, IInt8Calibrator

from .._numerics import scale_from_amax
from . import auto, auto_choice, bias_correction, check, mixed
from .holdout import SampleRouter
from .taps import count
from .report import METADATA_KEY, BuildReport

__all__ = ["CalibrationRun"]

logger = logging.getLogger("int8rt")

# Most samples per measuring run (memory: every activation of a run is kept
# as an output of the tap engine).
MEASURE_CHUNK = 8


class CalibrationRun:
    """Accuracy bookkeeping of one INT8 build.

    Args:
        builder: the ``_core.Builder``.
        calibrator: the build's calibrator.
        holdout_every: hold out one calibration sample in this many (>= 2)
            for the check and for the auto calibrator's choice.
        measure: measure the built engine on the held-out samples (False:
            nothing is measured, and only the auto calibrator holds
            samples out, for its choice).
        max_check: most samples held out.
    """

    def __init__(self, builder: Any, calibrator: IInt8Calibrator, *, holdout_every: int, measure: bool = True,
                 max_check: int = 256,
                 bias_correction: bool = False, fp32_layers: Optional[set[str]] = None) -> None:
        self._builder = builder
        self._network = builder.optimized_network()
        self._calibrator = calibrator
        try:
            self._algorithm: Optional[CalibrationAlgoType] = CalibrationAlgoType(calibrator.get_algorithm())
        except (AttributeError, TypeError, ValueError, NotImplementedError):
            self._algorithm = None  # not a valid calibrator: CalibrationSession says why, next
        self.auto = self._algorithm is CalibrationAlgoType.AUTO_CALIBRATION
        self.measure = measure and holdout_every != 0
        batch_fixed = any(not self._network.tensor(i)["shape"] or self._network.tensor(i)["shape"][0] >= 0
                          for i in self._network.inputs())
        self.bias_correction = bias_correction
        self._fp32_layers = set(fp32_layers or ())
        self.router = SampleRouter(every=holdout_every if self.measure or self.auto else 0, max_check=max_check,
                                   max_search=auto.SEARCH_SAMPLES if self.auto or bias_correction else 0,
                                   splittable=not batch_fixed,
                                   # auto without the check: its choice is scored on the held-out
                                   # samples, which set thresholds too (holdout.py)
                                   calibrate_held=self.auto and not self.measure,
                                   nonfinite=getattr(calibrator, "_int8rt_options", {}).get("nonfinite", "error"))
        self._methods: dict[str, str] = {}
        self._t0 = time.perf_counter()
        self._seconds: dict[str, float] = {}
        self._session: Any = None
        self._corrected = 0
        self._deltas: dict[str, list[float]] = {}
        self._fit: Any = None  # the auto choice's collector, when every sample calibrates the session's

    @property
    def _chunk(self) -> int:
        """Samples per run when measuring: the first calibration batch's
        (get_batch_size() may be 1 under TensorRT's explicit-batch
        convention), at most MEASURE_CHUNK where the batch dimension is free:
        these runs keep every activation of the chunk as an output."""
        rows = max(1, self.router.first_rows or int(self._calibrator.get_batch_size()))
        return min(rows, MEASURE_CHUNK) if self.router.splittable else rows

    def wrap(self, feed: Callable[[dict[str, np.ndarray]], None], session: Any,
             observe: Optional[Callable[[dict[str, np.ndarray], Optional[np.ndarray], Any], None]] = None
             ) -> Callable[[dict[str, np.ndarray]], None]:
        """The calibration loop's feed, routing held-out samples away from it.

        ``observe(inputs, rows, collector)`` streams ``inputs`` (rows ``rows``
        of the batch ``feed`` has just run; None: unknown) into another
        collector: given it, the auto calibrator without the check
        makes its choice from histograms of the kept samples only (a
        collector of its own) while every sample calibrates the session's,
        from which the chosen methods then set the thresholds (holdout.py's
        ``calibrate_held``)."""
        self._session = session
        fit_feed = None
        if self.router.calibrate_held and observe is not None and session.collector is not None:
            from ..calib import Collector

            c = session.collector
            self._fit = Collector(c.algorithm, num_bins=c.num_bins, policy=c.policy,
                                  nonfinite=getattr(self._calibrator, "_int8rt_options", {}).get("nonfinite", "error"))
            fit_feed = lambda inputs, rows: observe(inputs, rows, self._fit)  # noqa: E731
        # A batch made only of held-out samples still counts as a batch read
        # from the calibrator (its index in messages stays right).
        return self.router.wrap(feed, skip=lambda: session.observe_with(lambda collector: None), fit_feed=fit_feed)

    def thresholds(self, session: Any) -> Optional[dict[str, float]]:
        """The auto calibrator's thresholds (None for the other calibrators,
        whose own search runs in ``session.finish``)."""
        self._session = session
        if not self.auto:
            method = self._algorithm.method if self._algorithm is not None else "?"
            self._methods = {n: method for n in session.collector.names}
            return None
        fit = self.router.search_data()
        collector = self._fit if self._fit is not None and len(self._fit) else session.collector
        names = list(collector.names)
        t0 = time.perf_counter()
        # The first set (minmax, no search) is built to learn which tensors the
        # engine holds in int8; only their thresholds need the exact searches.
        first = auto_choice.GLOBAL_METHODS[0]
        sets = auto_choice.single_method_sets(collector, names, methods=(first,))
        engines = {first: self._builder.build(_scales(sets[first][0]))}
        int8_names = auto_choice.int8_tensors(engines[first], self._network)
        sets.update(auto_choice.single_method_sets(collector, names, exact=int8_names,
                                                   methods=auto_choice.GLOBAL_METHODS[1:]))
        amaxes, methods = auto.search(self._network, collector, fit, self._chunk, only=int8_names,
                                      known={label: a for label, (a, _) in sets.items()})
        self._seconds["auto_search"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        amaxes, self._methods, _ = auto_choice.choose(
            self._builder.build, self._network, {"per-tensor": (amaxes, methods), **sets}, int8_names,
            fit, self.router.held_data(), self._chunk, engines=engines)
        if collector is not session.collector:  # the chosen methods, over every sample
            amaxes = auto_choice.apply_methods(session.collector, self._methods, int8_names, amaxes)
        self._seconds["auto_choice"] = time.perf_counter() - t0
        chosen: dict[str, int] = {}
        for m in self._methods.values():
            chosen[m] = chosen.get(m, 0) + 1
        logger.info("auto calibration over %d samples chose: %s", self.router.search_count,
                    ", ".join(f"{m} x{c}" for m, c in sorted(chosen.items(), key=lambda kv: -kv[1])))
        return amaxes

    def before_build(self, result: Any) -> None:
        """Bias correction (when asked) on the builder's network, once the
        scales are known; nothing to do when they came from a cache (no data)."""
        if not self.bias_correction:
            return
        data = self.router.search_data()
        if result.from_cache or data is None:
            logger.warning("bias correction skipped: it needs calibration data, and the scales came from the cache")
            return
        t0 = time.perf_counter()
        shifts = bias_correction.correct_biases(self._builder, self._network, result.scales, data,
                                                self._chunk, self._fp32_layers)
        self._seconds["bias_correction"] = time.perf_counter() - t0
        self._corrected = len(shifts)
        self._deltas = {name: delta for name, (_, delta) in shifts.items()}

    def corrected(self, builder: Any, fp32_nodes: set[str]) -> Any:
        """``builder`` (another Builder over the same network) with the bias
        corrections this run made, for the engines mixed precision builds;
        a layer kept in float32 keeps its float bias."""
        for name, delta in self._deltas.items():
            if name not in fp32_nodes:
                builder.add_to_bias(name, delta)
        return builder

    def finish(self, engine: Any, result: Any, *, accuracy_target: Optional[float] = None,
               accuracy_metric: Optional[mixed.Metric] = None,
               rebuild: Optional[Callable[[set[str]], Any]] = None) -> Any:
        """Measures the built engine (``int8rt.Engine``) and returns it with
        the report in its metadata. With ``accuracy_target``, first chooses
        the float32 layers (mixed.py) with ``rebuild(fp32 nodes) -> _core.Engine``."""
        from ..engine import Engine

        self._seconds["calibration_and_build"] = time.perf_counter() - self._t0
        header = dict(algorithm=result.algorithm, calibration_batches=result.num_batches,
                      bias_corrected_layers=self._corrected)
        if result.from_cache:
            report = BuildReport(measured=False, reason="the scales came from the calibration cache, so no data "
                                 "was read (as TensorRT)", **header)
        elif not self.measure:
            report = BuildReport(measured=False, reason="BuilderConfig(accuracy_check=False)", **header)
        else:
            t0 = time.perf_counter()
            data = self.router.check_data()
            header.update(threshold_samples=self.router.threshold_count, check_samples=count(data) if data else 0,
                          held_out=self.router.held_out, slice_rule=self.router.describe())
            if accuracy_target is not None and rebuild is not None:
                reference = mixed._outputs(_core.Engine.create(self._network, {"precision": "fp32"}), data,
                                           self._chunk)
                names = {n["name"] for n in self._network.nodes()}
                chosen, choice = mixed.choose_float_layers(
                    build=rebuild, engine=engine._native, node_names=names, reference=reference, data=data,
                    batch_size=self._chunk, target=accuracy_target, metric=accuracy_metric)
                engine = Engine(chosen)
                header["mixed_precision"] = asdict(choice)
                self._seconds["mixed_precision"] = time.perf_counter() - t0
                t0 = time.perf_counter()
            report = check.measure(network=self._network, engine=engine._native, data=data,
                                   batch_size=self._chunk, collector=self._session.collector,
                                   methods=self._methods, header=header)
            self._seconds["check"] = time.perf_counter() - t0
            report = _with_seconds(report, self._seconds)
        metadata = dict(engine.metadata)
        metadata[METADATA_KEY] = report.to_json()
        return Engine(engine._native.with_metadata(metadata))


def _scales(amaxes: dict[str, float]) -> dict[str, float]:
    return {n: scale_from_amax(a) for n, a in amaxes.items()}


def _with_seconds(report: BuildReport, seconds: dict[str, float]) -> BuildReport:
    from dataclasses import replace

    return replace(report, seconds={k: round(v, 4) for k, v in seconds.items()})
