"""The ``auto`` calibrator's float recurrent layers: once auto keeps a
recurrent layer's stem in float (quiet_positions.py: an LSTM / GRU / RNN
that reads a network input through layout layers, its time steps quiet),
the network's other recurrent layers are tried in float32 too, as one more
candidate, and kept by the float stem's rule: output error on the judging
samples lower by ``auto_choice.MIN_GAIN`` (decision_rule.py, ``"margin"``).

Why these. A recurrent layer carries its error from step to step: its int8
form (csrc/engine/lower_int8_rnn.cc) quantizes the sequence it reads and
its weights once for every time step, and the rounding of each step's
input reaches every later step through the state. Where the first
recurrent layer had to stay float for its quiet input, the layers after
it are what is left of the engine's error, and float32 there costs speed
only where recurrent layers are a network's work: the one candidate is
tried only where a recurrent layer is float already (so the network's
speed is the float recurrence's already), never on a CRNN or Silero VAD,
whose recurrent layers read computed features (no stem: nothing tried).
Resemblyzer (acc51 section 3, draw 1, mse's thresholds): the first LSTM in
float32 0.0279 relative L2, all three 0.0233; auto with this rule 0.0253 /
0.0317 -> 0.0195 / 0.0195 (draws 1 / 2), ONNX Runtime, which leaves every
LSTM float, 0.0249 / 0.0244; the engine 1.01-1.15x the stem-only one's CPU
time, FP32's (benchmarks/RESULTS_accuracy.md, acc55).

Why one candidate, not one per layer: the later layers read the same
kind of tensor (the first one's hidden states, in [-1, 1]), so no
measured share tells them apart as the quiet share tells a stem; one
build and one judged run bound the cost, and the margin keeps the int8
layers where float32 does not pay.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import decision_rule
from .quiet_positions import RECURRENT, Rows, StemTrial, Trial, stems

__all__ = ["RecurrentTrial", "later_recurrent", "try_recurrent"]


def later_recurrent(network: Any, fp32_layers: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """The recurrent layers to try in float32 and the float ones that make
    the trial: where a recurrent layer whose stem
    (quiet_positions.stems) is in ``fp32_layers`` (float already), every
    recurrent layer of ``network`` not in ``fp32_layers``; else none."""
    fp32 = set(fp32_layers)
    readers = {chain[-1] for chain in stems(network).values()}
    nodes = network.nodes()
    float_stems = [n["name"] for n in nodes if n["op"] in RECURRENT and n["name"] in readers
                   and n["name"] in fp32]
    if not float_stems:
        return [], []
    return [n["name"] for n in nodes if n["op"] in RECURRENT and n["name"] not in fp32], float_stems


@dataclass(frozen=True)
class RecurrentTrial(StemTrial):
    """The later recurrent layers tried in float32: StemTrial's fields,
    ``layers`` the recurrent layers tried (each ``"fp32"``), ``shares``
    empty (nothing is measured: module docstring), ``after`` the float
    recurrent layers whose stems made the trial."""

    after: tuple[str, ...] = ()

    def report(self) -> str:
        """The build report's ``float_recurrent`` entry."""
        return (f"{'on' if self.keep else 'off'} (auto: {len(self.layers)} recurrent layers after the float "
                f"stem's {', '.join(self.after)})")


def try_recurrent(network: Any, trial: Trial, scales: Mapping[str, float], current_errors: Callable[[], Any],
                  judge: Callable[[Any], Any], values: Callable[[list[str]], Mapping[str, Rows]] | None = None,
                  *, fp32_layers: Iterable[str] = (), bias_correction: bool | None = None) -> RecurrentTrial:
    """The later recurrent layers (:func:`later_recurrent`) tried in
    float32 against the build's engine at ``scales`` (int8 scales), whose
    errors on the judging samples ``current_errors()`` gives; ``judge``
    scores the engine tried. ``values`` is not read (quiet_positions.try_stem's
    signature). The float stem's rule decides (its uncentred reading too)."""
    names, after = later_recurrent(network, fp32_layers)
    if not names:
        return RecurrentTrial({}, {})
    layers = {n: "fp32" for n in names}
    builder, adopt = trial(layers)
    engine = builder.build(dict(scales))
    return RecurrentTrial(layers, {}, current_errors(), judge(engine), engine, builder, adopt,
                          decision_rule.reads_uncentred("float stem", bias_correction), after=tuple(after))
