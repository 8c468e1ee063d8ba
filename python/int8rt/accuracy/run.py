"""The builder's side of accuracy: one object per INT8 build that splits the
calibration stream (holdout.py), makes the ``auto`` calibrator's choices
when it is the calibrator, in this order, each on the same held-out
samples: unsigned activations (at the default set's thresholds), the
thresholds (auto_choice.py, its sets and folds scored in that form),
unsigned activations again where another set was chosen (at its
thresholds), cross-layer equalization, bias correction), and after the build
measures the engine (check.py) and stores the report in the engine's
metadata. The auto calibrator without the check reads the held-out float32
outputs and bias correction's layer inputs from the calibration pass
(pass_values.py), lowers the engine without a correction once (the chosen
set's where its scales are the final ones) and hands the builder the
engine it already lowered (:meth:`built`). With the check, the held-out
samples' run into the folds' histograms (crossval.calibrated, before the
choice) leaves the choice's float32 reference, and each fold's runs its own.

``int8rt.builder`` calls it at four points: :meth:`wrap` around the feed of
its calibration loop, :meth:`thresholds` before ``session.finish``,
:meth:`before_build` (bias correction) and :meth:`finish` on the built engine.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from functools import partial
from typing import Any, Callable, Hashable, Optional, Sequence

import numpy as np

from .. import _core
from ..calibrator import CalibrationAlgoType, IInt8Calibrator

from .._numerics import scale_from_amax
from . import auto_choice, auto_parts, cached_check, check, crossval, decision_rule, mixed, quiet_positions
from . import quiet_products
from . import unsigned_form
from . import bias_correction as biascorr
from . import bias_groups, sequence_axis
from . import branch_bias
from .holdout import SampleRouter
from .auto import UNSIGNED_MSE
from .input_range import input_image
from .lut_inputs import lut_inputs
from .pass_values import PassValues
from .rescaled import RescaledHistograms
from .recordings import Recordings, group_errors, recordings_line
from .taps import WholeBatch, batches, count
from .report import METADATA_KEY, BuildReport

__all__ = ["CalibrationRun"]

logger = logging.getLogger("int8rt")

Inputs = dict[str, np.ndarray]

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
        groups: the recording of each calibration batch
            (``BuilderConfig.calibration_groups``; recordings.py), or None.
    """

    def __init__(self, builder: Any, calibrator: IInt8Calibrator, *, holdout_every: int, measure: bool = True,
                 max_check: int = 256,
                 bias_correction: Optional[bool] = None, fp32_layers: Optional[set[str]] = None,
                 fresh: Optional[Callable[[], Any]] = None,
                 equalize: Optional[Callable[[set[str], Any], tuple[Any, dict[str, list[float]],
                                                                    Callable[[], None]]]] = None,
                 equalized: bool = False, unsigned: Optional[bool] = False,
                 unsigned_trial: Optional[Callable[[bool], tuple[Any, Callable[[], None]]]] = None,
                 groups: Optional[Sequence[Hashable]] = None,
                 float_trial: Optional[quiet_positions.Trial] = None, parts: int = 0) -> None:
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
        # axis 0 is time, not samples, where it reaches a time-major LSTM / GRU / RNN: whole batches
        batch_fixed = batch_fixed or bool(sequence_axis.time_major_inputs(self._network))
        self.bias_correction = bias_correction
        self._fp32_layers = set(fp32_layers or ())
        # auto: which recording each whole batch comes from (given, or inferred from a fed-back state)
        self._recordings = Recordings(groups) if self.auto else None
        self.router = SampleRouter(every=holdout_every if self.measure or self.auto else 0, max_check=max_check,
                                   max_search=biascorr.SAMPLES if self.auto or bias_correction else 0,
                                   max_fold=crossval.KEPT_SAMPLES if self.auto else 0,
                                   splittable=not batch_fixed,
                                   # auto without the check: its choice is scored on the held-out
                                   # samples, which set thresholds too (holdout.py)
                                   calibrate_held=self.auto and not self.measure,
                                   input_shapes={self._network.tensor(i)["name"]: self._network.tensor(i)["shape"]
                                                 for i in self._network.inputs()},
                                   recordings=self._recordings,
                                   nonfinite=getattr(calibrator, "_int8rt_options", {}).get("nonfinite", "error"))
        self._methods: dict[str, str] = {}
        self._t0 = time.perf_counter()
        self._seconds: dict[str, float] = {}
        self._session: Any = None
        self._batch_size = 1  # get_batch_size(), asked when the calibration loop starts (wrap)
        self._corrected = 0
        self._deltas: dict[str, list[float]] = {}
        self._fit: Any = None  # the auto choice's collector, when every sample calibrates the session's
        # a Builder like the build's (same rewrites), for engines auto measures a correction on
        self._fresh = fresh
        # auto decides cross-layer equalization: (skip, an equalize.Plan computed already or None) -> (an
        # equalized Builder like the build's, the rescaled tensors, adopt it as the build's);
        # builder._Rewrites.equalized_copy
        self._equalize = equalize
        self._equalized = equalized  # equalized before calibration (BuilderConfig(equalize=True))
        # unsigned activations: True / False as configured (the builders are made so), None: auto decides
        # with unsigned_trial(on) -> (a Builder like the build's with them on / off, adopt that for the build's)
        self._unsigned = unsigned
        self._unsigned_trial = unsigned_trial
        self._float_trial = float_trial  # auto's float stem: float_trial({layer: precision}) (quiet_positions.py)
        self._unsigned_decided = False  # auto ran the trial (so may decide again: _redecide_unsigned)
        self._unsigned_grid: frozenset[str] = frozenset()  # tensors auto holds unsigned (auto.UNSIGNED_MSE)
        self._int8_names: set[str] = set()
        self._at_range: set[str] = set()  # auto: tensors every set holds at their range (input_range.py)
        self._judge: Any = None      # auto: the scorer its choices are judged by (auto_choice.judge_for)
        self._where = ""
        # auto: the build's engine without a correction, lowered once (the
        # chosen set's where its scales are the final ones): scales, engine, its errors
        self._plain: Optional[tuple[dict[str, float], Any, Any]] = None
        self._auto: Optional[dict[str, Any]] = None  # auto: its decisions, for the build report
        self._pass: Optional[PassValues] = None  # auto without the check: values kept from the calibration pass
        # auto: the bias-corrected engine it measured and kept, and its scales (built())
        self._corrected_engine: Optional[tuple[dict[str, float], Any]] = None
        self._corrected_builder: Any = None  # the fresh builder that engine was lowered from
        # auto deciding equalization: the histograms of the tensors it would
        # rescale, as rescaled, from every batch the calibration pass ran
        # (rescaled.py); None: the trial calibrates them on the kept samples
        self._rescaled: Optional[RescaledHistograms] = None
        self._state = False  # auto: whole batches of a network that returns its state: no folds (_pooled)
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 0:
            raise _core.InvalidArgumentError(f"BuilderConfig.auto_parts: a number of parts >= 0 (0: off), got {parts!r}")
        self._parts = parts  # auto: the per-part choice's number of parts (auto_parts.py; 0: off)

    @property
    def _chunk(self) -> int:
        """Samples per run when measuring: the first calibration batch's
        (get_batch_size() may be 1 under TensorRT's explicit-batch
        convention), at most MEASURE_CHUNK where the batch dimension is free:
        these runs keep every activation of the chunk as an output."""
        rows = max(1, self.router.first_rows or self._batch_size)
        return min(rows, MEASURE_CHUNK) if self.router.splittable else rows

    def wrap(self, feed: Callable[[dict[str, np.ndarray]], None], session: Any,
             observe: Optional[Callable[[dict[str, np.ndarray], Optional[np.ndarray], Any], None]] = None
             ) -> Callable[[dict[str, np.ndarray]], None]:
        """The calibration loop's feed, routing held-out samples away from it.

        ``observe(inputs, rows, collector)`` streams ``inputs`` (rows ``rows``
        of the batch ``feed`` has just run; None: that whole batch) into another
        collector: given it, the auto calibrator without the check
        makes its choice from histograms of the kept samples only (a
        collector of its own) while every sample calibrates the session's,
        from which the chosen methods then set the thresholds (holdout.py's
        ``calibrate_held``)."""
        self._session = session
        # asked now, as TensorRT asks it, before get_batch: a calibrator serving
        # recorded batches may not know it once they are spent
        self._batch_size = int(self._calibrator.get_batch_size())
        if self._recordings is not None:
            feed = self._recordings_feed(feed)
        fit_feed = None
        if self.router.calibrate_held and observe is not None and session.collector is not None:
            self._fit = self._new_collector(session)
            fit_feed = lambda inputs, rows: observe(inputs, rows, self._fit)  # noqa: E731
            # the held-out float32 reference and bias correction's layer inputs, from this pass
            self._pass = PassValues(self._builder, [self._network.tensor(i)["name"] for i in self._network.outputs()],
                                    [] if self.bias_correction is False else
                                    sorted((biascorr.layer_inputs(self._network, self._fp32_layers)
                                            | biascorr.layer_outputs(self._network, self._fp32_layers))
                                           - set(self._builder.input_names())), router=self.router)
        if self.auto and self._equalize is not None and observe is not None and session.collector is not None:
            self._rescaled = RescaledHistograms.for_network(
                self._builder, self._network, self._fp32_layers, lambda: self._new_collector(session))
            if self._rescaled is not None:
                feed = self._rescaled.wrap(feed)
        # A batch made only of held-out samples still counts as a batch read
        # from the calibrator (its index in messages stays right).
        return self.router.wrap(feed, skip=lambda: session.observe_with(lambda collector: None), fit_feed=fit_feed,
                                after_feed=self._pass.after_batch if self._pass is not None else None)

    def _recordings_feed(self, feed: Callable[[Inputs], None]) -> Callable[[Inputs], None]:
        """``feed``, then each whole batch's float32 outputs shown to the
        recordings (recordings.Recordings.ran: a fed-back state)."""
        recordings = self._recordings

        def fed(inputs: Inputs) -> None:
            feed(inputs)
            if isinstance(inputs, WholeBatch):
                recordings.ran(self.router.batches - 1, inputs, self._last_outputs)
        return fed

    @property
    def fit_collector(self) -> Any:
        """The auto choice's own collector (the kept samples' histograms),
        where every sample calibrates the session's; else None."""
        return self._fit

    def rewritten(self, builder: Any) -> None:
        """``builder`` (a ``_core.Builder`` of the same model with a
        float32-equivalent rewrite made after the calibration pass:
        SmoothQuant, smoothquant.InPass) becomes the build's; the layer
        inputs the pass kept are the network's before it."""
        self._builder = builder
        self._network = builder.optimized_network()
        if self._pass is not None:
            self._pass.drop_layer_inputs()

    def thresholds(self, session: Any) -> Optional[dict[str, float]]:
        """The auto calibrator's thresholds (None for the other calibrators,
        whose own search runs in ``session.finish``)."""
        self._session = session
        if not self.auto:
            method = self._algorithm.method if self._algorithm is not None else "?"
            self._methods = {n: method for n in session.collector.names}
            return None
        collector = self._fit if self._fit is not None and len(self._fit) else session.collector
        names = list(collector.names)
        # on the calibration pass's last outputs, before a trial adopts another builder
        self._state = crossval.steps_on_state(self.router.held_data(), self._last_outputs())
        t0 = time.perf_counter()
        # The first set (minmax, no search) is built to learn which tensors the
        # engine holds in int8. The sets are ranked with MSE's strided search;
        # the chosen method's thresholds then come from its exact search.
        first = auto_choice.GLOBAL_METHODS[0]
        self._at_range = input_image(self._network)
        sets = auto_choice.single_method_sets(collector, names, methods=(first,), at_range=self._at_range)
        engines = {first: self._builder.build(_scales(sets[first][0]))}
        self._int8_names = auto_choice.int8_tensors(engines[first], self._network)
        sets.update(auto_choice.single_method_sets(collector, names, exact=set(),
                                                   methods=auto_choice.GLOBAL_METHODS[1:], at_range=self._at_range))
        self._seconds["auto_search"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # the held-out samples' float32 outputs: kept by the calibration pass,
        # or left by their run into the folds' histograms (run now, not later)
        held_run = self._held_run(session) if self._pass is None else None
        reference = (self._pass.reference(self.router.check_count, auto_choice.CHOICE_SAMPLES, self._chunk)
                     if self._pass is not None else held_run[1] if held_run is not None else None)
        if self._recordings is not None:  # one long stream of a state network: blocks of it (recordings.py)
            self._recordings.blocks(self.router.held_data(), self.router.batches)
        self._judge, self._where = auto_choice.judge_for(self._network, self.router.search_data(),
                                                         self.router.held_data(), self._chunk, reference)
        self._auto = dict(samples=self.router.samples(self._judge.data), errors={})
        if self._judge.groups is not None:
            self._auto["recordings"] = recordings_line(self._recordings, self._judge.groups)
        elif self._recordings is not None and self._recordings.given:
            logger.warning("auto calibration: BuilderConfig.calibration_groups not used: the calibration batches "
                           "were split into samples (recordings are read for whole batches only: a fixed batch "
                           "or a state input)")
        if self._at_range:
            self._auto["at_range"] = sorted(self._at_range)
            logger.info("auto calibration: %s held at their calibration range (%s) in every set: the inputs' "
                        "linear image a LayerNorm reads (input_range.py)", ", ".join(sorted(self._at_range)),
                        auto_choice.RANGE_METHOD)
        # Unsigned activations first, at the default set's thresholds, so that
        # the sets and their folds are scored in the form the build will have:
        # scored symmetric, the folds took percentile over mse on random-weight
        # ShuffleNetV2 (worst fold 0.549 against 0.650), and the unsigned build
        # with it was 0.916 centred cosine against 0.943 with mse
        # (RESULTS_accuracy.md, 2026-12-04 night).
        default = auto_choice.DEFAULT_METHOD if auto_choice.DEFAULT_METHOD in sets else first
        # the float stem first, at the same thresholds, so that the forms and sets are scored with it
        stem = self._decide_float(_scales(sets[default][0]), "float stem")
        # and the float products (quiet_products.py), at the same thresholds
        if self._decide_float(_scales(sets[default][0]), "float products") or stem:
            engines = {first: self._builder.build(_scales(sets[first][0])), default: self._plain[1]}
            self._int8_names = auto_choice.int8_tensors(engines[first], self._network)
        if self._decide_unsigned(_scales(sets[default][0]), from_cache=False):
            # the sets' engines again, unsigned (the default set's is the trial's), and
            # one set more: MSE on the unsigned grid for the tensors held so (auto.UNSIGNED_MSE)
            engines = {first: self._builder.build(_scales(sets[first][0])), default: self._plain[1]}
            self._int8_names = auto_choice.int8_tensors(engines[first], self._network)
            sets.update(auto_choice.single_method_sets(collector, names, exact=set(), methods=(UNSIGNED_MSE,),
                                                       at_range=self._at_range, unsigned=self._unsigned_grid))
        if default not in engines and self._plain is not None and self._plain[0] == _scales(sets[default][0]):
            engines[default] = self._plain[1]  # lowered by a decision above (the float products' int8 set): not again
        folds = self._folds(session, sets, held_run) if self._where == "held-out" else None
        choice = auto_choice.choose(self._builder.build, sets, self._int8_names, self._judge, engines=engines,
                                    folds=folds)
        self._methods = choice.methods
        chosen = self._redecide_unsigned(choice, default)
        if self._parts:
            choice, chosen = self._choose_parts(choice, sets, chosen)
        # the chosen method's exact search, over every sample's histograms
        amaxes = auto_choice.apply_methods(session.collector, self._methods, self._int8_names, choice.amaxes)
        if chosen is not None and all(amaxes[n] == choice.amaxes[n] for n in self._int8_names if n in amaxes):
            self._plain = (_scales(choice.amaxes), *chosen)  # the same engine
        self._auto["thresholds"] = choice.label
        if self._judge.groups is not None:
            self._auto["recording_errors"] = {k: {g: round(v, 6) for g, v in group_errors(e).items()}
                                              for k, e in choice.errors.items()}
        self._auto["errors"] = {**{k: round(e.relative_l2, 6) for k, e in choice.errors.items()},
                                **self._auto["errors"]}
        logger.info("auto calibration, output relative L2 on %d %s samples (class scores and dense maps: "
                    "sqrt(1 - centred cosine^2)): %s; chosen: %s%s", self._auto["samples"], self._where,
                    ", ".join(f"{k} {v:.4g}" for k, v in self._auto["errors"].items()),
                    choice.held_label or choice.label,
                    "" if self._where == "held-out" else
                    " (no calibration samples held out, so the choice is judged on samples it calibrated on)")
        if choice.folds:
            self._auto["worst_fold_errors"] = {k: round(v, 6) for k, v in choice.worst.items()}
            self._auto["held_out_choice"] = choice.held_label
            self._seconds["auto_folds"] = folds.seconds
            logger.info("auto calibration, output relative L2 on the worst of %d folds (crossval.py, %.1f s; the "
                        "sets that could override the held-out choice): %s; chosen: %s%s",
                        1 + len(next(iter(choice.folds.values()))), folds.seconds,
                        ", ".join(f"{k} {v:.4g} (other folds {max(e.relative_l2 for e in choice.folds[k]):.4g})"
                                  for k, v in self._auto["worst_fold_errors"].items()), choice.label,
                        "" if choice.label == choice.held_label else f" (the held-out slice alone: {choice.held_label})")
        self._seconds["auto_choice"] = time.perf_counter() - t0
        # unsigned activations (decided above) before equalization, so the
        # equalization trial is judged on engines of the form the build will
        # have (random-weight ShuffleNetV2: held-out error 0.557 vs 0.598
        # symmetric, not clearly lower; RESULTS_accuracy.md, 2026-12-03 afternoon)
        if self._equalize is None:
            self._auto["equalization"] = "on (BuilderConfig)" if self._equalized else "off (BuilderConfig)"
        else:
            t0 = time.perf_counter()
            amaxes = self._decide_equalization(session, amaxes)
            self._seconds["auto_equalization"] = time.perf_counter() - t0
        return amaxes

    def _choose_parts(self, choice: auto_choice.Choice, sets: dict[str, Any], chosen: Optional[tuple[Any, Any]]
                      ) -> tuple[auto_choice.Choice, Optional[tuple[Any, Any]]]:
        """The per-part choice after the whole-network one
        (``BuilderConfig.auto_parts``, auto_parts.py), on the held-out
        samples only: the choice with the parts' thresholds and methods, and
        the engine at them with its errors (``chosen``: the chosen set's,
        :meth:`_redecide_unsigned`)."""
        assert self._auto is not None
        if self._where != "held-out":
            self._auto["parts"] = "off (no held-out samples)"
            return choice, chosen
        if choice.held_label and choice.label != choice.held_label:
            # step 4's folds overrode the held-out slice, which is then not
            # the evidence to undo it with part by part (RESULTS_accuracy.md
            # acc40: LRASPP, minmax from the folds, took percentile on its
            # front and lost 0.0195 of centred cosine)
            self._auto["parts"] = "off (the folds made the choice)"
            return choice, chosen
        t0 = time.perf_counter()
        if chosen is None:
            engine = self._builder.build(_scales(choice.amaxes))
            chosen = (engine, self._judge(engine))
        split = auto_parts.split(self._network, self._int8_names, self._parts)
        out = auto_parts.choose_parts(self._builder.build, self._judge, sets, choice.label, choice.amaxes,
                                      self._methods, *chosen, split, self._at_range)
        self._seconds["auto_parts"] = time.perf_counter() - t0
        self._auto["parts"] = out.report()
        if not out.switched:
            return choice, chosen
        self._auto["errors"]["parts"] = round(out.errors.relative_l2, 6)
        self._methods = out.methods
        return replace(choice, amaxes=out.amaxes, methods=out.methods), (out.engine, out.errors)

    def _new_collector(self, session: Any) -> Any:
        """An empty collector like the session's (method, bins, range policy)."""
        from ..calib import Collector

        c = session.collector
        return Collector(c.algorithm, num_bins=c.num_bins, policy=c.policy,
                         nonfinite=getattr(self._calibrator, "_int8rt_options", {}).get("nonfinite", "error"))

    def _pooled(self) -> Any:
        from . import crossval

        if self._state:
            return None
        return crossval.pool(self.router.fold_data(), self.router.held_data())

    def _held_run(self, session: Any) -> Optional[tuple[Any, Optional[list[dict[str, np.ndarray]]]]]:
        """The folds' run of the held-out samples (crossval.calibrated),
        where folds can be made; None elsewhere."""
        from . import crossval

        pooled = self._pooled()
        if pooled is None:
            return None
        return crossval.calibrated(pooled[1], self._chunk, self._calibrate_into, lambda: self._new_collector(session),
                                   self._last_outputs)

    def _calibrate_into(self, chunk: dict[str, np.ndarray], collector: Any) -> None:
        self._builder.calibrate_batch(chunk, collector._native)

    def _folds(self, session: Any, sets: dict[str, Any], held_run: Any = None) -> Any:
        """The folds of the kept samples auto_choice.choose scores the sets
        on (crossval.py); None where the samples do not make folds.
        ``held_run``: :meth:`_held_run`'s, made already."""
        from . import crossval

        pooled = self._pooled()
        if pooled is None:
            return None
        return crossval.Folds(
            self._builder.build, self._calibrate_into, lambda: self._new_collector(session),
            self._network, *pooled, self._chunk, self._int8_names, {k: v[0] for k, v in sets.items()},
            last_outputs=self._last_outputs, held_run=held_run, at_range=self._at_range, unsigned=self._unsigned_grid)

    def _last_outputs(self) -> Optional[dict[str, np.ndarray]]:
        """The network's float32 outputs as the builder's last
        ``calibrate_batch`` computed them (None where one cannot be read)."""
        out = {}
        for i in self._network.outputs():
            name = self._network.tensor(i)["name"]
            try:
                value = self._builder.copy_last(name)
            except _core.Error:  # no batch has run in this builder
                return None
            if value is None:
                return None
            out[name] = value
        return out

    def _decide_equalization(self, session: Any, amaxes: dict[str, float]) -> dict[str, float]:
        """Cross-layer equalization, tried after the choice of thresholds: a
        copy of the build's network is equalized (equalize.py) and its
        rescaled tensors get the chosen method's thresholds on their
        histograms as rescaled, which the calibration pass collected from
        every sample it ran (rescaled.py), or, where it could not, on the
        kept samples (at most bias_correction.SAMPLES). The engine is kept
        where it is closer to float32 on the held-out samples than the one
        without (decision_rule.py: centred, and uncentred where no bias
        correction follows): by auto_choice's
        margin (MIN_GAIN) where the thresholds came from the whole pass,
        and also by its t-test where they came from the kept samples only.
        Returns the thresholds, the rescaled tensors' replaced when kept."""
        from . import equalize

        assert self._auto is not None
        data = self.router.search_data()
        if not equalize.find_pairs(self._network, self._fp32_layers):
            self._auto["equalization"] = "off (no conv -> conv pair)"
            return amaxes
        trial, rescaled, adopt = self._equalize(self._fp32_layers, self._rescaled.plan if self._rescaled else None)
        whole = self._rescaled is not None and self._rescaled.complete(rescaled)
        if whole:
            collector, source = self._rescaled.collector, f"all {self._rescaled.samples} samples of the pass"
        elif data is not None:
            collector = self._new_collector(session)
            for chunk in batches(data, self._chunk):
                trial.calibrate_batch(chunk, collector._native)
            source = f"{self.router.samples(data)} kept samples"
        else:
            self._auto["equalization"] = "off (no kept samples)"
            return amaxes
        self._rescaled = None  # its histograms are read (the memory goes)
        names = {n for n in rescaled if n in self._int8_names and n in collector}
        trial_amaxes = auto_choice.apply_methods(collector, self._methods, names, amaxes)
        without = self._plain_errors(_scales(amaxes))
        trial_scales = _scales(trial_amaxes)
        trial_engine = trial.build(trial_scales)
        with_ = self._judge(trial_engine)
        keep = _equalization_helps(with_, without, whole=whole, bias_correction=self.bias_correction)
        self._auto["equalization"] = (f"on (auto, {len(rescaled)} tensors rescaled, their thresholds from "
                                      f"{source})" if keep else "off (auto)")
        self._auto["errors"].update(decision_rule.report_errors("equalization", without, with_))
        logger.info("auto calibration: cross-layer equalization %s (output relative L2 on %d %s samples: %s)",
                    "kept" if keep else "left off", self._auto["samples"], self._where,
                    decision_rule.describe(without, with_))
        if not keep:
            return amaxes
        adopt()
        self._builder = trial
        self._network = trial.optimized_network()
        self._plain = (dict(trial_scales), trial_engine, with_)  # the build's engine now, judged already
        if self._pass is not None:  # the layer inputs kept are the network's before equalization
            self._pass.drop_layer_inputs()
        return trial_amaxes

    def _plain_engine(self, scales: dict[str, float]) -> Any:
        """The build's engine as it stands (``scales``, no correction),
        lowered once: the chosen set's where that engine is this one; its
        errors on the judging samples are measured when first asked
        (:meth:`_plain_errors`)."""
        if self._plain is None or self._plain[0] != scales:
            self._plain = (dict(scales), self._builder.build(scales), None)
        return self._plain[1]

    def _plain_errors(self, scales: dict[str, float]) -> Any:
        """The errors of the build's engine as it stands (``scales``, no
        correction) on the judging samples, run once."""
        engine = self._plain_engine(scales)
        if self._plain[2] is None:
            self._plain = (self._plain[0], engine, self._judge(engine))
        return self._plain[2]

    def built(self, scales: dict[str, float]) -> Optional[Any]:
        """The engine (``_core.Engine``) that ``builder.build(scales)``
        would lower, where auto has lowered it already: the chosen set's
        engine, or the bias-corrected one it measured (from a builder like
        the build's); else None."""
        scales = dict(scales)
        if self._corrected:
            return self._corrected_engine[1] if self._corrected_engine and self._corrected_engine[0] == scales else None
        return self._plain[1] if self._plain is not None and self._plain[0] == scales else None

    @property
    def builder(self) -> Any:
        """The build's ``_core.Builder``: the one given, or the equalized
        copy where auto kept cross-layer equalization."""
        return self._builder

    def before_build(self, result: Any) -> None:
        """Once the scales are known: the auto calibrator's decision on
        unsigned activations (:meth:`_decide_unsigned`; made already when
        auto chose the thresholds), then bias correction on the builder's
        network: when asked, or
        (``bias_correction=None`` with the auto calibrator) where the
        held-out samples show it helps; nothing to do when the scales came
        from a cache (no data)."""
        if self._auto is not None and "unsigned_activations" not in self._auto:
            self._decide_unsigned(result.scales, from_cache=result.from_cache)
        if self.bias_correction is False and self._auto is not None:
            self._auto["bias_correction"] = "off (BuilderConfig)"
        if self.bias_correction is False or (self.bias_correction is None and not self.auto):
            return
        data = self.router.search_data()
        if result.from_cache or data is None:
            if self.bias_correction:
                logger.warning("bias correction skipped: it needs calibration data, and the scales came from the "
                               "cache")
            return
        t0 = time.perf_counter()
        values = self._pass.layer_inputs(biascorr.SAMPLES) if self._pass is not None else ()
        grids = self._engine_grids(result.scales)
        deltas = self._measure_shifts(result.scales, data, values, grids)
        keep = bool(deltas)
        if self.bias_correction is None and deltas and self._fresh is not None:  # auto: measured with and without
            deltas = self._bias_correction_kept(result.scales, deltas)
            keep = bool(deltas)
        elif self._auto is not None:
            self._auto["bias_correction"] = (
                "on (BuilderConfig)" if self.bias_correction else
                "off (no Conv / Gemm / MatMul / LSTM / GRU / RNN reads an int8 input)" if not deltas else "off")
            keep = keep and bool(self.bias_correction)
        if keep and self.auto:
            deltas = self._refit_shifts(result.scales, data, values, grids, deltas)
        if self._pass is not None:
            self._pass.release()
        if keep:
            biascorr.apply(self._builder, deltas)
            self._corrected = len(deltas)
            self._deltas = dict(deltas)
            logger.info("bias correction: %d layers, mean |shift| %.3g", len(deltas),
                        float(np.mean([np.abs(np.asarray(d)).mean() for d in deltas.values()])))
            if self._corrected_builder is None or not _same_network(self._corrected_builder, self._builder):
                self._corrected_engine = None  # measured on another network (or not at all): lower this one
        self._corrected_builder = None
        self._seconds["bias_correction"] = time.perf_counter() - t0

    def _measure_shifts(self, scales: dict[str, float], data: Any, values: Any, grids: dict[str, Any],
                        limit: Optional[int] = None) -> dict[str, list[float]]:
        """Bias correction's shifts of the top level's layers and of those
        inside the calibrated If branches (branch_bias.py), which the
        report counts apart."""
        deltas = biascorr.measure_shifts(self._network, scales, data, self._chunk, self._fp32_layers, values,
                                         **grids, limit=limit)
        inner: dict[str, list[float]] = {}
        if any(n["op"] == "If" for n in self._network.nodes()):
            # the branches' shapes as calibration annotated them (self._network is the network before it)
            inner = branch_bias.measure_branch_shifts(self._builder.optimized_network(), scales, data, self._chunk,
                                                      self._fp32_layers, grids["affine"], grids["luts"], limit=limit)
        if self._auto is not None:
            self._auto["bias_correction_layers"] = {"top level": len(deltas), "If branches": len(inner)}
        return {**deltas, **inner}

    def _refit_shifts(self, scales: dict[str, float], data: Any, values: Any, grids: dict[str, Any],
                      deltas: dict[str, list[float]]) -> dict[str, list[float]]:
        """Bias correction kept (auto's decision or BuilderConfig's) with
        the auto calibrator without the check: the shifts measured again on
        the kept samples and the held-out ones together,
        as the held-out samples set the final thresholds too (holdout.py's
        ``calibrate_held``); the decision stays the one the held-out samples
        made. PP-OCRv4 det: centred cosine 0.9573 -> 0.9621 with the 8
        held-out pages added to the 24 kept (RESULTS_accuracy.md, 2026-12-03
        late afternoon). Elsewhere (the check measures the held-out samples)
        the shifts stay those of the kept samples."""
        held = self.router.held_data()
        if not self.router.calibrate_held or not held:
            return deltas
        both = [*data, *held]
        refit = self._measure_shifts(scales, both, values, grids, limit=count(both))
        refit = {k: v for k, v in refit.items() if k in deltas}  # the groups auto kept (bias_groups.py)
        if set(refit) != set(deltas):
            return deltas
        self._corrected_engine = None  # the engine measured had the kept samples' shifts: lower the build's
        assert self._auto is not None
        self._auto["bias_correction_samples"] = self.router.samples(both)  # the shifts' (the decision's: the kept ones)
        return refit

    def _decide_float(self, scales: dict[str, float], decision: str) -> bool:
        """auto's ``decision``: ``"float stem"``, the layers from an input to
        a per-position LayerNorm kept out of int8 (float32; their Convs in
        BF16 where native) where most positions it reads are below one int8
        step at ``scales`` (quiet_positions.py), or ``"float products"``, the
        activation x activation MatMuls kept in float32 where most rows of
        their output are (quiet_products.py); each where the judging
        samples' output error says so. Recorded in the report. Returns
        whether the build's builder changed."""
        if self._float_trial is None or self._judge is None or self.router.search_data() is None:
            return False
        t0 = time.perf_counter()
        attempt = (quiet_positions.try_stem if decision == "float stem" else  # the products the build runs in int8
                   partial(quiet_products.try_products, int8=quiet_products.int8_products(self._plain_engine(scales))))
        trial = attempt(self._network, self._float_trial, scales, lambda: self._plain_errors(scales), self._judge,
                        quiet_positions.float_rows(self._network, self._judge.data, self._chunk),
                        fp32_layers=self._fp32_layers, bias_correction=self.bias_correction)
        key = decision.replace(" ", "_")
        self._seconds[f"auto_{key}"] = time.perf_counter() - t0
        if not trial.shares:
            return False
        self._auto[key] = trial.report()
        if trial.tried is None:
            return False
        self._auto["errors"].update(decision_rule.report_errors(decision, trial.current, trial.tried))
        logger.info("auto calibration: %s %s (%d layers; output relative L2 on %d %s samples: %s)", decision,
                    "kept" if trial.keep else "left int8", len(trial.layers), self._auto["samples"], self._where,
                    decision_rule.describe(trial.current, trial.tried))
        if not trial.keep:
            return False
        trial.adopt()
        self._fp32_layers |= set(trial.layers)
        self._builder = trial.builder
        self._plain = (dict(scales), trial.engine, trial.tried)  # the build's engine without a correction now
        return True

    def _decide_unsigned(self, scales: dict[str, float], *, from_cache: bool) -> bool:
        """auto with ``unsigned_activations=None``: unsigned activations
        tried at ``scales`` against the build's engine there
        (unsigned_form.py) and kept where the error on the judging samples
        is lower; a builder made later (the sets', the equalization
        trial's, bias correction's) then has them too. Recorded in the
        report. Returns whether the build's builder changed (unsigned kept)."""
        if self._auto is not None and self._unsigned is not None:
            self._auto["unsigned_activations"] = f"{'on' if self._unsigned else 'off'} (BuilderConfig)"
        if self._unsigned_trial is None or not self.auto or self._auto is None or self._judge is None:
            return False
        if from_cache or self.router.search_data() is None:
            self._auto["unsigned_activations"] = "off (no calibration data)"
            return False
        t0 = time.perf_counter()
        trial = unsigned_form.try_form(self._unsigned_trial, True, scales, self._plain_engine(scales),
                                       lambda: self._plain_errors(scales), self._judge,
                                       bias_correction=self.bias_correction)
        if not trial.changed:
            self._auto["unsigned_activations"] = "off (no non-negative int8 tensor whose readers all take a zero point)"
            return False
        self._unsigned_decided = True
        self._auto["unsigned_activations"] = trial.report()
        self._auto["errors"].update(trial.errors())
        logger.info("auto calibration: unsigned activations %s (%d int8 tensors; output relative L2 on %d %s "
                    "samples: %s)", "kept" if trial.keep else "left off", trial.changed,
                    self._auto["samples"], self._where, decision_rule.describe(trial.current, trial.tried))
        if trial.keep:
            trial.adopt()
            self._unsigned = True
            self._unsigned_grid = frozenset(trial.names)
            self._builder = trial.builder
            self._plain = (dict(scales), trial.engine, trial.tried)  # the build's engine without a correction now
        self._seconds["auto_unsigned"] = time.perf_counter() - t0
        return trial.keep

    def _redecide_unsigned(self, choice: auto_choice.Choice, decided_at: str) -> Optional[tuple[Any, Any]]:
        """The chosen set's engine in the form the build keeps, and its
        errors on the judging samples (None where the set was not lowered).

        auto decided unsigned activations at ``decided_at``'s thresholds
        (the default set's, :meth:`thresholds`) and scored every set in
        that form; where another set is chosen, the form is tried again at
        the chosen thresholds (unsigned_form.py), by the same rule, and
        adopted where it wins. At mse's thresholds a grid that clips
        nothing (one outlier sets them) is as good symmetric; at entropy's,
        which clip, the unsigned grid's finer step pays: the overfit case
        of the tests (accuracy_models.py), held-out relative L2 0.0442
        symmetric, 0.0296 unsigned (RESULTS_accuracy.md, 2026-12-04
        midday). One build and one run of the judging samples, only where
        the choice is not ``decided_at``; the folds' and the other sets'
        scores stay those of the first form."""
        label = choice.label
        current, before = choice.engines.get(label), choice.errors[label]
        # UNSIGNED_MSE's thresholds are searched for the unsigned form: not tried again
        if not self._unsigned_decided or label in (decided_at, UNSIGNED_MSE):
            return (current, before) if current is not None else None
        t0 = time.perf_counter()
        scales = _scales(choice.amaxes)
        if current is None:  # scored as a twin of another set: its own engine
            current = self._builder.build(scales)
            before = self._judge(current)
        trial = unsigned_form.try_form(self._unsigned_trial, not self._unsigned, scales, current, lambda: before,
                                       self._judge, bias_correction=self.bias_correction)
        if not trial.changed:
            return current, before
        was = "on" if self._unsigned else "off"
        self._auto["errors"].update(trial.errors(label))
        logger.info("auto calibration: unsigned activations decided again at %s's thresholds: %s (%d int8 tensors; "
                    "output relative L2 %.4g %s, %.4g %s)", label, ("on" if trial.on else "off") if trial.keep else was,
                    trial.changed, before.relative_l2, was, trial.tried.relative_l2, "on" if trial.on else "off")
        self._seconds["auto_unsigned"] = self._seconds.get("auto_unsigned", 0.0) + time.perf_counter() - t0
        if not trial.keep:
            return current, before
        trial.adopt()
        self._unsigned = trial.on
        self._builder = trial.builder
        self._plain = None  # an engine lowered in the other form (the first trial's): not the build's
        self._int8_names = auto_choice.int8_tensors(trial.engine, self._network)
        self._auto["unsigned_activations"] = trial.report(label)
        return trial.engine, trial.tried

    def _engine_grids(self, scales: dict[str, float]) -> dict[str, Any]:
        """How the engine holds the layers' inputs, as ``measure_shifts``
        takes it: ``affine``, the int8 tensors it holds with a zero point
        (unsigned activations, and asymmetric ones: a table's output bounded
        below, which the lowering holds so whether unsigned activations are
        on or off): name -> (scale, zero point), from its int8 plan; and
        ``luts``, the tensors a table layer writes (lut_inputs.py), those
        inside If branches under their scoped names (branch_bias.py)."""
        engine = self.built(scales) if not self._corrected else None
        engine = engine if engine is not None else self._builder.build(scales)
        return {"affine": {t.tensor: (t.scale, t.zero_point) for t in engine.int8_plan().tensors if t.zero_point != 0},
                "luts": {**lut_inputs(engine.network()), **branch_bias.branch_luts(engine.network())}}

    def _bias_correction_kept(self, scales: dict[str, float], deltas: dict[str, list[float]]
                              ) -> dict[str, list[float]]:
        """The corrections kept: each group of layers (bias_groups.py: Conv /
        Gemm, MatMul, recurrent) where the engine with it is
        closer to float32 on the auto choice's judging samples than the one
        without (:func:`_helps`: centred or uncentred), in turn; recorded in
        the report."""
        def judge(subset: dict[str, list[float]]) -> tuple[Any, Any, Any]:
            builder = biascorr.apply(self._fresh(), subset)
            engine = builder.build(scales)
            return builder, engine, self._judge(engine)

        decision = bias_groups.decide(bias_groups.split(self._network, deltas), self._plain_errors(dict(scales)),
                                      judge, _helps)
        if decision.deltas:  # the build's engine, where the build's builder is like this one (before_build)
            self._corrected_engine, self._corrected_builder = (dict(scales), decision.engine), decision.builder
        assert self._auto is not None
        self._auto["bias_correction"] = decision.label()
        self._auto["errors"].update(decision.errors)
        logger.info("auto calibration: bias correction %s (output relative L2 on %d %s samples: %s)",
                    decision.label(), self._auto["samples"], self._where, "; ".join(decision.log))
        return decision.deltas

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
               rebuild: Optional[Callable[..., Any]] = None, progress: Any = None,
               bf16_off: str = "not asked for") -> Any:
        """Measures the built engine (``int8rt.Engine``) and returns it with
        the report in its metadata. With ``accuracy_target``, first chooses
        the float32 layers (mixed.py) with ``rebuild(fp32 nodes) -> _core.Engine``
        (``rebuild(nodes, bf16 nodes)``: those in BF16 where they have a kernel
        that pays, tried unless ``bf16_off`` says why not), its phases shown on ``progress``
        (BuilderConfig.progress)."""
        from ..engine import Engine

        self._seconds["calibration_and_build"] = time.perf_counter() - self._t0
        header = dict(algorithm=result.algorithm, calibration_batches=result.num_batches,
                      bias_corrected_layers=self._corrected, auto_choice=self._auto)
        data, why_not = self._check_data(result)
        if data is None:
            unmet = ("" if accuracy_target is None else
                     f"; accuracy_target {accuracy_target:g} not applied (it is met on measured samples)")
            report = BuildReport(measured=False, reason=why_not + unmet, **header)
        else:
            t0 = time.perf_counter()
            header.update(threshold_samples=0 if result.from_cache else self.router.threshold_count,
                          check_samples=self.router.samples(data), held_out=self.router.held_out,
                          slice_rule=self.router.describe(), thresholds_from_cache=result.from_cache)
            if accuracy_target is not None and rebuild is not None:
                fp32 = _core.Engine.create(self._network, {"precision": "fp32"})
                reference = mixed._outputs(fp32, data, self._chunk)
                names = {n["name"] for n in self._network.nodes()}
                chosen, choice = mixed.choose_float_layers(
                    build=rebuild, engine=engine._native, node_names=names, reference=reference, data=data,
                    batch_size=self._chunk, target=accuracy_target, metric=accuracy_metric, progress=progress,
                    fp32_engine=fp32, bf16_off=bf16_off)
                engine = Engine(chosen)
                header["mixed_precision"] = asdict(choice)
                self._seconds["mixed_precision"] = time.perf_counter() - t0
                t0 = time.perf_counter()
            report = check.measure(network=self._network, engine=engine._native, data=data,
                                   batch_size=self._chunk, collector=getattr(self._session, "collector", None),
                                   methods=self._methods, header=header)
            self._seconds["check"] = time.perf_counter() - t0
            report = _with_seconds(report, self._seconds)
        metadata = dict(engine.metadata)
        metadata[METADATA_KEY] = report.to_json()
        return Engine(engine._native.with_metadata(metadata))


    def _check_data(self, result: Any) -> tuple[Any, str]:
        """The samples the check measures, or (None, why not): the held-out
        ones; with scales from the cache, those of a calibrator made from
        arrays, read now (cached_check.py)."""
        if not self.measure:
            return None, "BuilderConfig(accuracy_check=False)"
        if not result.from_cache:
            return self.router.check_data(), ""
        shapes = {self._network.tensor(i)["name"]: self._network.tensor(i)["shape"] for i in self._network.inputs()}
        return cached_check.held_out_data(self._calibrator, self.router, list(shapes), shapes)


