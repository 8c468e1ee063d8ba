"""The builder's side of accuracy: one object per INT8 build that splits the
calibration stream (holdout.py), makes the ``auto`` calibrator's choices
when it is the calibrator, in this order, each on the same held-out
samples: unsigned activations (at the default set's thresholds), the
thresholds (auto_choice.py, its sets and folds scored in that form),
unsigned activations again where another set was chosen (at its
thresholds), cross-layer equalization, the network inputs widened to
their calibration range where the chosen thresholds clip them by 1-20 %
(input_floor.py: after every decision above, which it would move), bias
correction), and after the build
measures the engine (check.py) and stores the report in the engine's
metadata. The auto calibrator without the check reads the held-out float32
outputs and bias correction's layer inputs from the calibration pass
(pass_values.py), lowers the engine without a correction once (the chosen
set's where its scales are the final ones) and hands the builder the
engine it already lowered (:meth:`built`). With the check, the held-out
samples' run into the folds' histograms (crossval.calibrated, before the
choice) leaves the choice's float32 reference, and each fold's runs its own.

The steps are in four files, one job each: this one (the stream's split,
the choice of thresholds, the second unsigned decision, the check and the
report), run_folds.py (the held-out and fold runs), run_decisions.py (the
float stem / recurrent layers / products, unsigned activations, equalization) and run_bias.py
(bias correction); :class:`CalibrationRun` mixes them in.

``int8rt.builder`` calls it at four points: :meth:`wrap` around the feed of
its calibration loop, :meth:`thresholds` before ``session.finish``,
:meth:`before_build` (bias correction) and :meth:`finish` on the built engine.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from typing import Any, Callable, Hashable, Optional, Sequence

import numpy as np

from .. import _core
from ..calibrator import CalibrationAlgoType, IInt8Calibrator

from . import auto_choice, auto_parts, cached_check, check, crossval, mixed, quiet_positions
from . import unsigned_form
from . import bias_correction as biascorr
from . import sequence_axis
from .holdout import SampleRouter
from .auto import UNSIGNED_MSE
from .input_range import input_image
from . import input_floor
from .pass_values import PassValues
from .rescaled import RescaledHistograms
from .recordings import Recordings, group_errors, recordings_line
from .taps import WholeBatch
from .report import METADATA_KEY, BuildReport
from .run_bias import BiasCorrectionSteps, correction_helps
from .run_decisions import AutoDecisions, equalization_helps, scales_of as _scales
from .run_folds import FoldRuns

__all__ = ["CalibrationRun"]

# the decision rules under the names tests/test_decision_rule.py and
# tests/test_bias_correction_decision.py import them by (run_bias.py, run_decisions.py)
_helps = correction_helps
_equalization_helps = equalization_helps

logger = logging.getLogger("int8rt")

Inputs = dict[str, np.ndarray]

# Most samples per measuring run (memory: every activation of a run is kept
# as an output of the tap engine).
MEASURE_CHUNK = 8


class CalibrationRun(FoldRuns, AutoDecisions, BiasCorrectionSteps):
    """Accuracy bookkeeping of one INT8 build (the held-out and fold runs in
    run_folds.py, auto's float / unsigned / equalization decisions in
    run_decisions.py, bias correction in run_bias.py).

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
                 unsigned_cost: str = "",
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
        self._unsigned_cost = unsigned_cost  # why the unsigned form would slow this CPU (unsigned_form.speed_cost), or ""
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
        # once a recurrent layer's stem is float, the other recurrent layers too (recurrent_float.py)
        if stem:
            self._decide_float(_scales(sets[default][0]), "float recurrent")
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
        return self._widen_inputs(session.collector, amaxes)

    def _widen_inputs(self, collector: Any, amaxes: dict[str, float]) -> dict[str, float]:
        """``amaxes`` with the network inputs the engine holds in int8 (and
        a set does not hold at their range already) widened to their
        calibration range where the chosen threshold clips its end by 1-20 %
        (input_floor.py: last, every decision above made without it); named
        in the log and the build report (``input_floor``: input ->
        "own -> range")."""
        inputs = (input_floor.network_inputs(self._network) & self._int8_names) - self._at_range
        amaxes, widened = input_floor.widen_inputs(collector, inputs, amaxes)
        if widened:
            self._auto["input_floor"] = {n: f"{a:.6g} -> {b:.6g}" for n, (a, b) in widened.items()}
            logger.info("auto calibration: network inputs widened to their calibration range (the chosen "
                        "threshold %.0f-%.0f %% below it; input_floor.py): %s",
                        100 * (1 - input_floor.INPUT_FLOOR), 100 * (1 - input_floor.INPUT_TAIL),
                        ", ".join(f"{k} {v}" for k, v in self._auto["input_floor"].items()))
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


def _with_seconds(report: BuildReport, seconds: dict[str, float]) -> BuildReport:
    return replace(report, seconds={k: round(v, 4) for k, v in seconds.items()})
