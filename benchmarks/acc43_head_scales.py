"""Would one scale per attention head keep a ReLU linear attention's
products in int8? (issue 12, gap (c); benchmarks/RESULTS_accuracy.md, acc43.)

acc42 keeps EfficientViT's activation x activation products in float32:
71-95 % of their output rows sit below one int8 step of a per-tensor
threshold. This probe measures what a per-head scale would change, with
the same fake quantization as benchmarks/acc42_fake_quant.py (ONNX Runtime
FP32 with QuantizeLinear / DequantizeLinear pairs after chosen tensors only,
symmetric int8, scale = max |x| over the 32 calibration inputs / 127):
per product output [batch, heads, rows, columns], the quiet rows (RMS below
one step) at one scale per tensor and at one scale per head (QuantizeLinear
with ``axis`` = 1), the spread of the heads' maxima, and how far one head's
rows spread across inputs (its 50th / 99th percentile row RMS against its
maximum); then the centred cosine of the logits against FP32 over the 32
evaluation inputs with every product output fake-quantized per tensor and per
head.

Usage (from /tmp): PYTHONPATH=<repo>/benchmarks python3 <repo>/benchmarks/acc43_head_scales.py efficientvit_b0 \
    --dir /tmp/acc42/models
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from acc42_fake_quant import fake_quantized as acc42_fake_quantized, with_outputs  # noqa: E402
from realnets import new_models as M  # noqa: E402


def fake_quantized(path: str, scales: dict, folder: str) -> str:
    """``path`` with a Q/DQ pair after each tensor of ``scales`` (name ->
    (scale array, axis or None)): acc42_fake_quant.fake_quantized's model,
    its scales and zero points then replaced by ``scales``' and the pairs
    given ``axis`` where one is set."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(acc42_fake_quantized(path, {t: 127.0 for t in scales}, list(scales), folder))
    inits = {i.name: i for i in m.graph.initializer}
    for t, (scale, axis) in scales.items():
        s = np.asarray(scale, np.float32)
        inits[t + "_s"].CopyFrom(numpy_helper.from_array(s, t + "_s"))
        inits[t + "_z"].CopyFrom(numpy_helper.from_array(np.zeros(s.shape, np.int8), t + "_z"))
        for n in m.graph.node:
            if axis is not None and n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.input[1] == t + "_s":
                n.attribute.append(helper.make_attribute("axis", axis))
    out = os.path.join(folder, f"hq{len(os.listdir(folder))}.onnx")
    onnx.save(m, out, save_as_external_data=True, location=os.path.basename(out) + ".data")
    return out


def main() -> int:
    import onnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/acc42/models")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    net, path = M.exported(args.name, args.dir)
    g = onnx.load(str(path), load_external_data=False).graph
    consts = {i.name for i in g.initializer} | {n.output[0] for n in g.node if n.op_type == "Constant"}
    outs = [n.output[0] for n in g.node if n.op_type == "MatMul" and not any(i in consts for i in n.input)]
    calib, ev = net.feeds(args.calib, 2), net.feeds(args.eval, 1)
    path = os.path.abspath(path)
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # onnx.save checks the external data file's name against the working folder too
        probe = M.ort_session(with_outputs(str(path), outs, folder))
        vals = {t: [] for t in outs}
        for b in B._batches(calib, 8):
            for t, v in zip(outs, probe.run(outs, b)):
                vals[t].append(v.astype(np.float64))
        vals = {t: np.concatenate(v) for t, v in vals.items()}   # [images, heads, rows, columns]
        per_tensor, per_head = {}, {}
        for t, v in vals.items():
            row_rms = np.sqrt((v ** 2).mean(-1))                       # [images, heads, rows]
            amax = float(np.abs(v).max())
            head_amax = np.abs(v).max(axis=(0, 2, 3))
            q_t = float((row_rms < amax / 127).mean())
            q_h = float((row_rms < head_amax[None, :, None] / 127).mean())
            p50 = np.percentile(row_rms, 50, axis=(0, 2)) / head_amax
            p99 = np.percentile(row_rms, 99, axis=(0, 2)) / head_amax
            print(f"{t} {list(v.shape[1:])}: quiet rows per tensor {q_t:.2f}, per head {q_h:.2f}; heads' max "
                  f"{head_amax.min():.4g}-{head_amax.max():.4g} ({head_amax.max() / head_amax.min():.3g}x); "
                  f"a head's row RMS / its max at p50 {p50.min():.4f}-{p50.max():.4f}, "
                  f"p99 {p99.min():.3f}-{p99.max():.3f}", flush=True)
            per_tensor[t] = (np.float32(amax / 127), None)
            per_head[t] = (head_amax / 127, 1)
        fp32 = M.ort_session(str(path))
        ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 8)

        def score(scales: dict) -> float:
            s = M.ort_session(fake_quantized(str(path), scales, folder))
            return round(B.centred_cosine(B.run_all(lambda f: s.run(None, f)[0], ev, 8), ref), 4)

        print(f"every product output int8, one scale per tensor: centred cosine {score(per_tensor)}", flush=True)
        print(f"every product output int8, one scale per head: centred cosine {score(per_head)}", flush=True)
        for t in outs:
            print(f"{t} alone, per tensor {score({t: per_tensor[t]})}, per head {score({t: per_head[t]})}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
