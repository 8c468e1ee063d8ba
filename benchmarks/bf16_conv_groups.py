"""A CNN's BF16 convolutions summed by kind (issue 13 §4): the FP32 +
bf16 engine (``bf16=True``) of e2e_models.py's network (ResNet-50 unless
--net; --onnx reads a file exported before instead), each layer's
median thread-CPU time over RUNS profiled runs
(``ExecutionContext.profile(clock="thread_cpu")``), summed per conv kind
(1x1, strided 1x1 = the blocks' down convs, 3x3, strided 3x3, the 7x7
stem, other layers), then each down conv; --by-size splits the kinds by
output size ("1x1 @56") and names depthwise convs ("dw 3x3") and the
3-channel stem. One thread. A change to one kind
is read against the kinds it leaves alone (their sum moves with the load),
so run two packages alternately and compare the ratios.

Usage: PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16_conv_groups.py [--batch 8] [--runs 5]
           [--net resnet50] [--onnx FILE] [--by-size]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line  # noqa: E402
from bf16_layers_profile import conv_macs, export  # noqa: E402


def kind(name: str, macs: dict, strides: dict, by_size: bool = False) -> str:
    """The conv kind of layer `name`: its window and whether it is strided
    (by_size: and its output size; depthwise convs and the stem apart)."""
    if name not in macs:
        return "other"
    shape = macs[name][1]  # "Cin/group->Cout KhxKw @H" (conv_macs)
    window = shape.split(" ")[1]
    if by_size and shape.startswith("1->"):
        return f"dw {window}"
    if by_size and shape.startswith("3->"):
        return "stem"
    return window + (" s2" if strides.get(name, 1) > 1 else "") + (f" @{shape.split('@')[1]}" if by_size else "")


def conv_strides(path: str) -> dict:
    """The stride of each Conv node of the ONNX file, by node name."""
    import onnx

    out = {}
    for n in onnx.load(path).graph.node:
        if n.op_type == "Conv":
            out[n.name] = max([a.ints for a in n.attribute if a.name == "strides"][0] or [1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--net", default="resnet50")
    ap.add_argument("--onnx", help="the network exported before (default: export --net afresh)")
    ap.add_argument("--by-size", action="store_true")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    path = args.onnx or os.path.join(tempfile.mkdtemp(), f"{args.net}.onnx")
    if not args.onnx:
        export(args.net, path)
    macs, strides = conv_macs(path, args.batch), conv_strides(path)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    feed = {"input": np.random.default_rng(3).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)}
    ctx.profile(feed, 2, clock="thread_cpu")
    runs = [ctx.profile(feed, 1, clock="thread_cpu") for _ in range(args.runs)]
    med = {la["name"]: float(np.median([r[i]["ms"] for r in runs])) for i, la in enumerate(runs[0])}
    sums: dict[str, float] = {}
    for name, ms in med.items():
        k = kind(name, macs, strides, args.by_size)
        sums[k] = sums.get(k, 0.0) + ms
    downs = " ".join(f"{ms:.2f}" for name, ms in med.items() if kind(name, macs, strides) == "1x1 s2")
    print(f"{args.net} batch {args.batch}, {load_line()}: total {sum(med.values()):.3f} ms | "
          + " | ".join(f"{k} {v:.3f}" for k, v in sorted(sums.items())) + f" | strided 1x1 each {downs}")


if __name__ == "__main__":
    main()
