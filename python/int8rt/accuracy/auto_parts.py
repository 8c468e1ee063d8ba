"""IInt8AutoCalibrator's per-part choice (``BuilderConfig(auto_parts=K)``;
off by default): after the whole-network choice (auto_choice.py), the int8
tensors are split into ``K`` contiguous parts in run order (each tensor
placed by the layer that computes it; the network's inputs first), and
greedily, front to back, each part may take another candidate set's
thresholds (auto.CANDIDATES: minmax, mse, percentile 99.99, entropy) where
the held-out judge finds the network's outputs *clearly* closer to float32
so: the rule of the whole-network choice (auto_choice._Errors.clearly_below:
``MIN_GAIN`` lower in relative L2 and a paired one-sided test,
decision_rule.paired_below; recordings.below where the samples carry their
recordings, and then also lower on every recording:
recordings.lower_on_each), and ``PART_GAIN`` lower. Each trial is one
engine lowered and run on the judging samples, at most
``K * (len(CANDIDATES) - 1)`` of them; a candidate whose
thresholds on the part are within 1 % of the part's current ones is not
tried (it would quantize alike).

Why: two findings said one method for the whole network leaves accuracy
behind. Silero VAD (RESULTS_accuracy.md acc29, benchmarks/silero_tensor_swap.py):
entropy on the STFT front end alone 0.944 against mse everywhere 0.748 on
the left-out clip amfm, entropy everywhere 0.754; the CRNNs (acc36, acc38):
mse's set lower on the calibration lines, minmax on the evaluation lines.
A few parts, not one tensor at a time: each decision is judged by the whole
held-out slice, and a per-tensor search judged on it picked noise
(auto.py's history).

Why it is off (RESULTS_accuracy.md acc40, three parts): with auto's rule
alone it gained on MiniLM-L6 (its last third entropy -> mse, 4.2 % lower
held-out error; embedding centred cosine 0.9462 -> 0.9612) and lost Silero
VAD's left-out clips amfm 0.975 -> 0.860 (two parts, each lower overall and
on the worst of five recordings, higher on three of them) and amfm_down
0.731 -> 0.705; no margin (``PART_GAIN``) keeps the gain and refuses the
losses. With lower on every recording also asked (recordings.lower_on_each,
fitted on those runs) Silero switched nothing, but PP-OCRv4 rec, a row it
was not fitted on, took minmax's front end at 7.7 % lower held-out error
and lost 0.0078 of centred cosine and 3.3 points of line accuracy.

Only with held-out samples: judged on the samples the thresholds came
from, a part would take the set that fits them best (auto_choice.py,
"fit"); and not where step 4's folds made the whole-network choice
(run.py: the held-out slice was overruled there; on LRASPP the parts undid
the folds' minmax and lost 0.0195 of worst-size centred cosine).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .. import _core
from .._numerics import scale_from_amax
from . import recordings
from .auto_choice import Methods, Thresholds, _close
from .branch_bias import _BRANCHES

__all__ = ["PART_GAIN", "PartTrial", "Parts", "choose_parts", "run_order", "split"]

logger = logging.getLogger("int8rt")

# A part switches only where its candidate is also this share lower in
# relative L2 than the current engine on the judging samples (beside
# clearly_below's own MIN_GAIN and paired test).
PART_GAIN = 0.01


def split(network: Any, names: set[str], parts: int) -> list[list[str]]:
    """``names`` (tensors of ``network``, a ``_core`` network) in run order
    (:func:`run_order`; others first, ties by name), cut into ``parts``
    contiguous runs of near-equal size (fewer where there are fewer
    tensors; no empty run)."""
    where = run_order(network)
    order = sorted(names, key=lambda n: (where.get(n, (-1,)), n))
    k = max(1, min(parts, len(order)))
    bounds = [round(i * len(order) / k) for i in range(k + 1)]
    return [order[bounds[i]:bounds[i + 1]] for i in range(k)]


def run_order(network: Any, scope: str = "", at: tuple[int, ...] = ()) -> dict[str, tuple[int, ...]]:
    """Each tensor a node of ``network`` computes -> its place in run order:
    the node's index, and inside an If's branch (under the branch's scoped
    names, "<If>/then_branch/<tensor>" as calibration names them) the If's
    index, the branch's (then 0, else 1) and the place in the branch; a
    branch's inputs come before its nodes."""
    tensors, out = network.tensors(), {}
    for index, node in enumerate(network.nodes()):  # in run order
        for o in node["outputs"]:
            if o >= 0:
                out.setdefault(scope + tensors[o]["name"], at + (index,))
        for b, attr in enumerate(_BRANCHES if node["op"] == "If" else ()):
            branch = node["attrs"].get(attr)
            if branch is None:
                continue
            here, inner = scope + _core.branch_scope(node["name"], attr), at + (index, b)
            for i in branch.inputs():
                out.setdefault(here + branch.tensor(i)["name"], inner + (-1,))
            for k, v in run_order(branch, here, inner).items():
                out.setdefault(k, v)
    return out


