"""BF16 channel-blocked convs of ResNet-50 / MobileNetV2 one at a time
(RESULTS.md section 187): per shape a small network around the conv under
test (model(): its input, residual and output 1x1s), built with
``bf16=True`` (one NCHW16c region); 1 thread; ROUNDS rounds over the shapes, each shape's engine run
for at least MIN_TIME seconds per round; per shape the median over rounds
of the thread-CPU time of the conv under test (``ExecutionContext.profile``,
median of 3 runs per call).
Run it once per tree, two trees at the same time, and compare the ratios.

Usage: PYTHONPATH=<tree>/python python3 benchmarks/bf16conv_layers.py [--batch 8] [--rounds 5]
       [--min-time 0.3] [--shapes r50 mb2] [--only @28 ...]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402

# (label, C, M, H = W of the input, k, stride, residual)
SHAPES = {
    "r50": [("1x1 64->256 @56 +res", 64, 256, 56, 1, 1, True), ("1x1 256->64 @56", 256, 64, 56, 1, 1, False),
            ("1x1 512->128 @28", 512, 128, 28, 1, 1, False), ("1x1 128->512 @28 +res", 128, 512, 28, 1, 1, True),
            ("1x1 1024->256 @14", 1024, 256, 14, 1, 1, False), ("1x1 256->1024 @14 +res", 256, 1024, 14, 1, 1, True),
            ("1x1 2048->512 @7", 2048, 512, 7, 1, 1, False), ("1x1 512->2048 @7 +res", 512, 2048, 7, 1, 1, True),
            ("1x1/2 256->512 @56 down", 256, 512, 56, 1, 2, False), ("3x3 128->128 @28", 128, 128, 28, 3, 1, False),
            ("3x3 256->256 @14", 256, 256, 14, 3, 1, False)],
    "mb2": [("1x1 24->144 @56", 24, 144, 56, 1, 1, False), ("1x1 144->24 @56 +res", 144, 24, 56, 1, 1, True),
            ("1x1 32->192 @28", 32, 192, 28, 1, 1, False), ("1x1 96->576 @14", 96, 576, 14, 1, 1, False),
            ("1x1 960->160 @7 +res", 960, 160, 7, 1, 1, True), ("1x1 320->1280 @7", 320, 1280, 7, 1, 1, False)],
}


def add_conv(rng: np.random.Generator, inits: list, nodes: list, x: str, y: str, c_in: int, c_out: int,
             k: int = 1, s: int = 1, name: str | None = None) -> None:
    """A k x k / s Conv x -> y ("same" padding) with weights N(0, 1 / fan-in) and a bias N(0, 0.01), drawn from
    ``rng``, appended to ``inits`` / ``nodes`` (the test models of this script and bf16stem21_stem.py)."""
    from onnx import helper, numpy_helper
    w = (rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(np.float32)
    inits.append(numpy_helper.from_array(w, f"w_{y}"))
    inits.append(numpy_helper.from_array((rng.standard_normal(c_out) * 0.1).astype(np.float32), f"b_{y}"))
    nodes.append(helper.make_node("Conv", [x, f"w_{y}", f"b_{y}"], [y], kernel_shape=[k, k], strides=[s, s],
                                  pads=[k // 2] * 4, **({"name": name} if name else {})))


def model(C: int, M: int, hw: int, k: int, stride: int, residual: bool) -> bytes:
    """x (16 channels) -> 1x1 16 -> 16 -> 1x1 16 -> C -> the conv under test
    (+ a 1x1 / stride 16 -> M of x as its residual) -> Relu -> 1x1 M -> 16:
    four convs, so the region (two conversions) is kept."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(187)
    inits, nodes = [], []

    def conv(x, y, c_in, c_out, kk=1, s=1, name=None):
        add_conv(rng, inits, nodes, x, y, c_in, c_out, kk, s, name)

    conv("x", "a0", 16, 16)
    conv("a0", "a", 16, C)
    conv("a", "c", C, M, k, stride, name="under_test")
    out = "c"
    if residual:
        conv("x", "r", 16, M, 1, stride)
        nodes.append(helper.make_node("Add", ["c", "r"], ["s"]))
        out = "s"
    nodes.append(helper.make_node("Relu", [out], ["z"]))
    conv("z", "y", M, 16)
    graph = helper.make_graph(nodes, "bf16conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                [None, 16, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 16, None, None])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def bf16_conv_engine(C: int, M: int, hw: int, k: int, stride: int, residual: bool):
    """model()'s network built as a BF16 engine (its convs in the BF16 region)."""
    return int8rt.build_engine(model(C, M, hw, k, stride, residual), int8rt.BuilderConfig(precision="fp32", bf16=True))


def conv_times(runs: list, rounds: int, min_time: float) -> dict:
    """Per run (label, context, feed, ...): the median over `rounds` rounds
    (runs alternated) of each round's median thread-CPU ms of the layers
    named "under_test", profiled for at least `min_time` seconds."""
    times: dict = {label: [] for label, *_ in runs}
    for _ in range(rounds):
        for label, ctx, feed, *_ in runs:
            t_end = time.perf_counter() + min_time
            per = []
            while time.perf_counter() < t_end or not per:
                prof = ctx.profile(feed, runs=3, clock="thread_cpu")
                per.append(sum(p["ms"] for p in prof if "under_test" in p["name"]))
            times[label].append(float(np.median(per)))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--shapes", nargs="+", default=["r50", "mb2"], choices=sorted(SHAPES))
    ap.add_argument("--only", nargs="+", default=None, help="labels containing one of these strings")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(f"int8rt {os.path.dirname(int8rt.__file__)}, batch {args.batch}, 1 thread, {load_line()}")
    shapes = [s for name in args.shapes for s in SHAPES[name] if not args.only or any(o in s[0] for o in args.only)]
    runs, keep = [], []
    for label, C, M, hw, k, stride, res in shapes:
        eng = bf16_conv_engine(C, M, hw, k, stride, res)
        rng = np.random.default_rng(1)
        feed = {"x": rng.standard_normal((args.batch, 16, hw, hw)).astype(np.float32)}
        conv = [la for la in eng.layers() if "under_test" in la["name"]]
        ctx = eng.create_execution_context()
        keep.append(eng)
        runs.append((label, ctx, feed, conv[0]["detail"] if conv else "?"))
    times = conv_times(runs, args.rounds, args.min_time)
    print("| conv | kernel | median thread-CPU ms |")
    print("|---|---|---:|")
    for label, _, _, detail in runs:
        print(f"| {label} | {detail} | {np.median(times[label]):.3f} |")
    print(f"end: {load_line()}")


if __name__ == "__main__":
    main()
