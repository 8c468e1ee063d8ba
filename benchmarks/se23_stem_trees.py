"""The BF16 stem reading the float image on AVX512-BF16 (RESULTS.md section
268), two int8rt trees against each other on MobileNetV3's first layers:
x [N, 3, 224, 224] -> 3x3 / 2 conv 3 -> 16 + HardSwish -> depthwise 3x3
16 + Relu -> 1x1 16 -> 16 -> 1x1 16 -> 64 + Relu -> GlobalAveragePool (a
BF16 channel-blocked region whose four convs form an image chain, the
output a few bytes so the exit conversion costs nothing). Tree A converts
the image at the region's entry (int8rt.ToBf16x16c), tree B's stem reads it
(the entry dropped). Each tree's process builds the engine and times
engine runs per batch (process CPU, median of ROUNDS rounds of at least
MIN_TIME s), 1 thread; the trees' processes alternate (A, B, A, B, ...),
PASSES of each; prints every process's medians, then B / A per pass.

Usage (from the repository root; each tree a directory whose python/int8rt holds its build):
  python3 benchmarks/se23_stem_trees.py --trees /tmp/se23/se_only /tmp/se23/final [--batches 1 8]
      [--passes 3] [--rounds 7] [--min-time 0.3]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def stem_model() -> bytes:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(268)
    inits, nodes = [], []

    def conv(x, y, c_in, c_out, k, s=1, group=1, act=None):
        w = rng.standard_normal((c_out, c_in // group, k, k)) * (1.5 / np.sqrt(c_in // group * k * k))
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"w_{y}"))
        inits.append(numpy_helper.from_array((rng.standard_normal(c_out) * 0.2).astype(np.float32), f"b_{y}"))
        nodes.append(helper.make_node("Conv", [x, f"w_{y}", f"b_{y}"], [f"{y}_c" if act else y], kernel_shape=[k, k],
                                      strides=[s, s], pads=[k // 2] * 4, group=group))
        if act:
            nodes.append(helper.make_node(act, [f"{y}_c"], [y]))

    conv("x", "s", 3, 16, 3, 2, act="HardSwish")
    conv("s", "d", 16, 16, 3, group=16, act="Relu")
    conv("d", "p", 16, 16, 1)
    conv("p", "e", 16, 64, 1, act="Relu")
    nodes.append(helper.make_node("GlobalAveragePool", ["e"], ["y"]))
    graph = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 64, 1, 1])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def child(args: argparse.Namespace) -> None:
    import tempfile

    import numpy as np

    sys.path.insert(0, str(HERE))
    import int8rt
    from bench_util import time_alternating

    int8rt.set_num_threads(1)
    path = Path(tempfile.mkdtemp()) / "stem.onnx"
    path.write_bytes(stem_model())
    engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    ops = [la["op"] for la in engine.layers()]
    print(f"layers: {', '.join(ops)}; entry dropped: {any('entry conversion' in r for r in engine.report())}")
    ctx = engine.create_execution_context()
    for batch in args.batches:
        x = np.random.default_rng(batch).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        med = time_alternating({"run": lambda: ctx.run({"x": x})}, args.rounds, args.min_time, clock=time.process_time)
        print(f"batch {batch}: {med['run'] * 1e3:.4f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs=2, metavar=("A", "B"))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    sys.path.insert(0, str(HERE))
    from bench_util import load_line, machine_line

    print(machine_line())
    times = {}  # (tree, pass, batch) -> ms
    for p in range(args.passes):
        for tree in args.trees:
            env = dict(os.environ, PYTHONPATH=str(Path(tree) / "python"))
            cmd = [sys.executable, __file__, "--child", "--batches", *map(str, args.batches), "--rounds",
                   str(args.rounds), "--min-time", str(args.min_time)]
            out = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True, text=True, check=True).stdout
            print(f"--- tree {tree}, pass {p + 1}; {load_line()}\n{out}", end="", flush=True)
            for line in out.splitlines():
                if line.startswith("batch "):
                    b, ms = line[6:].split(": ")
                    times[(tree, p, int(b))] = float(ms.split()[0])
    a, b = args.trees
    print(f"\nA = {a}, B = {b}; {load_line()}")
    print("| batch | A ms (passes) | B ms (passes) | B / A (passes) |\n|---:|---|---|---|")
    for batch in args.batches:
        ta = [times[(a, p, batch)] for p in range(args.passes)]
        tb = [times[(b, p, batch)] for p in range(args.passes)]
        print(f"| {batch} | {', '.join(f'{v:.3f}' for v in ta)} | {', '.join(f'{v:.3f}' for v in tb)} | "
              f"{', '.join(f'{y / x:.3f}' for x, y in zip(ta, tb))} |")


if __name__ == "__main__":
    main()
