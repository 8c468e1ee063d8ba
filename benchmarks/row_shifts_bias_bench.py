"""Bias correction's acc28 additions, off and on, per network
(RESULTS_accuracy.md, acc28).

acc28 added to bias correction (accuracy/row_shifts.py, bias_correction.py,
Builder.add_to_bias): ``mask`` (a MatMul's median over real tokens only
where the feed has an attention mask), ``recurrent`` (an LSTM's / RNN's
recurrent GEMM h R' where its state is int8), ``gru`` (GRU / RNN input
GEMMs) and ``biasfree`` (a MatMul with no bias Add gets one). Each piece
can be switched off in-process (the rule before it, exactly); per network
and method (int8rt ``minmax``, ``auto``) the builds are:

- ``off``: ``bias_correction=False``;
- ``acc24``: ``bias_correction=True`` with every acc28 piece off;
- ``+<piece>``: acc24 plus that piece (only the pieces the network has a
  layer for);
- ``acc28``: ``bias_correction=True``, all pieces;
- for ``auto`` also ``auto decides`` (``None``) under acc24 and acc28.

Per build: the row's own metric against ONNX Runtime FP32 on held-out
inputs, the centred cosine and relative L2 of the whole output, the layers
corrected by op and their mean |shift|, auto's decision and held-out
errors, the build's process CPU seconds (shared machine: indicative).

Networks: matmul_lstm_bias_bench.py's (``minilm_l6``, ``minilm_l3``,
``vit_hf``, ``silero_vad``), ``gru_kws`` (realnets/gru_kws.py: a 2-layer
torch.nn.GRU frame classifier with bias-free Linears, random weights,
log-mel features of real speech) and ``t5_enc`` (realnets/t5_encoder.py: a
small T5 encoder, random weights, every Linear bias-free, fed issue 11's
MiniLM sentences with their attention mask; --dir for gru_kws / t5_enc:
where they are exported).

    PYTHONPATH=python:benchmarks python benchmarks/row_shifts_bias_bench.py \
        minilm_l6,minilm_l3,vit_hf,silero_vad --dir /tmp/verify11/models [--json out.jsonl]
    PYTHONPATH=python:benchmarks python benchmarks/row_shifts_bias_bench.py gru_kws,t5_enc --dir D

(t5_enc reads issue 11's MiniLM row from D too: its minilm.onnx and all-MiniLM-L6-v2.)
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from matmul_lstm_bias_bench import _Applied, _load, _Net, measure, references, start  # noqa: E402

PIECES = ("mask", "recurrent", "gru", "biasfree")


def _load_net(name: str, folder: str) -> _Net:
    if name == "gru_kws":
        from realnets import gru_kws

        calib, evaluation = gru_kws.feeds()
        return _Net(name, gru_kws.export(folder), "scores", calib, evaluation, lambda outs, refs, feeds: {})
    if name == "t5_enc":  # issue 11's minilm_l6 row's sentences and metric, on a T5 encoder
        from realnets import t5_encoder
        from realnets.issue11_rows import minilm_l6

        row = minilm_l6(folder)
        return _Net(name, t5_encoder.export(folder), row.output, row.calib, row.evaluation, row.metric)
    return _load(name, folder)


def _has_bias_add(network: Any, node: dict) -> bool:
    """The rule before acc28: a MatMul's output read by one Add of a constant of N values."""
    tensors, y = network.tensors(), node["outputs"][0]
    readers = [n for n in network.nodes() if y in n["inputs"]]
    if len(readers) != 1 or readers[0]["op"] != "Add" or y in network.outputs():
        return False
    b = tensors[next(t for t in readers[0]["inputs"] if t != y)]
    n = tensors[node["inputs"][1]]["shape"][1]
    return b["is_constant"] and b["shape"] and b["shape"][-1] == n and int(np.prod(b["shape"])) == n


@contextmanager
def pieces_on(on: set[str]) -> Iterator[None]:
    """Bias correction with only the acc28 pieces in ``on`` (the others as before acc28)."""
    from int8rt.accuracy import bias_correction as bc
    from int8rt.accuracy import row_shifts as rs

    saved = (rs.mask_input, rs.RECURRENT, bc._OPS, bc._foldable)
    if "mask" not in on:
        rs.mask_input = lambda network: None
    rs.RECURRENT = "recurrent" in on
    if "gru" not in on:
        bc._OPS = tuple(op for op in bc._OPS if op not in ("GRU", "RNN"))
    if "biasfree" not in on:
        foldable = bc._foldable
        bc._foldable = lambda network, node: foldable(network, node) and (
            node["op"] != "MatMul" or _has_bias_add(network, node))
    try:
        yield
    finally:
        rs.mask_input, rs.RECURRENT, bc._OPS, bc._foldable = saved


def _relevant(net: _Net) -> list[str]:
    """The acc28 pieces ``net`` has a layer for."""
    import int8rt
    from int8rt.accuracy import row_shifts as rs

    network = int8rt.onnx.import_model(net.path, input_values=net.bound) if net.bound else \
        int8rt.onnx.import_model(net.path)
    ops = {n["op"] for n in network.nodes()}
    bare = any(n["op"] == "MatMul" and network.tensors()[n["inputs"][1]]["is_constant"]
               and not _has_bias_add(network, n) for n in network.nodes())
    return [p for p, here in (("mask", rs.mask_input(network) is not None), ("recurrent", bool(ops & {"LSTM", "RNN"})),
                              ("gru", "GRU" in ops or "RNN" in ops), ("biasfree", bare)) if here]


def main() -> int:
    args = start(__doc__, "minilm_l6, minilm_l3, vit_hf, silero_vad, gru_kws, t5_enc")
    applied = _Applied()
    for name in args.nets.split(","):
        net = _load_net(name, args.dir)
        refs = references(net)
        here = _relevant(net)
        print(json.dumps({"net": name, "acc28 pieces with a layer": here}), flush=True)
        for method in args.methods.split(","):
            settings = [("off", False, set()), ("acc24", True, set())]
            settings += [(f"+{p}", True, {p}) for p in here if len(here) > 1]
            settings += [("acc28", True, set(PIECES))]
            if method == "auto":
                settings += [("auto decides, acc24", None, set()), ("auto decides, acc28", None, set(PIECES))]
            for label, correction, on in settings:
                with pieces_on(on):
                    measure(net, method, label, correction, refs, applied, args.json)
    print(machine_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
