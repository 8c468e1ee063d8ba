"""auto's decisions on the form of the build, for
:class:`run.CalibrationRun` (a mixin: the methods read and replace the run's
builder, network, judge and report): the float stem, the float recurrent
layers after it and the float products (quiet_positions.py,
recurrent_float.py, quiet_products.py), unsigned activations at the default
set's thresholds (unsigned_form.py), cross-layer equalization after the
choice of thresholds (equalize.py, rescaled.py), and the build's engine
without a correction, lowered and judged once (:meth:`_plain_engine`). Each is
kept by decision_rule.py's rules on the judging samples and recorded in the
report. Split out of run.py (one job per file, STYLE.md); the behaviour is
run.py's as it was (the second unsigned decision, at the chosen set's
thresholds, stays in run.py beside the choice).
"""
from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any, Optional

from .._numerics import scale_from_amax
from . import (
    auto_choice,
    decision_rule,
    quiet_positions,
    quiet_products,
    recurrent_float,
    unsigned_form,
)
from .taps import batches

__all__ = ["AutoDecisions", "equalization_helps", "scales_of"]

logger = logging.getLogger("int8rt")


class AutoDecisions:
    """auto's float, unsigned and equalization decisions of :class:`run.CalibrationRun`."""

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
        without = self._plain_errors(scales_of(amaxes))
        trial_scales = scales_of(trial_amaxes)
        trial_engine = trial.build(trial_scales)
        with_ = self._judge(trial_engine)
        keep = equalization_helps(with_, without, whole=whole, bias_correction=self.bias_correction)
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

    def _decide_float(self, scales: dict[str, float], decision: str) -> bool:
        """auto's ``decision``: ``"float stem"``, the layers from an input to
        a per-position LayerNorm, a recurrent layer or a Log (log_stems.py)
        kept out of int8 (float32; their Convs in BF16 where native) where
        most positions (a Log's: values) it reads are below one int8 step at
        ``scales`` (quiet_positions.py), ``"float recurrent"``, the other
        recurrent layers in float32 once a recurrent layer's stem is float
        (recurrent_float.py), or ``"float products"``, the
        activation x activation MatMuls kept in float32 where most rows of
        their output are (quiet_products.py); each where the judging
        samples' output error says so. Recorded in the report. Returns
        whether the build's builder changed."""
        if self._float_trial is None or self._judge is None or self.router.search_data() is None:
            return False
        t0 = time.perf_counter()
        attempt = (quiet_positions.try_stem if decision == "float stem" else
                   recurrent_float.try_recurrent if decision == "float recurrent" else  # the products the build runs in int8
                   partial(quiet_products.try_products, int8=quiet_products.int8_products(self._plain_engine(scales))))
        trial = attempt(self._network, self._float_trial, scales, lambda: self._plain_errors(scales), self._judge,
                        quiet_positions.float_rows(self._network, self._judge.data, self._chunk),
                        fp32_layers=self._fp32_layers, bias_correction=self.bias_correction)
        key = decision.replace(" ", "_")
        self._seconds[f"auto_{key}"] = time.perf_counter() - t0
        if not trial.shares and not trial.layers:  # nothing measured, nothing tried
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
        is lower (not tried where the form costs speed on this CPU:
        unsigned_form.speed_cost); a builder made later (the sets', the equalization
        trial's, bias correction's) then has them too. Recorded in the
        report. Returns whether the build's builder changed (unsigned kept)."""
        if self._auto is not None and self._unsigned is not None:
            self._auto["unsigned_activations"] = f"{'on' if self._unsigned else 'off'} (BuilderConfig)"
        if self._unsigned_trial is None or not self.auto or self._auto is None or self._judge is None:
            return False
        if self._unsigned_cost:
            self._auto["unsigned_activations"] = f"off ({self._unsigned_cost})"
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


def equalization_helps(with_: Any, without: Any, *, whole: bool, bias_correction: Optional[bool] = None) -> bool:
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


def scales_of(amaxes: dict[str, float]) -> dict[str, float]:
    """Thresholds (amax) -> int8 scales (_numerics.scale_from_amax)."""
    return {n: scale_from_amax(a) for n, a in amaxes.items()}
