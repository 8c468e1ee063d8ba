"""Single FP32 Conv layers (+ Relu where the network has one): int8rt against
ONNX Runtime FP32, one thread each, alternating in one process, medians of
the calling thread's CPU time (issue 14 §3: the per-layer view behind
fp32_peer_bench.py's network ratios).

Layers: the dense 1x1 and 3x3 convolutions of ResNet-50 at every stage and
its 7x7 / 2 stem, its 1x1 expansions with the residual Add and Relu (+res), MobileNetV2's pointwise, depthwise and stem layers,
ConvNeXt's 7x7 depthwise, and RegNetY-400MF's grouped 3x3 convs (8
channels per group). Random weights (seeded), batch 1, constant
weights and bias, each layer one ONNX model built with onnx.helper.

usage: PYTHONPATH=python python3 benchmarks/fp32_conv_layers_bench.py [--rounds 9] [--only SUBSTRING ...]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import List, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from bench_util import machine_line  # noqa: E402


class Layer(NamedTuple):
    name: str
    c: int       # input channels
    size: int    # input height = width
    m: int       # output channels
    k: int       # kernel height = width
    stride: int
    pad: int
    relu: bool
    depthwise: bool = False
    group: int = 1  # grouped (not depthwise) convs
    residual: bool = False  # Conv, then Add of a second input r, then the Relu (ResNet's expansions)

    def out_size(self) -> int:
        return (self.size + 2 * self.pad - self.k) // self.stride + 1

    def flops(self) -> int:
        per_out = self.k * self.k * (1 if self.depthwise else self.c // self.group)
        return 2 * self.m * self.out_size() ** 2 * per_out


LAYERS: List[Layer] = [
    Layer("r50 1x1 64->256 @56", 64, 56, 256, 1, 1, 0, False),
    Layer("r50 1x1 256->64 @56", 256, 56, 64, 1, 1, 0, True),
    Layer("r50 3x3 64 @56", 64, 56, 64, 3, 1, 1, True),
    Layer("r50 3x3/2 128 @56", 128, 56, 128, 3, 2, 1, True),
    Layer("r50 3x3 128 @28", 128, 28, 128, 3, 1, 1, True),
    Layer("r50 1x1 512->128 @28", 512, 28, 128, 1, 1, 0, True),
    Layer("r50 3x3 256 @14", 256, 14, 256, 3, 1, 1, True),
    Layer("r50 1x1 1024->256 @14", 1024, 14, 256, 1, 1, 0, True),
    Layer("r50 3x3 512 @7", 512, 7, 512, 3, 1, 1, True),
    Layer("r50 1x1 2048->512 @7", 2048, 7, 512, 1, 1, 0, True),
    Layer("r50 1x1 64->256 @56 +res", 64, 56, 256, 1, 1, 0, True, residual=True),
    Layer("r50 1x1 128->512 @28 +res", 128, 28, 512, 1, 1, 0, True, residual=True),
    Layer("r50 1x1 256->1024 @14 +res", 256, 14, 1024, 1, 1, 0, True, residual=True),
    Layer("r50 1x1 512->2048 @7 +res", 512, 7, 2048, 1, 1, 0, True, residual=True),
    Layer("r50 stem 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3, True),
    Layer("mnv2 stem 3x3/2 3->32 @224", 3, 224, 32, 3, 2, 1, True),
    Layer("mnv2 1x1 24->144 @56", 24, 56, 144, 1, 1, 0, True),
    Layer("mnv2 1x1 16->96 @112", 16, 112, 96, 1, 1, 0, True),
    Layer("mnv3 1x1 16->64 @112", 16, 112, 64, 1, 1, 0, True),
    Layer("mnv3 stem 3x3/2 3->16 @224", 3, 224, 16, 3, 2, 1, True),
    Layer("mnv2 1x1 192->32 @28", 192, 28, 32, 1, 1, 0, False),
    Layer("mnv2 1x1 64->384 @14", 64, 14, 384, 1, 1, 0, True),
    Layer("mnv2 1x1 384->64 @14", 384, 14, 64, 1, 1, 0, False),
    Layer("mnv2 1x1 96->576 @14", 96, 14, 576, 1, 1, 0, True),
    Layer("lite0 1x1 80->480 @14", 80, 14, 480, 1, 1, 0, True),
    Layer("lite0 1x1 112->672 @14", 112, 14, 672, 1, 1, 0, True),
    Layer("lite0 1x1 672->112 @14", 672, 14, 112, 1, 1, 0, False),
    Layer("mnv2 1x1 576->96 @14", 576, 14, 96, 1, 1, 0, False),
    Layer("mnv2 1x1 160->960 @7", 160, 7, 960, 1, 1, 0, True),
    Layer("mnv2 1x1 960->160 @7", 960, 7, 160, 1, 1, 0, False),
    Layer("mnv2 1x1 320->1280 @7", 320, 7, 1280, 1, 1, 0, True),
    Layer("mnv2 dw 3x3 144 @56", 144, 56, 144, 3, 1, 1, True, True),
    Layer("mnv2 dw 3x3/2 144 @56", 144, 56, 144, 3, 2, 1, True, True),
    Layer("mnv2 dw 3x3/2 96 @112", 96, 112, 96, 3, 2, 1, True, True),
    Layer("lite0 dw 5x5 240 @28", 240, 28, 240, 5, 1, 2, True, True),
    Layer("lite0 dw 5x5/2 144 @56", 144, 56, 144, 5, 2, 2, True, True),
    Layer("mnv2 dw 3x3 32 @112", 32, 112, 32, 3, 1, 1, True, True),
    Layer("mnv2 dw 3x3 192 @28", 192, 28, 192, 3, 1, 1, True, True),
    Layer("mnv2 dw 3x3 576 @14", 576, 14, 576, 3, 1, 1, True, True),
    Layer("mnv2 dw 3x3/2 576 @14", 576, 14, 576, 3, 2, 1, True, True),
    Layer("mnv2 dw 3x3 960 @7", 960, 7, 960, 3, 1, 1, True, True),
    Layer("convnext dw 7x7 96 @56", 96, 56, 96, 7, 1, 3, False, True),
    Layer("regnety g8 3x3/2 48 @112", 48, 112, 48, 3, 2, 1, True, group=6),
    Layer("regnety g8 3x3 104 @28", 104, 28, 104, 3, 1, 1, True, group=13),
    Layer("regnety g8 3x3/2 104 @56", 104, 56, 104, 3, 2, 1, True, group=13),
    Layer("regnety g8 3x3 208 @14", 208, 14, 208, 3, 1, 1, True, group=26),
    Layer("regnety g8 3x3/2 208 @28", 208, 28, 208, 3, 2, 1, True, group=26),
    Layer("regnety g8 3x3 440 @7", 440, 7, 440, 3, 1, 1, True, group=55),
    Layer("regnety g8 3x3/2 440 @14", 440, 14, 440, 3, 2, 1, True, group=55),
]


def onnx_file(layer: Layer, folder: Path) -> Path:
    """One Conv (+ Relu) model with seeded constant weights and bias."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    group = layer.c if layer.depthwise else layer.group
    w = rng.standard_normal((layer.m, layer.c // group, layer.k, layer.k), dtype=np.float32) * 0.05
    b = rng.standard_normal(layer.m, dtype=np.float32)
    conv_out = "c" if layer.relu or layer.residual else "y"
    nodes = [helper.make_node("Conv", ["x", "w", "b"], [conv_out], kernel_shape=[layer.k] * 2,
                              strides=[layer.stride] * 2, pads=[layer.pad] * 4, group=group)]
    o = layer.out_size()
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, layer.c, layer.size, layer.size])]
    if layer.residual:
        inputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, layer.m, o, o]))
        nodes.append(helper.make_node("Add", ["c", "r"], ["s" if layer.relu else "y"]))
    if layer.relu:
        nodes.append(helper.make_node("Relu", ["s" if layer.residual else "c"], ["y"]))
    graph = helper.make_graph(
        nodes, "layer", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, layer.m, o, o])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    path = folder / (layer.name.replace(" ", "_").replace(">", "").replace("/", "s") + ".onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def layer_feeds(layer: Layer) -> dict:
    """Seeded inputs: x, and the residual r for layers that add one."""
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((1, layer.c, layer.size, layer.size), dtype=np.float32)}
    if layer.residual:
        o = layer.out_size()
        feeds["r"] = rng.standard_normal((1, layer.m, o, o), dtype=np.float32)
    return feeds


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--only", nargs="*", default=[], help="layers whose name contains one of these")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    folder = Path(tempfile.mkdtemp())
    print(machine_line())
    print("| layer | int8rt ms | ORT ms | int8rt / ORT | int8rt GFLOP/s | max rel diff |")
    print("|---|---:|---:|---:|---:|---:|")
    total = [0.0, 0.0]
    for layer in LAYERS:
        if args.only and not any(s in layer.name for s in args.only):
            continue
        path = onnx_file(layer, folder)
        ctx = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feeds = layer_feeds(layer)
        ours, ref = list(ctx.run(feeds).values())[0], sess.run(None, feeds)[0]
        diff = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
        reps = max(1, int(2e8 / layer.flops()))  # about 0.2 GFLOP per timed call group
        times: dict = {"int8rt": [], "ORT": []}
        for _ in range(args.rounds):
            for key, fn in (("int8rt", lambda: ctx.run(feeds)), ("ORT", lambda: sess.run(None, feeds))):
                t0 = time.thread_time()
                for _ in range(reps):
                    fn()
                times[key].append((time.thread_time() - t0) / reps * 1e3)
        a, b = float(np.median(times["int8rt"])), float(np.median(times["ORT"]))
        total[0] += a
        total[1] += b
        print(f"| {layer.name} | {a:.3f} | {b:.3f} | {a / b:.2f} | {layer.flops() / a / 1e6:.1f} | {diff:.1e} |",
              flush=True)
    print(f"| total | {total[0]:.2f} | {total[1]:.2f} | {total[0] / total[1]:.2f} | | |")


if __name__ == "__main__":
    main()
