"""auto's bias-correction decision, one group of layers at a time.

Until acc30 the ``auto`` calibrator measured the engine with every measured
correction folded in against the engine with none, and kept all or none
(run.py, acc20): one kind of correction that hurts on a network vetoes the
kinds that help (acc24: on ViT the Conv / Gemm corrections and the MatMul
ones were judged together). The corrections differ in kind, in how they are
measured and in how they fail:

- ``Conv/Gemm``: the mean over samples and positions (bias_correction.py);
- ``MatMul``: the per-chunk median over real tokens (row_shifts.py), which
  a few clipped outlier tokens or an uncovered padding scheme can skew;
- ``recurrent``: LSTM / GRU / RNN gate rows, whose shift a loop feeds back
  into every later step;
- a layer inside an If branch (branch_bias.py) goes with its op's group
  (Silero VAD's LSTM and convs run in one).

So :func:`decide` takes the groups present (:func:`split`) in that order and
decides each on the held-out judge the rest of auto uses (run.py's
``_helps``: the same margin, centred or uncentred), forward: the engine with
the corrections kept so far plus the group's, against the engine with the
corrections kept so far; kept where it is closer to float32. One engine
build and one run of the judging samples per group, so a network with one
group decides exactly as before (the same engines, the same comparison).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import decision_rule
from .branch_bias import branch_layer_ops

__all__ = ["GROUPS", "OTHER", "Decision", "decide", "split"]

# The groups in the order they are decided, and the ops of each.
GROUPS: dict[str, tuple[str, ...]] = {"Conv/Gemm": ("Conv", "Gemm"), "MatMul": ("MatMul",),
                                      "recurrent": ("LSTM", "GRU", "RNN")}
OTHER = "other"  # a layer of another op, or of no node found: decided last


def split(network: Any, deltas: Mapping[str, list[float]]) -> dict[str, dict[str, list[float]]]:
    """``deltas`` (layer name -> shift) by group, in :data:`GROUPS`' order,
    groups without a layer left out: a layer by its op, whether at the top
    level of ``network`` or inside an If branch (its scoped name;
    branch_bias.py); any other in :data:`OTHER`."""
    ops = {**branch_layer_ops(network), **{n["name"]: n["op"] for n in network.nodes()}}
    out: dict[str, dict[str, list[float]]] = {}
    for group, group_ops in GROUPS.items():
        members = {k: v for k, v in deltas.items() if ops.get(k) in group_ops}
        if members:
            out[group] = members
    left = {k: v for k, v in deltas.items() if not any(ops.get(k) in g for g in GROUPS.values())}
    if left:
        out[OTHER] = left
    return out


@dataclass
class Decision:
    """What :func:`decide` kept: the shifts (``deltas``), per group ``on`` /
    ``off`` (``groups``), the judged errors (``errors``: the build report's
    entries), the engine with the kept corrections and the builder it was
    lowered from (None where nothing was kept), and one line per group for
    the log (``log``)."""

    deltas: dict[str, list[float]] = field(default_factory=dict)
    groups: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    engine: Any = None
    builder: Any = None
    log: list[str] = field(default_factory=list)

    def label(self) -> str:
        """The build report's ``bias_correction`` entry: ``on (auto)`` /
        ``off (auto)`` where every group went one way, else
        ``on (auto: A, B; off: C)``."""
        on = [g for g, k in self.groups.items() if k]
        off = [g for g, k in self.groups.items() if not k]
        if not off or not on:
            return "on (auto)" if on else "off (auto)"
        return f"on (auto: {', '.join(on)}; off: {', '.join(off)})"


def decide(groups: Mapping[str, Mapping[str, list[float]]], without: Any,
           judge: Callable[[dict[str, list[float]]], tuple[Any, Any, Any]],
           helps: Callable[[Any, Any], bool]) -> Decision:
    """Each group of ``groups`` (:func:`split`) kept or not, in order.

    ``without``: the judge's errors of the engine with no correction;
    ``judge(deltas) -> (builder, engine, errors)``: the build's engine with
    the shifts ``deltas`` folded in, and its errors on the judging samples;
    ``helps(with_, without)``: whether errors ``with_`` replace ``without``
    (run.py's ``_helps``). Where there is one group its errors are
    reported as ``bias correction off`` / ``on``, as before acc30; with
    several, each group's as ``bias correction [<group>] off`` / ``on``
    (the first "off" being the engine with no correction)."""
    out = Decision()
    current = without
    for group, members in groups.items():
        trial = {**out.deltas, **members}
        builder, engine, with_ = judge(trial)
        keep = helps(with_, current)
        out.groups[group] = keep
        name = "bias correction" if len(groups) == 1 else f"bias correction [{group}]"
        out.errors.update(decision_rule.report_errors(name, current, with_))
        out.log.append(f"{group} ({len(members)} layers) {'kept' if keep else 'left off'}: "
                       f"{decision_rule.describe(current, with_)}")
        if keep:
            out.deltas, out.engine, out.builder, current = trial, engine, builder, with_
    return out
