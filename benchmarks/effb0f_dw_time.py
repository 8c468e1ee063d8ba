"""FP32 depthwise convs alone, on EfficientNet-B0's, MobileNetV2's and
MobileNetV3's shapes, int8rt against ONNX Runtime, with and without the
activation the network fuses (SiLU as Sigmoid + Mul, ReLU6 as Clip(0, 6)).

Each layer is a one-conv ONNX model (seeded weights, bias); int8rt's time is
its conv layer in ExecutionContext.profile (thread-CPU), ONNX Runtime's the
sum of its nodes but the NCHW <-> NCHWc reorders (its NCHWc conv, plus the
QuickGelu node it fuses x * Sigmoid(x) into), from its node profile; 1
thread each. Per layer and pass: the minimum over --runs runs of int8rt and
15 of ORT (fp32_ort_layer_gap.ort_nodes),
int8rt and ORT alternating pass by pass; printed: the median over --passes.
The input is warm in cache on both sides (a network's layer may read a cold
one: benchmarks/effb0f_dw_layers.py times them in place).

Usage: PYTHONPATH=python python3 benchmarks/effb0f_dw_time.py [--batch 1]
       [--passes 3] [--runs 20] [--only SUBSTRING ...] [--no-ort]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from typing import List, NamedTuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp32_ort_layer_gap import ort_nodes  # noqa: E402

import int8rt  # noqa: E402


class Dw(NamedTuple):
    net: str
    c: int
    size: int
    k: int
    stride: int
    act: str  # "silu", "relu6" or "none"

    @property
    def name(self) -> str:
        return f"{self.net} {self.c} {self.k}x{self.k}/{self.stride} @{self.size} {self.act}"


def _b0() -> List[Dw]:
    """EfficientNet-B0's 16 depthwise convs (unique shapes), each with SiLU."""
    shapes = [(32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 5, 2), (240, 28, 5, 1),
              (240, 28, 3, 2), (480, 14, 3, 1), (480, 14, 5, 1), (672, 14, 5, 1), (672, 14, 5, 2),
              (1152, 7, 5, 1), (1152, 7, 3, 1)]
    return [Dw("b0", c, s, k, st, "silu") for c, s, k, st in shapes]


def _mbv2() -> List[Dw]:
    shapes = [(32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 3, 2), (192, 28, 3, 1),
              (192, 28, 3, 2), (384, 14, 3, 1), (576, 14, 3, 1), (576, 14, 3, 2), (960, 7, 3, 1)]
    return [Dw("mbv2", c, s, k, st, "relu6") for c, s, k, st in shapes]


LAYERS = _b0() + _mbv2() + [
    # MobileNetV3-Large's strided 5x5 and the 16k + 8 channel counts (ReLU / none in the net; timed bare)
    Dw("mbv3", 72, 56, 5, 2, "none"), Dw("mbv3", 120, 28, 5, 1, "none"), Dw("mbv3", 200, 14, 3, 1, "none"),
    Dw("mbv3", 672, 14, 5, 2, "none"), Dw("mbv3", 960, 7, 5, 1, "none"),
]


def model(layer: Dw, act: str, batch: int) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((layer.c, 1, layer.k, layer.k), dtype=np.float32) * 0.2
    b = rng.standard_normal(layer.c, dtype=np.float32) * 0.1
    o = (layer.size + 2 * (layer.k // 2) - layer.k) // layer.stride + 1
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c" if act != "none" else "y"], kernel_shape=[layer.k] * 2,
                              strides=[layer.stride] * 2, pads=[layer.k // 2] * 4, group=layer.c)]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    if act == "silu":
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    elif act == "relu6":
        inits += [numpy_helper.from_array(np.array(0, np.float32), "lo"),
                  numpy_helper.from_array(np.array(6, np.float32), "hi")]
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    g = helper.make_graph(nodes, "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      [batch, layer.c, layer.size, layer.size])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, layer.c, o, o])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def int8rt_ms(path: str, feeds: dict, runs: int) -> float:
    ctx = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    best = float("inf")
    for _ in range(max(1, runs // 5)):
        for r in ctx.profile(feeds, runs=5, clock="thread_cpu"):
            if r["name"].startswith("Conv") or "conv" in r.get("detail", ""):
                best = min(best, r["ms"])
    return best


def ort_ms(path: str, feeds: dict) -> float:
    """ORT's node profile (fp32_ort_layer_gap.ort_nodes) without its reorders."""
    return float(sum(ms for name, ms in ort_nodes(path, feeds).items() if not name.startswith("Reorder")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--no-ort", action="store_true")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    folder = tempfile.mkdtemp()
    layers = [lay for lay in LAYERS if not args.only or any(s in lay.name for s in args.only)]
    print(f"batch {args.batch}, {args.passes} passes x {args.runs} runs, load {os.getloadavg()[0]:.1f}")
    print("| layer | int8rt bare | int8rt +act | ORT bare | ORT +act | +act ratio |\n|---|---:|---:|---:|---:|---:|")
    for lay in layers:
        acts = ["none"] if lay.act == "none" else ["none", lay.act]
        rng = np.random.default_rng(1)
        feeds = {"x": rng.standard_normal((args.batch, lay.c, lay.size, lay.size), dtype=np.float32)}
        ours, theirs = collections.defaultdict(list), collections.defaultdict(list)
        paths = {}
        for act in acts:
            paths[act] = os.path.join(folder, f"{lay.c}_{lay.size}_{lay.k}_{lay.stride}_{act}.onnx")
            onnx.save(model(lay, act, args.batch), paths[act])
        for _ in range(args.passes):
            for act in acts:
                ours[act].append(int8rt_ms(paths[act], feeds, args.runs))
                if not args.no_ort:
                    theirs[act].append(ort_ms(paths[act], feeds))
        med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
        a0, a1 = med(ours["none"]), med(ours[acts[-1]])
        o0, o1 = med(theirs["none"]), med(theirs[acts[-1]])
        print(f"| {lay.name} | {a0:.4f} | {a1:.4f} | {o0:.4f} | {o1:.4f} | {a1 / o1:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
