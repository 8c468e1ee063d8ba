"""A network that carries a state across calls (an output fed back as an
input of the next call: Silero VAD's ``stateN`` -> ``state``, an RNN's
``hn`` -> ``h0``): which outputs feed which inputs, and how auto's judge
runs such a network, closed-loop.

Users run such a network over a stream, each call on the state its own
previous call returned. An INT8 engine's error then feeds the next step;
a systematic one (the per-channel shift bias correction changes) compounds
through the state, which scoring each held-out batch with float32's state
(one step, as auto's judge does) does not see. The closed-loop judge
(auto_choice.loop_judge_for) runs the held-out batches in stream order,
each batch's state inputs replaced by the engine's own state outputs of the
batch before (:func:`closed_loop`), float32 run the same way as the
reference. It is not auto's judge yet: on Silero VAD it left the engine
unchanged, and on a toy recurrence its held-out loop (the state's rise,
not the steady state a long stream spends its time in) turned a helpful
bias correction off (benchmarks/RESULTS_accuracy.md, acc26); a loop over a
consecutive run of calibration batches would be needed first.

Nor would it serve the choice of thresholds: in a closed loop the
batches are not independent samples (each carries the error of the ones before), and on Silero VAD calibrated on one clip the
closed loop ranks entropy ahead of mse (0.148 against 0.215), as acc23's
folds did, and it streams better on that clip (centred cosine 0.997
against 0.961) and worse on another speaker's (0.83 against 0.92): slices
of the calibration streams do not show what another stream costs
(benchmarks/RESULTS_accuracy.md, acc23 and acc26).

The rule (one home; crossval.steps_on_state reads :func:`shaped_like_input`):
the calibration batches reach the builder whole (holdout.py: a fixed
batch), and an output has the shape and type of a float input of rank >= 2
(the state's shape: [layers, N, hidden] cannot be told from a batch by axis
0). The closed loop needs more: the names pair too (:func:`_stem`: the
output's name is the input's with a suffix such as ``N``, ``n``, ``_out``,
``new``, ``next`` or a prefix ``new_``, ``next_``, and the input's may end
in ``0``, ``_in``, ``prev`` or start with ``prev_``; or the input's
name is the output's stem whole: FlashVAD's ``next_cache_0`` feeds
``cache_0``, whose ``_0`` is an index, not a suffix: until acc46 it paired
with none, and its closed loop ran on float32's cache), so a
fixed-batch denoiser whose output is shaped like its input is not run on
its own output. One pair per input; an input matched by several outputs
pairs with none.

Following: the streamed protocol of benchmarks/silero_auto_stream.py
(acc23), which scores the engine as a user runs it.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

import numpy as np

from .taps import WholeBatch, groups

__all__ = ["LOOP_SAMPLES", "closed_loop", "pairs", "shaped_like_input"]

# Held-out samples a closed-loop judge runs (spread over the held-out whole
# batches): more than a one-step judge's CHOICE_SAMPLES, since the error a
# state carries builds up over the steps (Silero VAD, batches of 8: all 31
# held-out batches rather than 8).
LOOP_SAMPLES = 256

_OUT_SUFFIX = re.compile(r"(_?(n|out|new|next|t1))$|^((new|next|out)_?)", re.IGNORECASE)
_IN_SUFFIX = re.compile(r"(_?(0|in|prev|t0))$|^((old|prev|in)_?)", re.IGNORECASE)

Inputs = Mapping[str, np.ndarray]


def _state_inputs(held: Optional[Any]) -> dict[str, tuple]:
    """The float inputs of rank >= 2 of the first held-out whole batch, name
    -> (shape, dtype); {} unless every held-out group is a whole batch."""
    parts = groups(held) if held is not None else []
    if not parts or not all(isinstance(g, WholeBatch) for g in parts):
        return {}
    return {k: (v.shape, v.dtype) for k, v in ((k, np.asarray(v)) for k, v in parts[0].items())
            if v.ndim >= 2 and v.dtype.kind == "f"}


def shaped_like_input(held: Optional[Any], outputs: Optional[Mapping[str, np.ndarray]]) -> bool:
    """Whole batches (``held``) and one of ``outputs`` (a calibration batch's
    float32 outputs) shaped and typed like a float input of rank >= 2."""
    states = set(_state_inputs(held).values())
    return bool(outputs) and any((np.shape(v), np.asarray(v).dtype) in states for v in outputs.values())


def _stem(name: str, suffix: "re.Pattern[str]") -> str:
    return suffix.sub("", name).lower() or name.lower()


def pairs(held: Optional[Any], outputs: Optional[Mapping[str, np.ndarray]]) -> dict[str, str]:
    """State input name -> the output that feeds it on the next call (module
    docstring's rule); {} for a network without one."""
    if not outputs:
        return {}
    out: dict[str, str] = {}
    for name, (shape, dtype) in _state_inputs(held).items():
        found = [k for k, v in outputs.items() if np.shape(v) == shape and np.asarray(v).dtype == dtype
                 and k != name and _stem(k, _OUT_SUFFIX) in (_stem(name, _IN_SUFFIX), name.lower())]
        if len(found) == 1:
            out[name] = found[0]
    return out


def closed_loop(run: Any, chunks: Iterable[Inputs], feedback: Mapping[str, str]) -> list[dict[str, np.ndarray]]:
    """``run(chunk) -> outputs`` over ``chunks`` in order, each chunk's
    inputs ``feedback`` names (state input -> output) replaced by the
    outputs of the chunk before; the first chunk keeps its own."""
    got: list[dict[str, np.ndarray]] = []
    for chunk in chunks:
        feed = dict(chunk)
        if got:
            feed.update({i: got[-1][o] for i, o in feedback.items()})
        got.append(run(feed))
    return got
