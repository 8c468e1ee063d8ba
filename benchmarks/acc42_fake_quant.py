"""Which tensors of a network's activation x activation products break it in
INT8 (benchmarks/RESULTS_accuracy.md, section acc42): ONNX Runtime FP32 with
QuantizeLinear / DequantizeLinear pairs inserted after chosen tensors only
(symmetric int8, scale = max |x| over the calibration inputs / 127, the
rest float32), scored by the centred cosine of the output against FP32; and
each product tensor's share of rows (every axis but the last) whose RMS is
below one step of that grid (quiet_products.py's measure, minmax thresholds),
and the ratio of its largest to its smallest column RMS (last axis).

Usage (from /tmp): PYTHONPATH=<repo>/benchmarks python3 <repo>/benchmarks/acc42_fake_quant.py efficientvit_b0 \
    --dir /tmp/acc42/models --calib 32 --eval 32   (--rows-only: the quiet rows alone, for any network)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from realnets import new_models as M  # noqa: E402


def with_outputs(path: str, names: list, folder: str) -> str:
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load(path)
    m.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in names)
    out = os.path.join(folder, "probe.onnx")
    onnx.save(m, out, save_as_external_data=True, location="probe.onnx.data")
    return out


def fake_quantized(path: str, amax: dict, tensors: list, folder: str) -> str:
    """``path`` with a Q/DQ pair after each of ``tensors``, nodes re-sorted topologically."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(path)
    g = m.graph
    for t in tensors:
        g.initializer.extend([numpy_helper.from_array(np.array(amax[t] / 127, np.float32), t + "_s"),
                              numpy_helper.from_array(np.array(0, np.int8), t + "_z")])
        for n in g.node:
            for i, x in enumerate(n.input):
                if x == t:
                    n.input[i] = t + "_dq"
        g.node.extend([helper.make_node("QuantizeLinear", [t, t + "_s", t + "_z"], [t + "_q"]),
                       helper.make_node("DequantizeLinear", [t + "_q", t + "_s", t + "_z"], [t + "_dq"])])
    nodes, avail, ordered = list(g.node), {i.name for i in g.input} | {i.name for i in g.initializer} | {""}, []
    while nodes:
        ready = [n for n in nodes if all(i in avail for i in n.input)]
        for n in ready:
            avail |= set(n.output)
        ordered += ready
        nodes = [n for n in nodes if n not in ready]
    del g.node[:]
    g.node.extend(ordered)
    out = os.path.join(folder, f"fq{len(os.listdir(folder))}.onnx")
    onnx.save(m, out, save_as_external_data=True, location=os.path.basename(out) + ".data")
    return out


def main() -> int:
    import onnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/acc42/models")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--rows-only", action="store_true", help="print the quiet rows only (no fake-quantized runs)")
    args = ap.parse_args()
    net, path = M.exported(args.name, args.dir)
    g = onnx.load(str(path), load_external_data=False).graph
    consts = {i.name for i in g.initializer} | {n.output[0] for n in g.node if n.op_type == "Constant"}
    mms = [n for n in g.node if n.op_type == "MatMul" and not any(i in consts for i in n.input)]
    names = sorted({t for n in mms for t in [*n.input, *n.output]})
    calib, ev = net.feeds(args.calib, 2), net.feeds(args.eval, 1)
    path = os.path.abspath(path)
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # onnx.save checks the external data file's name against the working folder too
        probe = M.ort_session(with_outputs(str(path), names, folder))
        rows = {t: [] for t in names}
        for b in B._batches(calib, 8):
            for t, v in zip(names, probe.run(names, b)):
                rows[t].append(v.reshape(-1, v.shape[-1]).astype(np.float64))
        rows = {t: np.concatenate(v) for t, v in rows.items()}
        amax = {t: float(np.abs(v).max()) for t, v in rows.items()}
        quiet = {t: float((np.sqrt((v ** 2).mean(1)) < amax[t] / 127).mean()) for t, v in rows.items()}
        col_rms = {t: np.sqrt((v ** 2).mean(0)) for t, v in rows.items()}
        spread = {t: float(c.max() / max(c.min(), 1e-30)) for t, c in col_rms.items()}
        fp32 = M.ort_session(str(path))
        ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 8)

        def score(tensors: list) -> float:
            s = M.ort_session(fake_quantized(str(path), amax, tensors, folder))
            return round(B.centred_cosine(B.run_all(lambda f: s.run(None, f)[0], ev, 8), ref), 4)

        for n in mms:
            print(f"{n.name}: " + ", ".join(f"{t} amax {amax[t]:.4g} quiet rows {quiet[t]:.2f} "
                                            f"column RMS max/min {spread[t]:.3g}"
                                            for t in [*n.input, *n.output]))
        if args.rows_only:
            return 0
        first, second = mms[0::2], mms[1::2]  # EfficientViT's products come in pairs: K^T V, then Q kv
        sets = {"every product's operands": sorted({t for n in mms for t in n.input}),
                "every product's output": [n.output[0] for n in mms],
                "the first products' outputs (K^T V)": [n.output[0] for n in first],
                "the second products' outputs (Q kv)": [n.output[0] for n in second],
                "the first products' operands": sorted({t for n in first for t in n.input}),
                "the second products' first operand (relu Q)": [n.input[0] for n in second]}
        for label, tensors in sets.items():
            print(f"int8 at {label}: centred cosine {score(tensors)}", flush=True)
        for n in mms:
            print(f"int8 at {n.output[0]} alone: {score([n.output[0]])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
