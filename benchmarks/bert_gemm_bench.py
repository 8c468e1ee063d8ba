"""The static int8 GEMM on BERT's linear shapes against ONNX Runtime's MLAS
u8s8 (issue 11 §5 / 14, RESULTS.md section 76): products per second of each
int8rt gemm_s8 kernel named on the command line and of ONNX Runtime's
MatMulInteger (u8 activations with a zero point x s8 weights, the op
quantize_dynamic emits; MLAS's QGEMM), 1 thread, in one process, alternated.

int8rt's kernels pack W per call of the test hook (``_testing.kernels.gemm_s8``),
so a product's time is (time(runs=R) - time(runs=1)) / (R - 1) on one packing:
the packing cancels.
ORT packs its constant B once per session; its time is taken as is.
Weights: per-channel int8 (BERT-base-like normal weights quantized with
scale = amax / 127 per output channel, int8rt's rule); activations uniform
over [-128, 127] (ORT: the same bytes + 128 with zero point 128). Process CPU
time (the machine is shared), medians.

    PYTHONPATH=python python benchmarks/bert_gemm_bench.py --rounds 7
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from int8rt._testing import kernels as K  # noqa: E402
from bench_util import machine_line, time_alternating  # noqa: E402

SHAPES = [(128, 768, 768), (128, 768, 3072), (128, 3072, 768),
          (1024, 768, 768), (1024, 768, 3072), (1024, 3072, 768),
          (32, 384, 384), (256, 384, 1536), (256, 1536, 384)]


def per_channel_weights(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """int8 [N, K]: normal weights quantized per output channel (scale = amax / 127)."""
    w = rng.normal(0.0, 0.02, (n, k))
    return np.clip(np.rint(w / (np.abs(w).max(axis=1, keepdims=True) / 127.0)), -127, 127).astype(np.int8)


def ort_matmul_integer(w_nk: np.ndarray):
    """An ORT session of MatMulInteger(a u8 [M,K], zero point 128, constant B s8 [K,N], zero point 0)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    n, k = w_nk.shape
    g = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])], "mmi",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, ["M", k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, ["M", n])],
        [numpy_helper.from_array(np.ascontiguousarray(w_nk.T), "b"),
         numpy_helper.from_array(np.array(128, np.uint8), "za"), numpy_helper.from_array(np.array(0, np.int8), "zb")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernels", default="gemm_s8_6x16c4p_avx2,gemm_s8_6x16c2_avx2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=6, help="products per timed call on one packing (>= 2)")
    ap.add_argument("--shapes", default="", help="MxKxN,... (default: BERT-base and MiniLM's)")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")] if args.shapes else SHAPES
    names = args.kernels.split(",")
    print(machine_line(), flush=True)
    print("| M x K x N | " + " | ".join(names) + " | ORT MatMulInteger | ORT ÷ " + names[0] + " |")
    print("|---|" + "---|" * (len(names) + 2))
    rng = np.random.default_rng(0)
    for m, k, n in shapes:
        w = per_channel_weights(rng, n, k)
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        ones = np.ones(n, np.float32)
        forms = {nm: K.gemm_s8_form(w, kernel=nm) for nm in names}
        sess = ort_matmul_integer(w)
        ua = (a.astype(np.int16) + 128).astype(np.uint8)
        impls = {}
        for nm in names:
            impls[nm] = lambda nm=nm: K.gemm_s8(a, w, ones, kernel=nm, runs=args.runs)
            impls[nm + " 1"] = lambda nm=nm: K.gemm_s8(a, w, ones, kernel=nm, runs=1)
        impls["ort"] = lambda: sess.run(None, {"a": ua})
        t = time_alternating(impls, args.rounds, clock=time.process_time, min_time=0.05)
        macs = m * k * n
        cells = []
        for nm in names:
            s = (t[nm] - t[nm + " 1"]) / (args.runs - 1)
            cells.append(f"{s * 1e3:.2f} ms, {macs / s / 1e9:.0f} ({forms[nm] or 'fallback'})")
        cells.append(f"{t['ort'] * 1e3:.2f} ms, {macs / t['ort'] / 1e9:.0f}")
        ratio = t["ort"] / ((t[names[0]] - t[names[0] + " 1"]) / (args.runs - 1))
        print(f"| {m} x {k} x {n} | " + " | ".join(cells) + f" | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
