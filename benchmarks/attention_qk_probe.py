"""Where the int8 error of attention scores comes from, operand by operand,
and what each candidate grid for q and k would give (issue 12, LeViT's q
and k): a NumPy probe on the FP32 tensors of every attention of a network
(ONNX Runtime FP32 with the attentions' q, k^T, logits and v as extra
outputs), before anything is built into int8rt.

For each attention (MatMul(q, kT) -> [Mul by c] -> [Add(bias)] ->
Softmax -> MatMul(., v)): thresholds from the calibration set (amax, as
MinMax), SQNR in dB on the evaluation set of the attention output P v (v
kept float, the probabilities kept float: the loss of q and k alone) with
q and k quantized on:

- ``tensor``: one symmetric int8 scale each (what int8rt does now);
- ``head``: one symmetric scale per head for each;
- ``migrate``: per channel c of the head dim (all heads' channels at once:
  index (h, c)), q_c * a_c and k_c / a_c with a_c = sqrt(amax_k,c /
  amax_q,c) (SmoothQuant alpha 0.5 between the two operands; q k^T is
  unchanged in real arithmetic), then one scale each;
- ``migrate+head``; ``asym``: per-tensor asymmetric uint8-like grids
  (scale (max - min) / 255, a zero point) for each;
- ``tensor*``, ``head*``, ``migrate*``: those grids at the evaluation set's
  own ranges (no clipping): what their resolution alone would give;
- ``tensor xF``: one scale each at F times the calibration amax (headroom).
Also each operand's own SQNR at its per-tensor grid (q dB, k dB).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_qk_probe.py levit_128 \
    --dir /tmp/lead/models
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realnets import new_models as M  # noqa: E402


def attentions(model) -> list[dict]:
    """q, kT (the scores MatMul's inputs), logits (the Softmax input), probs, v
    of each attention, and the scalar factor between the scores and the logits."""
    import onnx

    prod = {o: n for n in model.graph.node for o in n.output}
    cons: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    consts = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer if not i.dims}
    out = []
    for sm in (n for n in model.graph.node if n.op_type == "Softmax"):
        t, c = sm.input[0], 1.0
        while t in prod and prod[t].op_type in ("Add", "Mul", "Div", "Reshape"):
            n = prod[t]
            if n.op_type in ("Mul", "Div") and n.input[1] in consts:
                c = c * float(consts[n.input[1]]) if n.op_type == "Mul" else c / float(consts[n.input[1]])
            t = n.input[0]
        mm = prod.get(t)
        readers = cons.get(sm.output[0], [])
        if mm is None or mm.op_type != "MatMul" or len(readers) != 1 or readers[0].op_type != "MatMul":
            continue
        out.append({"name": mm.name, "factor": c, "q": mm.input[0], "kT": mm.input[1], "scores": mm.output[0],
                    "logits": sm.input[0], "probs": sm.output[0], "v": readers[0].input[1]})
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sym(x: np.ndarray, amax) -> np.ndarray:
    s = np.maximum(amax, 1e-12) / 127
    return np.clip(np.round(x / s), -127, 127) * s


def asym(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    s = max(hi - lo, 1e-12) / 255
    z = np.round(-lo / s) - 128
    return (np.clip(np.round(x / s) + z, -128, 127) - z) * s


def sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / max(np.sum((ref - got) ** 2.0), 1e-30)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--dir", default="/tmp/lead/models")
    ap.add_argument("--calib", type=int, default=16)
    ap.add_argument("--eval", type=int, default=16)
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort

    net, path = M.exported(args.name, args.dir)
    model = onnx.load(str(path))
    atts = attentions(model)
    names = sorted({t for a in atts for t in (a["q"], a["kT"], a["scores"], a["logits"], a["v"])})
    del model.graph.output[:]
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "m.onnx")
        onnx.save(model, p, save_as_external_data=True)
        sess = ort.InferenceSession(p, providers=["CPUExecutionProvider"])

        def run(feeds: dict) -> dict[str, np.ndarray]:
            n = len(next(iter(feeds.values())))
            parts = [dict(zip(names, sess.run(names, {k: v[i:i + 4] for k, v in feeds.items()})))
                     for i in range(0, n, 4)]
            return {k: np.concatenate([d[k] for d in parts]) for k in names}

        cal, ev = run(net.feeds(args.calib, 2)), run(net.feeds(args.eval, 1))
    print(f"{args.name}: SQNR dB of P v (q, k quantized; P, v float), calibration amax, {len(atts)} attentions")
    cols = ["tensor", "head", "migrate", "migrate+head", "asym", "tensor*", "head*", "migrate*", "tensor x1.25",
            "tensor x1.5", "tensor x2.0"]
    print("attention | q dB | k dB | " + " | ".join(cols))
    for att in atts:
        q, kT = ev[att["q"]], ev[att["kT"]]            # q [B, h, M, d], kT [B, h, d, N]
        cq, ckT = cal[att["q"]], cal[att["kT"]]
        if q.ndim != 4 or kT.ndim != 4:
            continue
        raw = np.matmul(q, kT)
        c = att["factor"]
        bias = ev[att["logits"]].reshape(raw.shape) - c * raw  # whatever is added: biases, masks
        v = ev[att["v"]]
        ref = np.matmul(softmax(c * raw + bias), v)

        def out(qq: np.ndarray, kk: np.ndarray) -> float:
            return sqnr(ref, np.matmul(softmax(c * np.matmul(qq, kk) + bias), v))

        aq_c = np.abs(cq).max(axis=(0, 2))             # [h, d]
        ak_c = np.abs(ckT).max(axis=(0, 3))            # [h, d]
        a = np.sqrt(np.maximum(ak_c, 1e-12) / np.maximum(aq_c, 1e-12))
        qm, kTm, cqm, ckTm = q * a[None, :, None, :], kT / a[None, :, :, None], cq * a[None, :, None, :], \
            ckT / a[None, :, :, None]
        head_q = np.abs(cq).max(axis=(0, 2, 3))[None, :, None, None]
        head_k = np.abs(ckT).max(axis=(0, 2, 3))[None, :, None, None]
        head_qm = np.abs(cqm).max(axis=(0, 2, 3))[None, :, None, None]
        head_km = np.abs(ckTm).max(axis=(0, 2, 3))[None, :, None, None]
        row = {
            "tensor": out(sym(q, np.abs(cq).max()), sym(kT, np.abs(ckT).max())),
            "head": out(sym(q, head_q), sym(kT, head_k)),
            "migrate": out(sym(qm, np.abs(cqm).max()), sym(kTm, np.abs(ckTm).max())),
            "migrate+head": out(sym(qm, head_qm), sym(kTm, head_km)),
            "asym": out(asym(q, cq.min(), cq.max()), asym(kT, ckT.min(), ckT.max())),
        }
        # The same grids with the evaluation set's own ranges (no clipping): what resolution alone gives.
        oa = np.sqrt(np.maximum(np.abs(kT).max(axis=(0, 3)), 1e-12) / np.maximum(np.abs(q).max(axis=(0, 2)), 1e-12))
        oqm, okTm = q * oa[None, :, None, :], kT / oa[None, :, :, None]
        row["tensor*"] = out(sym(q, np.abs(q).max()), sym(kT, np.abs(kT).max()))
        row["head*"] = out(sym(q, np.abs(q).max(axis=(0, 2, 3))[None, :, None, None]),
                           sym(kT, np.abs(kT).max(axis=(0, 2, 3))[None, :, None, None]))
        row["migrate*"] = out(sym(oqm, np.abs(oqm).max()), sym(okTm, np.abs(okTm).max()))
        for f in (1.25, 1.5, 2.0):  # headroom over the calibration amax
            row[f"tensor x{f}"] = out(sym(q, f * np.abs(cq).max()), sym(kT, f * np.abs(ckT).max()))
        q_db, k_db = sqnr(q, sym(q, np.abs(cq).max())), sqnr(kT, sym(kT, np.abs(ckT).max()))
        print(f"{att['name']} | {q_db:.1f} | {k_db:.1f} | " + " | ".join(f"{row[k]:.1f}" for k in cols), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
