"""BERT-class Linear layers in BF16 on AMX (RESULTS.md section 186): one-node
engines of MatMul + bias (a constant [K, N] B, fused into int8rt_bias) at
BERT-base's shapes (tokens x N x K: 128 x 768 x 768 QKV / attention output,
128 x 3072 x 768 FC1, 128 x 768 x 3072 FC2; tokens = 128 x batch) built
with ``bf16=True`` (gemm_bf16 kernel chosen by dispatch), the MatMul layer
timed by ``ExecutionContext.profile`` with the thread-CPU clock (1 thread,
shapes alternated, median over rounds of the per-round medians; the
engine's input / output copies not counted), reported in GMAC/s
and as a share of the measured tdpbf16ps peak (benchmarks/amx_peak.cc bf16,
compiled and run here). Run once per tree to compare builds; the rows carry
the kernel named by the layer's detail.

Usage: PYTHONPATH=<tree>/python python3 benchmarks/bf16gemm_shapes.py [--batches 1 8] [--rounds 7] [--runs 20]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402

SHAPES = [("QKV / out 768x768", 768, 768), ("FC1 768->3072", 3072, 768), ("FC2 3072->768", 768, 3072)]


def bf16_peak() -> float | None:
    """GMAC/s of one core running tdpbf16ps back to back, or None."""
    gxx = shutil.which("g++")
    if gxx is None or not int8rt.kernels.isa_info()["amx"]["cpu"]:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "peak"
        if subprocess.run([gxx, "-O2", "-mamx-tile", "-mamx-int8", "-mamx-bf16", "-o", str(exe), str(HERE / "amx_peak.cc")],
                          capture_output=True).returncode != 0:
            return None
        out = subprocess.run([str(exe), "bf16"], capture_output=True, text=True)
        return float(out.stdout.split()[0]) if out.returncode == 0 else None


def engine(m: int, n: int, k: int, tmp: str):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(m + n + k)
    w = numpy_helper.from_array((rng.standard_normal((k, n)) * 0.05).astype(np.float32), "w")
    b = numpy_helper.from_array((rng.standard_normal(n) * 0.1).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t"]), helper.make_node("Add", ["t", "b"], ["y"])]
    g = helper.make_graph(nodes, "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [w, b])
    path = os.path.join(tmp, f"lin_{m}_{n}_{k}.onnx")
    with open(path, "wb") as f:
        f.write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    with contextlib.redirect_stdout(io.StringIO()):
        e = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = e.create_execution_context()
    x = rng.standard_normal((m, k)).astype(np.float32)
    ctx.run({"x": x})
    detail = " ".join(la["detail"] for la in e.layers() if la["precision"] == "bf16")

    def layer_seconds(runs: int) -> float:
        rows = [r for r in ctx.profile({"x": x}, runs, clock="thread_cpu") if r["op"] == "MatMul"]
        return rows[0]["ms"] / 1e3

    return layer_seconds, detail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=20, help="profiled runs per shape per round")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    peak = bf16_peak()
    print(machine_line())
    print(f"tdpbf16ps peak: {peak:.1f} GMAC/s per core" if peak else "tdpbf16ps peak not measured")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for batch in args.batches:
            for name, n, k in SHAPES:
                runs[(batch, name, 128 * batch, n, k)] = engine(128 * batch, n, k, tmp)
        times: dict = {key: [] for key in runs}
        print(f"start: {load_line()}")
        for _ in range(args.rounds):
            for key, (fn, _) in runs.items():
                times[key].append(fn(args.runs if key[0] == 1 else max(3, args.runs // 4)))
        print(f"end: {load_line()}")
    print("| batch | layer | M x N x K | median CPU ms | GMAC/s | % of tdpbf16ps peak | kernel |")
    print("|---|---|---|---|---|---|---|")
    for key, (_, detail) in runs.items():
        batch, name, m, n, k = key
        t = statistics.median(times[key])
        gmacs = m * n * k / t / 1e9
        pct = f"{100 * gmacs / peak:.1f}" if peak else "-"
        print(f"| {batch} | {name} | {m} x {n} x {k} | {t * 1e3:.3f} | {gmacs:.0f} | {pct} | {detail.split()[-1]} |")


if __name__ == "__main__":
    main()
