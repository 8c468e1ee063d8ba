"""A Llama decoder step with its KV cache as generation exports it
(RESULTS.md §133): LlamaForCausalLM (new_families' decoder config, 2 layers,
eager attention, random weights) wrapped so that the cache crosses the graph
boundary as tensors (``past_k`` / ``past_v``: [layers, N, kv heads, P, head
dim]; outputs the logits and the grown cache), exported with
``torch.onnx.export`` (``--exporter dynamo|torchscript``) with batch, new
tokens and past length dynamic. int8rt FP32 against ONNX Runtime FP32 (max
relative error per output) at the example shape and at two other step shapes (one a one-token decode step)
through the same execution context. The example has 2 new tokens: with 1 the
exporter specialises that axis (ONNX Runtime then fails on other lengths too).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/newnets_kvcache.py --exporter dynamo
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realnets import new_families as F, new_models as M  # noqa: E402

LAYERS, KV_HEADS, HEAD_DIM = 2, 2, 32  # new_families._DECODER: 256 / 8 heads, 2 KV heads


def step_module():
    import torch
    t = F._transformers()
    from transformers import DynamicCache

    torch.manual_seed(0)
    cfg = t.LlamaConfig(**dict(F._DECODER, use_cache=True, num_hidden_layers=LAYERS))
    cfg._attn_implementation = "eager"
    lm = t.LlamaForCausalLM(cfg).eval()

    class Step(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = lm

        def forward(self, input_ids, attention_mask, past_k, past_v):
            cache = DynamicCache()
            for i in range(LAYERS):
                cache.update(past_k[i], past_v[i], i)
            out = self.m(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True)
            grown = out.past_key_values.layers
            return (out.logits, torch.stack([grown[i].keys for i in range(LAYERS)]),
                    torch.stack([grown[i].values for i in range(LAYERS)]))
    return Step().eval()


def feeds(n: int, new: int, past: int, seed: int) -> M.Feeds:
    rng = np.random.default_rng(seed)
    cache = (LAYERS, n, KV_HEADS, past, HEAD_DIM)
    return {"input_ids": rng.integers(5, 1000, (n, new)).astype(np.int64),
            "attention_mask": np.ones((n, past + new), np.int64),
            "past_k": rng.standard_normal(cache).astype(np.float32),
            "past_v": rng.standard_normal(cache).astype(np.float32)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    ap.add_argument("--dir", default="/tmp/newnets/kvcache")
    args = ap.parse_args()
    import torch

    import int8rt

    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, f"llama_step_{args.exporter}.onnx")
    ex = feeds(2, 2, 5, 0)
    dyn = {"input_ids": {0: "N", 1: "S"}, "attention_mask": {0: "N", 1: "T"},
           "past_k": {1: "N", 3: "P"}, "past_v": {1: "N", 3: "P"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(step_module(), tuple(torch.from_numpy(v) for v in ex.values()), path,
                          input_names=list(dyn), output_names=["logits", "k", "v"], dynamic_axes=dyn,
                          dynamo=args.exporter == "dynamo")
    sess = M.ort_session(path)
    ctx = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    steps = (("example (N 2, S 2, P 5)", ex), ("prefill-like (N 3, S 3, P 9)", feeds(3, 3, 9, 1)),
             ("decode step (N 1, S 1, P 12)", feeds(1, 1, 12, 2)))
    for label, f in steps:
        ref, ours = sess.run(None, f), ctx.run(f)
        err = {k: float(np.abs(ours[k] - r).max() / np.abs(r).max()) for k, r in zip(("logits", "k", "v"), ref)}
        print(f"{args.exporter} {label}: max rel. err {err}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
