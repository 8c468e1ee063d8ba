"""Single Linear layers of a small vision transformer (CaiT-XXS24: hidden 192,
197 tokens; issue 13, RESULTS.md section 273): a one-MatMul + bias ONNX model
x[B, 197, 192] @ W[192, N] + b, N = 192 / 576 / 768 (proj, qkv, fc1) and
W[768, 192] (fc2), and the talking-heads mix x[B, 196, 196, 4] @ W[4, 4] + b; batch 1 and 8, int8rt's FP32 + bf16 engine (``bf16=True``)
against OpenVINO with INFERENCE_PRECISION_HINT=bf16, one thread each, in one
process, alternated (a, b, a, b, ...), process CPU time, medians and ratios.
Base tree against this one: the same command with PYTHONPATH=<main's python/
copied aside>; OpenVINO in each process is the common yardstick (OV / impl).

    PYTHONPATH=python python benchmarks/gemm24_vit_linear.py [--rounds 30] [--batches 1,8]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import alternating_samples, machine_line  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402

# (rows per image, K, N): the Linear layers over 197 tokens (proj, qkv, fc1, fc2),
# and the talking-heads mixes over the [196, 196] attention maps of 4 heads (48 of CaiT-XXS24's MatMuls)
SHAPES = [((197,), 192, 192), ((197,), 192, 576), ((197,), 192, 768), ((197,), 768, 192), ((196, 196), 4, 4)]


def linear_model(rows: tuple, k: int, n: int, path: str) -> None:
    """x[B, *rows, k] @ W[k, n] + b as an ONNX file (batch symbolic)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(k * 1000 + n)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    b = (rng.standard_normal(n) * 0.1).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y0"]), helper.make_node("Add", ["y0", "b"], ["y"])],
        "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", *rows, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", *rows, n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def int8rt_runner(mod, path: str, x: np.ndarray):
    with contextlib.redirect_stdout(io.StringIO()):
        engine = mod.build_engine(path, mod.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    return lambda: ctx.run({"x": x})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batches", default="1,8")
    args = ap.parse_args()
    import int8rt

    impls_mod = {"int8rt bf16": int8rt}
    int8rt.set_num_threads(1)
    print(machine_line())
    print(f"1 thread, process CPU time, {args.rounds} alternating rounds, medians (ms); ratio = OV / impl")
    tmp = tempfile.mkdtemp(prefix="gemm24_")
    for batch in [int(b) for b in args.batches.split(",")]:
        for rows, k, n in SHAPES:
            path = os.path.join(tmp, f"lin_{len(rows)}_{k}_{n}.onnx")
            linear_model(rows, k, n, path)
            x = np.random.default_rng(1).standard_normal((batch, *rows, k)).astype(np.float32)
            impls = {name: int8rt_runner(m, path, x) for name, m in impls_mod.items()}
            req = O.compile_model(O.load(path), 1, "bf16", batch).create_infer_request()
            impls["OV bf16"] = lambda req=req: req.infer({0: x})
            s = alternating_samples(impls, args.rounds, warmup=3, clock=time.process_time)
            med = {name: float(np.median(v)) * 1e3 for name, v in s.items()}
            line = "  ".join(f"{name} {t:.3f}" for name, t in med.items())
            ratios = "  ".join(f"OV/{name.split()[0]} {med['OV bf16'] / med[name]:.2f}"
                               for name in med if name != "OV bf16")
            print(f"b{batch} [{batch * int(np.prod(rows))}, {k}] x [{k}, {n}]: {line}  |  {ratios}", flush=True)


if __name__ == "__main__":
    main()
