"""Per-layer cost of BF16 against FP32 in one CNN (issue 13 §4): the FP32
and FP32 + bf16 (``bf16=True``) engines of e2e_models.py's network, each
layer's median thread-CPU time over RUNS profiled runs
(``ExecutionContext.profile(clock="thread_cpu")``, so a loaded machine's
preemptions do not count), side by side with the layer's shape and the
GFLOPS of the BF16 layer. One thread.

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16_layers_profile.py \
           [--net resnet50] [--batch 1] [--runs 7]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402


def export(name: str, path: str) -> None:
    import torch
    from e2e_models import make_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(make_model(name), torch.zeros(1, 3, 224, 224), path, dynamo=False, input_names=["input"],
                          output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


def conv_macs(net, batch: int) -> dict:
    """Multiply-adds per Conv node of the ONNX file, by node name (shape inference)."""
    import onnx
    from onnx import shape_inference

    m = shape_inference.infer_shapes(onnx.load(net))
    shapes = {v.name: [d.dim_value or batch for d in v.type.tensor_type.shape.dim] for v in m.graph.value_info}
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "Conv" and n.output[0] in shapes and n.input[1] in inits:
            w, y = inits[n.input[1]], shapes[n.output[0]]
            out[n.name] = (int(np.prod(y)) * int(np.prod(w[1:])), f"{w[1]}->{w[0]} {w[2]}x{w[3]} @{y[2]}")
    return out


def exported(net: str, batch: int) -> tuple[str, dict]:
    """e2e_models.py's network exported to a fresh ONNX file, and its :func:`conv_macs`;
    one int8rt thread."""
    int8rt.set_num_threads(1)
    path = os.path.join(tempfile.mkdtemp(), f"{net}.onnx")
    export(net, path)
    return path, conv_macs(path, batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="resnet50")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    path, macs = exported(args.net, args.batch)
    feed = {"input": np.random.default_rng(3).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)}
    prof = {}
    for label, bf16 in (("fp32", False), ("bf16", True)):
        with contextlib.redirect_stdout(io.StringIO()):
            e = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=bf16))
        prof[label] = e.create_execution_context().profile(feed, args.runs, clock="thread_cpu")
    print(machine_line())
    print(f"{args.net}, batch {args.batch}, 1 thread, thread-CPU medians of {args.runs} runs; {load_line()}")
    print("| layer | shape | FP32 ms | BF16 ms | FP32 / BF16 | BF16 GFLOPS | BF16 kernel |")
    print("|---|---|---|---|---|---|---|")
    fp = {la["name"]: la for la in prof["fp32"]}
    for la in prof["bf16"]:
        if la["name"] not in macs or la["name"] not in fp:
            continue
        mac, shape = macs[la["name"]]
        f, b = fp[la["name"]]["ms"], la["ms"]
        print(f"| {la['name']} | {shape} | {f:.3f} | {b:.3f} | {f / b:.2f}x | {2 * mac / b / 1e6:.0f} | "
              f"{la['detail'].split('kernel=')[-1] if 'kernel=' in la['detail'] else la['precision']} |")
    tf, tb = (sum(la["ms"] for la in prof[k]) for k in ("fp32", "bf16"))
    print(f"| total (every layer) | | {tf:.2f} | {tb:.2f} | {tf / tb:.2f}x | | |")


if __name__ == "__main__":
    main()