def _helps(with_: Any, without: Any) -> bool:
    """Bias correction is kept where the output error on the judging
    samples is lower with it by ``auto_choice.MIN_GAIN`` (1%), centred or
    uncentred (decision_rule.py; the digits CNN on a
    long stream lost 0.0202 -> 0.0222 by a 0.9% centred gain the uncentred
    error shows; RESULTS_accuracy.md, acc18 / acc20). No t-test, unlike the choice of thresholds: it is what the
    literature and NNCF apply by default, and on 8 held-out
    images (a 32-image calibration) the t-test refused it also where it was
    closer to float32 on the evaluation images (random-weight ResNet-50:
    0.349 against 0.314 centred cosine; RESULTS_accuracy.md, 2026-12-03
    morning). The margin because the judging samples can be very few: on
    DeepLabV3 (4 held out, one per calibration size) a 0.2% lower held-out
    error kept it and cost 0.011 of centred cosine at 320x256 (2026-12-03
    afternoon); where it paid, the held-out error fell by 1.1-11%."""
    return decision_rule.keeps(with_, without, test="margin",
                               uncentred=decision_rule.reads_uncentred("bias correction", None))


def _equalization_helps(with_: Any, without: Any, *, whole: bool, bias_correction: Optional[bool] = None) -> bool:
    """Cross-layer equalization is kept where the output error on the
    judging samples is lower with it (decision_rule.py: centred, and
    uncentred where no bias correction follows, ``bias_correction`` being
    BuilderConfig's). With thresholds from the whole pass (``whole``),
    by the margin alone, as the threshold choice asks of a set: 8 held-out
    images (ShuffleNetV2) cannot pass a t-test for the 7-9% it gains. From
    the kept samples only, clearly (margin and t-test): PP-OCR cls's
    rescaled thresholds from 64 of 256 lines scored 0.082 against 0.065
    without, where those from all lines score 0.042 (and 0.9970 centred
    cosine on the evaluation lines against 0.9956)."""
    return decision_rule.keeps(with_, without, test="margin" if whole else "clearly",
                               uncentred=decision_rule.reads_uncentred("equalization", bias_correction))


def _same_network(a: Any, b: Any) -> bool:
    """Whether builders ``a`` and ``b`` (``_core.Builder``) hold the same
    optimized network: nodes (ops, attributes, wiring) and tensors (names,
    shapes, types) alike. Their constants are alike by construction (the
    same model, rewrites replayed, the same bias corrections); what the
    calibration pass may change is the shapes it annotates."""
    na, nb = a.optimized_network(), b.optimized_network()
    return na.nodes() == nb.nodes() and na.tensors() == nb.tensors()


def _scales(amaxes: dict[str, float]) -> dict[str, float]:
    return {n: scale_from_amax(a) for n, a in amaxes.items()}


def _with_seconds(report: BuildReport, seconds: dict[str, float]) -> BuildReport:
    from dataclasses import replace

    return replace(report, seconds={k: round(v, 4) for k, v in seconds.items()})
