"""Which spatial convs of a model take the AMX direct conv's magic-number
epilogue (RESULTS.md section 207): per 32-channel pair, whether every output
channel's accumulator bound (x86/conv_amx_direct.cc, amx_direct_acc_bound)
is at most 2^22.

Weights are quantized as int8rt quantizes conv weights (symmetric per output
channel, scale = amax / 127, round half to even); the bound is
max(hi * P - lo * N, -lo * P + hi * N) over the channel's positive-weight sum P
and |negative|-weight sum N, inputs q in [lo, hi] = [-128, 127], or [0, 127]
for an input after a ReLU (nonneg_input, pad value 0).

Besides the model's own weights (random in our exported models), each layer
is also checked with synthetic "trained-like" weights of the same shape:
Student-t (3 degrees of freedom) and Laplace per channel, heavier-tailed than
the Gaussian init (a trained, BN-folded conv's channels are usually
heavy-tailed; no trained ResNet-50 is available offline here).

Usage: python benchmarks/r50x3b_magic_bound.py [--model PATH.onnx]
"""
from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import numpy_helper

LIMIT = 1 << 22


def quantize(w: np.ndarray) -> np.ndarray:
    k = w.shape[0]
    flat = w.reshape(k, -1).astype(np.float32)
    amax = np.abs(flat).max(axis=1, keepdims=True)
    scale = np.where(amax > 0, amax / np.float32(127.0), np.float32(1.0))
    return np.clip(np.rint(flat / scale), -127, 127).astype(np.int64)


def bounds(q: np.ndarray, nonneg: bool) -> np.ndarray:
    p = np.where(q > 0, q, 0).sum(axis=1)
    n = np.where(q < 0, -q, 0).sum(axis=1)
    lo, hi = (0, 127) if nonneg else (-128, 127)
    return np.maximum(hi * p - lo * n, -lo * p + hi * n)


def pairs_ok(b: np.ndarray) -> tuple[int, int]:
    k = b.shape[0]
    npairs = (k + 31) // 32
    ok = sum(bool((b[32 * j: 32 * j + 32] <= LIMIT).all()) for j in range(npairs))
    return ok, npairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="/tmp/e2eamx/models/resnet50.onnx")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    m = onnx.load(args.model)
    inits = {i.name: i for i in m.graph.initializer}
    produced_by = {o: n for n in m.graph.node for o in n.output}
    rng = np.random.default_rng(args.seed)
    rows: dict[tuple, list] = {}
    for node in m.graph.node:
        if node.op_type != "Conv" or node.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        if w.shape[2] * w.shape[3] == 1:
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if group != 1:
            continue
        src = produced_by.get(node.input[0])
        nonneg = src is not None and src.op_type == "Relu"
        key = (w.shape[1], w.shape[0], w.shape[2], w.shape[3], nonneg)
        q = quantize(w)
        synth = {"t3": rng.standard_t(3, size=w.shape), "laplace": rng.laplace(size=w.shape)}
        entry = [bounds(q, nonneg).max(), *pairs_ok(bounds(q, nonneg))]
        for s in synth.values():
            bs = bounds(quantize(s), nonneg)
            entry += [bs.max(), *pairs_ok(bs)]
        rows.setdefault(key, []).append(entry)
    print(f"limit 2^22 = {LIMIT}")
    print("| conv C->K RxS | input | n | model: max bound / 2^22, pairs ok | t3: max / 2^22, pairs ok "
          "| laplace: max / 2^22, pairs ok |")
    print("|---|---|---:|---|---|---|")
    for (c, k, r, s, nonneg), entries in rows.items():
        e = np.array(entries)
        cells = []
        for i in range(3):
            cells.append(f"{e[:, 3 * i].max() / LIMIT:.2f}, {int(e[:, 3 * i + 1].sum())} of {int(e[:, 3 * i + 2].sum())}")
        print(f"| {c}->{k} {r}x{s} | {'ReLU (>= 0)' if nonneg else 'any sign'} | {len(entries)} | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
