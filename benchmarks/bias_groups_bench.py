"""auto's bias-correction decision per group of layers against the rule
before it (one decision for every layer), and the token mask found by
graph structure against the name rule (RESULTS_accuracy.md, acc30).

Per network, int8rt ``auto`` builds:

- ``off``: ``bias_correction=False``;
- ``forced on``: ``bias_correction=True`` (every measured layer);
- ``together``: auto decides (``None``) with every layer in one group
  (``bias_groups.split`` replaced in-process: exactly the rule before acc30);
- ``per group``: auto decides per group (accuracy/bias_groups.py, acc30).

``--time-cut`` (a time-major recurrent network, gru_kws): also ``together``
and ``per group`` with the batches cut into samples along axis 0, which is
time there (the router's rule before acc30; sequence_axis.py).

``--renamed`` (MiniLM rows): the model's ``attention_mask`` input renamed
``pad`` (graph input and every reader; the feeds likewise) and built with
``bias_correction=True`` under ``name rule`` (acc28: no input named *mask*,
so every row counts) and ``structure`` (attention_mask.py, acc30), and auto
deciding per group under each.

Per build: the row's own metric against ONNX Runtime FP32 on held-out
inputs, the centred cosine and relative L2 of the whole output, the layers
corrected by op and their mean |shift|, auto's decision and held-out errors,
the build's process CPU seconds (shared machine: indicative only).

    PYTHONPATH=python:benchmarks python benchmarks/bias_groups_bench.py minilm_l6,vit_hf,ppocr_det,silero_vad \
        --dir /tmp/verify11/models [--json out.jsonl]
    PYTHONPATH=python:benchmarks python benchmarks/bias_groups_bench.py gru_kws --time-cut --dir /tmp/acc28/models
    PYTHONPATH=python:benchmarks python benchmarks/bias_groups_bench.py minilm_l6 --renamed --dir /tmp/verify11/models
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from matmul_lstm_bias_bench import _Applied, _Net, measure, references, start  # noqa: E402
from row_shifts_bias_bench import _load_net  # noqa: E402


@contextmanager
def together() -> Iterator[None]:
    """auto's decision over every layer at once (the rule before acc30)."""
    from int8rt.accuracy import bias_groups

    split = bias_groups.split
    bias_groups.split = lambda network, deltas: {"all": dict(deltas)}
    try:
        yield
    finally:
        bias_groups.split = split


@contextmanager
def name_rule() -> Iterator[None]:
    """The token mask found by name only (acc28's rule)."""
    from int8rt.accuracy import attention_mask

    structural = attention_mask.structural_mask_inputs
    attention_mask.structural_mask_inputs = lambda network: []
    try:
        yield
    finally:
        attention_mask.structural_mask_inputs = structural


@contextmanager
def as_is() -> Iterator[None]:
    yield


@contextmanager
def cut_along_time(rule) -> Iterator[None]:
    """``rule`` with a time-major input's batches cut into samples along
    axis 0 (time), as before acc30 (sequence_axis.py)."""
    from int8rt.accuracy import sequence_axis

    found = sequence_axis.time_major_inputs
    sequence_axis.time_major_inputs = lambda network: set()
    try:
        with rule():
            yield
    finally:
        sequence_axis.time_major_inputs = found


def renamed(net: _Net, folder: str, old: str = "attention_mask", new: str = "pad") -> _Net:
    """``net`` with its input ``old`` renamed ``new`` in the model and the feeds."""
    import onnx

    m = onnx.load(net.path)
    for v in m.graph.input:
        if v.name == old:
            v.name = new
    for node in m.graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
    path = os.path.join(folder, f"{net.name}_renamed.onnx")
    onnx.save(m, path)

    def feeds(batches: list) -> list:
        return [{new if k == old else k: v for k, v in f.items()} for f in batches]

    metric = net.metric
    return _Net(f"{net.name}_renamed", path, net.output, feeds(net.calib), feeds(net.evaluation),
                lambda outs, refs, fs: metric(outs, refs, [{old if k == new else k: v for k, v in f.items()}
                                                           for f in fs]), net.bound, net.profile)


def main() -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--renamed", action="store_true")
    extra.add_argument("--time-cut", action="store_true", help="also auto's decisions with the batches cut along "
                       "time (before acc30), for a time-major recurrent network")
    flags, rest = extra.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    args = start(__doc__, "minilm_l6, minilm_l3, vit_hf, ppocr_det, silero_vad, gru_kws, t5_enc")
    applied = _Applied()
    for name in args.nets.split(","):
        net = _load_net(name, args.dir)
        if flags.renamed:
            net = renamed(net, args.dir)
            settings = [("forced on, name rule", True, name_rule), ("forced on, structure", True, as_is),
                        ("auto decides, name rule", None, name_rule), ("auto decides, structure", None, as_is)]
        else:
            settings = [("off", False, as_is), ("forced on", True, as_is), ("auto decides, together", None, together),
                        ("auto decides, per group", None, as_is)]
            if flags.time_cut:
                settings = [("auto decides, together, cut along time", None, lambda: cut_along_time(together)),
                            ("auto decides, per group, cut along time", None, lambda: cut_along_time(as_is)),
                            *settings]
        refs = references(net)
        for method in args.methods.split(","):
            for label, correction, rule in settings:
                with rule():
                    measure(net, method, label, correction, refs, applied, args.json)
    print(machine_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