@dataclass
class PartTrial:
    """One part's trials: its tensors, each candidate tried (label ->
    relative L2 on the judging samples), the error it was judged against,
    and the label it took ("" where it kept its thresholds)."""

    tensors: list[str]
    tried: dict[str, float]
    before: float
    taken: str = ""


@dataclass
class Parts:
    """The per-part outcome: thresholds and methods (the chosen set's, with
    the parts that switched replaced), the engine lowered at those
    thresholds and its errors (auto_choice._Errors), each part's trials."""

    amaxes: Thresholds
    methods: Methods
    engine: Any
    errors: Any
    trials: list[PartTrial] = field(default_factory=list)

    @property
    def switched(self) -> bool:
        return any(t.taken for t in self.trials)

    def report(self) -> list[dict[str, Any]]:
        """The trials for the build report: per part, its size, first and
        last tensor, the candidates' errors and what it took."""
        return [{"tensors": len(t.tensors), "from": t.tensors[0], "to": t.tensors[-1],
                 "before": round(t.before, 6), "tried": {k: round(v, 6) for k, v in t.tried.items()},
                 "taken": t.taken or "kept"} for t in self.trials]


def choose_parts(build: Callable[[dict[str, float]], Any], judge: Callable[[Any], Any],
                 sets: Mapping[str, tuple[Thresholds, Methods]], label: str, amaxes: Thresholds,
                 methods: Methods, engine: Any, errors: Any, parts: list[list[str]],
                 at_range: frozenset[str] | set[str] = frozenset(), gain: float = PART_GAIN) -> Parts:
    """The greedy per-part choice (module docstring), starting from the
    whole-network choice ``label`` (``amaxes``, ``methods``; its ``engine``
    and ``errors`` on the judging samples) over ``sets`` (label ->
    (thresholds, methods), auto_choice.single_method_sets). ``parts``:
    :func:`split`'s runs of the int8 tensors; ``at_range``: tensors every
    set holds at their calibration range (input_range.py), which keep their
    method. ``build(scales)`` lowers an engine, ``judge(engine)`` scores it;
    ``gain``: :data:`PART_GAIN`."""
    amaxes, methods = dict(amaxes), dict(methods)
    out = Parts(amaxes, methods, engine, errors)
    for part in parts:
        trial = PartTrial(part, {}, out.errors.relative_l2)
        best: tuple[str, Any, Any, Thresholds] | None = None
        for other, (other_amaxes, _) in sets.items():
            movable = [n for n in part if n in other_amaxes and n in out.amaxes and n not in at_range]
            if other == label or all(_close(other_amaxes[n], out.amaxes[n]) for n in movable):
                continue
            tried = {**out.amaxes, **{n: other_amaxes[n] for n in movable}}
            candidate = build({n: scale_from_amax(a) for n, a in tried.items()})
            e = judge(candidate)
            trial.tried[other] = e.relative_l2
            lower = e.relative_l2 < (1.0 - gain) * out.errors.relative_l2
            each = recordings.lower_on_each(e, out.errors) is not False
            if lower and each and e.clearly_below(out.errors) and (best is None or e.relative_l2 < best[2].relative_l2):
                best = (other, candidate, e, tried)
        if best is not None:
            trial.taken = best[0]
            out.amaxes, out.engine, out.errors = best[3], best[1], best[2]
            # each tensor's method as the set gives it ("mse unsigned" is MSE on a signed tensor: auto.tensor_label)
            out.methods.update({n: "auto:" + sets[best[0]][1].get(n, best[0]).removeprefix("auto:").removeprefix("all ")
                                for n in part if n not in at_range})
        out.trials.append(trial)
        logger.info("auto calibration, part %d of %d (%d int8 tensors, %s .. %s): output relative L2 %.4g at %s; "
                    "tried %s; %s", len(out.trials), len(parts), len(part), part[0], part[-1], trial.before, label,
                    ", ".join(f"{k} {v:.4g}" for k, v in trial.tried.items()) or "none (alike)",
                    f"took {trial.taken}" if trial.taken else "kept")
    return out
