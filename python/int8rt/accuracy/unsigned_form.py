"""The ``auto`` calibrator's choice of activation form: whether the
non-negative int8 tensors are held unsigned (zero point -128, a grid over
[0, threshold] twice as fine) or symmetric (TensorRT's grid), at given
thresholds.

One trial lowers the engine in the other form (a fresh builder, the
lowering choosing which tensors can take a zero point), counts the tensors
whose grid it changes, runs both engines on the judging samples and keeps
the other form where its output error (relative L2) is strictly lower
(decision_rule.py: centred, and uncentred where no bias correction
follows): the same thresholds on a finer grid, so no margin or t-test. run.py makes the trial twice: at the default set's thresholds,
before the sets are scored (so the sets and folds are scored in the form
the build will have), and again at the chosen set's thresholds where
another set was chosen (one more step of coordinate descent over
(thresholds, form); RESULTS_accuracy.md, 2026-12-04 midday). This module
decides and words the decision; run.py applies it to the build (adopts the
builder, keeps the engine) and records it.

Where the form costs speed (speed_cost), auto does not try it. An unsigned
tensor's bytes span the codes 0..255; an x86 CPU without VNNI (AVX2 only:
AMD Zen 3, Intel Skylake client) multiplies u8 by s8 with vpmaddubsw, whose
int16 sums of two products saturate unless inputs stay in 0..127, so
int8rt's AVX2 convs read such inputs on their slower sign tile: ResNet-50
INT8 1.5x the time, MobileNetV2 / EfficientNet-Lite0 3-12 % (RESULTS.md
§224), for an output error 3-10 % lower (relative L2 0.176 -> 0.181 on
ResNet-50, still below OpenVINO INT8's 0.187). VNNI and AMX (vpdpbusd,
tdpbusd) multiply u8 codes exactly at full speed, and the reference and
CUDA kernels read either alike, so the trial runs there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from .. import kernels
from . import decision_rule

__all__ = ["FormTrial", "Trial", "speed_cost", "try_form", "unsigned_tensors"]

# unsigned_trial(on) -> (a Builder like the build's with unsigned activations
# on / off, a callable adopting it as the build's): builder._Rewrites
Trial = Callable[[bool], tuple[Any, Callable[[], None]]]


def speed_cost(device: str) -> str:
    """Why holding tensors unsigned would slow an engine built for
    ``device`` (BuilderConfig.device) on this CPU, or "" where it would not
    (module docstring): the CPU runs AVX2 and has none of AVX512-VNNI,
    AVX-VNNI, AMX-INT8 (as ``kernels.cpu_features()`` reports them, the OS
    state included). The CPU's, not the ISA cap's: a cap is for testing
    kernels, the choice is the deployment's."""
    if device != "cpu":
        return ""
    features = kernels.cpu_features()
    if not features.get("avx2") or any(features.get(f) for f in ("avx512_vnni", "avx_vnni", "amx_int8")):
        return ""
    return ("this CPU has no VNNI: its AVX2 int8 convs read unsigned inputs on their slower sign tile; "
            "unsigned_activations=True holds them unsigned anyway")


def unsigned_tensors(candidate: Any, without: Any) -> list[str]:
    """The int8 tensors ``candidate`` (the engine with unsigned activations
    on) holds with a zero point where ``without`` (the same scales, them
    off) holds them symmetric: the ones the unsigned trial changes, not the
    asymmetric tables' outputs both hold alike."""
    before = {t.tensor: t.zero_point for t in without.int8_plan().tensors}
    return [t.tensor for t in candidate.int8_plan().tensors if t.zero_point != 0 and before.get(t.tensor, 0) == 0]


@dataclass(frozen=True)
class FormTrial:
    """One trial of the other form at one set of thresholds.

    Attributes:
        on: the form tried (unsigned activations on or off).
        changed: int8 tensors whose grid differs between the two forms; 0:
            the forms lower alike, and nothing was run.
        current: errors (auto_choice._Errors) of the engine in the form
            held so far; None where ``changed`` is 0.
        tried: errors of the engine in the form tried; None likewise.
        engine: the engine (``_core.Engine``) in the form tried.
        builder: the Builder it was lowered from.
        adopt: makes ``builder`` the build's (builder._Rewrites).
        uncentred: the decision reads the uncentred error too
            (decision_rule.reads_uncentred).
        names: those ``changed`` tensors (the ones the unsigned engine
            holds on [0, threshold]).
    """

    on: bool
    changed: int
    current: Optional[Any]
    tried: Optional[Any]
    engine: Any
    builder: Any
    adopt: Callable[[], None]
    uncentred: bool = False
    names: tuple[str, ...] = ()

    @property
    def keep(self) -> bool:
        """The form tried is the build's: strictly lower output error on
        the judging samples (decision_rule.keeps; a tie keeps the form
        held)."""
        return self.tried is not None and decision_rule.keeps(self.tried, self.current, test="lower",
                                                              uncentred=self.uncentred)

    def errors(self, at: str = "") -> dict[str, float]:
        """The two errors as the build report's ``errors`` entries
        (``at``: the set whose thresholds the trial used, where it is a
        second decision)."""
        where = f" at {at}" if at else ""
        held = "on" if not self.on else "off"
        return decision_rule.report_errors("unsigned", self.current, self.tried, f"{held}{where}",
                                           f"{'on' if self.on else 'off'}{where}")

    def report(self, at: str = "") -> str:
        """The build report's ``unsigned_activations`` entry where the form
        tried is kept (a first decision also where it is not)."""
        where = f", at {at}'s thresholds" if at else ""
        if not self.keep:
            return "off (auto)"
        return f"on (auto, {self.changed} int8 tensors{where})" if self.on else f"off (auto{where})"


def try_form(trial: Trial, on: bool, scales: Mapping[str, float], current_engine: Any,
             current_errors: Callable[[], Any], judge: Callable[[Any], Any], *,
             bias_correction: Optional[bool] = None) -> FormTrial:
    """The engine at ``scales`` in form ``on`` (from ``trial(on)``) against
    ``current_engine``, the build's engine at the same scales in the other
    form: the tensors whose grid differs, and where any does, both engines'
    errors on the judging samples (``current_errors()``, which may have
    been measured already, and ``judge(engine)``). ``bias_correction``:
    BuilderConfig's, which says which error the decision reads."""
    uncentred = decision_rule.reads_uncentred("unsigned activations", bias_correction)
    builder, adopt = trial(on)
    engine = builder.build(dict(scales))
    symmetric, unsigned = (current_engine, engine) if on else (engine, current_engine)
    names = tuple(unsigned_tensors(unsigned, symmetric))
    if not names:
        return FormTrial(on, 0, None, None, engine, builder, adopt, uncentred)
    current = current_errors()
    return FormTrial(on, len(names), current, judge(engine), engine, builder, adopt, uncentred, names)
