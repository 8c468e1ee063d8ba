"""PP-OCR rec's BF16 channel-blocked convs one shape at a time, under two
int8rt trees (RESULTS.md section 280): per shape bf16conv_layers.py's small
network around the conv under test (16-channel input, 1x1s into and out of
it, so the BF16 region is kept), the conv a 1x1 C -> M or a 5x5 depthwise at
rec's H x W (or a 3x3 depthwise), built with ``bf16=True``; thread-CPU time of the conv under test
(``ExecutionContext.profile``, median of 3 runs per call, MIN_TIME seconds a
shape a round, medians over ROUNDS rounds), 1 thread. The trees' processes
alternated (A, B, A, B, ...: PASSES passes); per shape each tree's ms, its
rate (G multiply-adds a second: a 1x1's C * M * H * W * batch, the
depthwise's kh * kw * C * oh * ow * batch) and B / A.

Usage (from the repository root):
  python3 benchmarks/ocrrec27_layers.py --trees /tmp/ocrrec27/base /work/wt/ocrrec27 [--batch 8]
      [--passes 2] [--rounds 3] [--min-time 0.3] [--only 240->240 ...]
(each tree: a directory whose python/int8rt holds its built extension)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# (label, kind, C, M, H, W, stride (h, w)): rec's 1x1s, 3x3 and 5x5 depthwise convs (PP-OCRv4 rec at 48 x 320),
# then EfficientNet-B0's 5x5s
SHAPES = [
    ("1x1 16->32 @24x160", "pw", 16, 32, 24, 160, (1, 1)),
    ("1x1 32->64 @24x160", "pw", 32, 64, 24, 160, (1, 1)),
    ("1x1 64->64 @24x160", "pw", 64, 64, 24, 160, (1, 1)),
    ("1x1 64->128 @12x160", "pw", 64, 128, 12, 160, (1, 1)),
    ("1x1 128->128 @12x160", "pw", 128, 128, 12, 160, (1, 1)),
    ("1x1 128->240 @12x80", "pw", 128, 240, 12, 80, (1, 1)),
    ("1x1 240->240 @12x80", "pw", 240, 240, 12, 80, (1, 1)),
    ("1x1 240->480 @6x80", "pw", 240, 480, 6, 80, (1, 1)),
    ("1x1 480->480 @6x80", "pw", 480, 480, 6, 80, (1, 1)),
    ("1x1 480->480 @3x80", "pw", 480, 480, 3, 80, (1, 1)),
    ("dw3x3 32 @24x160", "dw3", 32, 32, 24, 160, (1, 1)),
    ("dw3x3 64 @24x160", "dw3", 64, 64, 24, 160, (1, 1)),
    ("dw3x3/2,1 64 @24x160", "dw3", 64, 64, 24, 160, (2, 1)),
    ("dw3x3 128 @12x160", "dw3", 128, 128, 12, 160, (1, 1)),
    ("dw3x3/1,2 128 @12x160", "dw3", 128, 128, 12, 160, (1, 2)),
    ("dw5x5 240 @12x80", "dw", 240, 240, 12, 80, (1, 1)),
    ("dw5x5/2,1 240 @12x80", "dw", 240, 240, 12, 80, (2, 1)),
    ("dw5x5 480 @6x80", "dw", 480, 480, 6, 80, (1, 1)),
    ("dw5x5/2,1 480 @6x80", "dw", 480, 480, 6, 80, (2, 1)),
    ("dw5x5 480 @3x80", "dw", 480, 480, 3, 80, (1, 1)),
    # EfficientNet-B0's 5 x 5 depthwise convs (MobileNetV3's are alike): the ring on square planes, stride 2 too
    ("effb0 dw5x5/2 144 @56x56", "dw", 144, 144, 56, 56, (2, 2)),
    ("effb0 dw5x5 240 @28x28", "dw", 240, 240, 28, 28, (1, 1)),
    ("effb0 dw5x5 672 @14x14", "dw", 672, 672, 14, 14, (1, 1)),
    ("effb0 dw5x5/2 672 @14x14", "dw", 672, 672, 14, 14, (2, 2)),
    ("effb0 dw5x5 1152 @7x7", "dw", 1152, 1152, 7, 7, (1, 1)),
]


def model(kind: str, C: int, M: int, H: int, W: int, stride: tuple) -> bytes:
    """x (16 channels, H x W) -> 1x1 16 -> 16 -> 1x1 16 -> C -> the conv under
    test -> Relu -> 1x1 / 2 M -> 16: the region (two conversions) is kept, and
    the three convs before the strided one are too few for a Bf16ImageChain."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(280)
    inits, nodes = [], []

    def conv(x, y, c_in, c_out, k=1, group=1, s=(1, 1), name=None):
        w = (rng.standard_normal((c_out, c_in // group, k, k)) / np.sqrt(c_in // group * k * k)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w_{y}"))
        inits.append(numpy_helper.from_array((rng.standard_normal(c_out) * 0.1).astype(np.float32), f"b_{y}"))
        nodes.append(helper.make_node("Conv", [x, f"w_{y}", f"b_{y}"], [y], kernel_shape=[k, k], strides=list(s),
                                      pads=[k // 2] * 4, group=group, **({"name": name} if name else {})))

    conv("x", "a0", 16, 16)
    conv("a0", "a", 16, C)
    if kind == "pw":
        conv("a", "c", C, M, name="under_test")
    else:
        conv("a", "c", C, C, k=3 if kind == "dw3" else 5, group=C, s=stride, name="under_test")
    nodes.append(helper.make_node("Relu", ["c"], ["z"]))
    conv("z", "y", M, 16, s=(4, 4))  # its plane under the image chain's 28 x 28: no chain, the conv profiled alone
    graph = helper.make_graph(nodes, "ocrrec27", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                [None, 16, H, W])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 16, None, None])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def macs(kind: str, C: int, M: int, H: int, W: int, stride: tuple, batch: int) -> float:
    if kind == "pw":
        return float(C * M * H * W * batch)
    oh, ow = (H - 1) // stride[0] + 1, (W - 1) // stride[1] + 1
    return float((9 if kind == "dw3" else 25) * C * oh * ow * batch)


def child(args) -> None:
    """One tree's process: every shape's conv time, printed as one JSON line."""
    import int8rt
    from bf16conv_layers import conv_times
    int8rt.set_num_threads(1)
    shapes = [s for s in SHAPES if not args.only or any(o in s[0] for o in args.only)]
    runs, keep = [], []
    for label, kind, C, M, H, W, stride in shapes:
        eng = int8rt.build_engine(model(kind, C, M, H, W, stride), int8rt.BuilderConfig(precision="fp32", bf16=True))
        feed = {"x": np.random.default_rng(1).standard_normal((args.batch, 16, H, W)).astype(np.float32)}
        keep.append(eng)
        detail = [la["detail"] for la in eng.layers() if "under_test" in la["name"]]
        runs.append((label, eng.create_execution_context(), feed, detail[0] if detail else "?"))
    times = conv_times(runs, args.rounds, args.min_time)
    print(json.dumps({label: [float(np.median(times[label])), detail] for label, _, _, detail in runs}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs=2, default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--only", nargs="+", default=None, help="labels containing one of these strings")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    from bench_util import load_line, machine_line
    print("command: python3 " + " ".join(sys.argv))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine_line()}; {load_line()}")
    a, b = args.trees
    shapes = {s[0]: s for s in SHAPES}
    for p in range(args.passes):
        res = {}
        for t in (a, b):
            env = dict(os.environ, PYTHONPATH=os.path.join(t, "python"))
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--batch", str(args.batch),
                   "--rounds", str(args.rounds), "--min-time", str(args.min_time)]
            if args.only:
                cmd += ["--only", *args.only]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            res[t] = json.loads(out.strip().splitlines()[-1])
        print(f"\npass {p + 1}, batch {args.batch}; {load_line()}")
        print("| conv | A ms | B ms | A GMAC/s | B GMAC/s | B / A | B kernel |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for label in res[a]:
            ta, tb = res[a][label][0], res[b][label][0]
            m = macs(*shapes[label][1:], args.batch)
            print(f"| {label} | {ta:.3f} | {tb:.3f} | {m / ta / 1e6:.1f} | {m / tb / 1e6:.1f} | {tb / ta:.3f} | "
                  f"{res[b][label][1][:60]} |", flush=True)


if __name__ == "__main__":
    main()
