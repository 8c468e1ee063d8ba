"""ResNet-50's 7x7 / 2 stem of 3 channels (224 x 224 -> 112 x 112 x 64) as
a BF16 layer, two trees alternated (RESULTS.md section 253): per tree one
worker process at a time (A, B, A, B, ...), each building stem -> Relu ->
max pool 3x3 / 2 -> 1x1 / 2 64 -> 64 twice -> 1x1 64 -> 16 (one BF16 region)
with ``bf16=True`` and the same network in FP32, and printing the stem's
thread-CPU ms (median of ExecutionContext.profile over MIN_TIME, 1 thread),
the output's error against the FP32 engine's (max |d| / max |y|, rel L2)
and a SHA-256 of the output bytes. Prints each worker's row, then per batch the medians and B / A.

Usage (from the repository root):
  python3 benchmarks/bf16stem21_stem.py --trees /tmp/base <branch> [--passes 4] [--batches 1 8]
      [--min-time 0.5]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def model() -> bytes:
    """x [N, 3, 224, 224] -> the stem (under_test) -> Relu -> MaxPool -> 1x1 / 2
    twice and a 1x1 -> y: four convs, one BF16 region as in ResNet-50, but
    under the image chain's four convs on 28 x 28+ planes, so the stem is
    profiled as its own layer."""
    from onnx import TensorProto, helper

    from bf16conv_layers import add_conv  # here: that module imports int8rt, which only a worker has
    rng = np.random.default_rng(253)
    inits, nodes = [], []

    def conv(x, y, c_in, c_out, k=1, s=1, name=None):
        add_conv(rng, inits, nodes, x, y, c_in, c_out, k, s, name)

    conv("x", "s", 3, 64, 7, 2, name="under_test")
    nodes.append(helper.make_node("Relu", ["s"], ["r"]))
    nodes.append(helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    conv("p", "a", 64, 64, 1, 2)
    conv("a", "b", 64, 64, 1, 2)
    conv("b", "y", 64, 16)
    f = TensorProto.FLOAT
    graph = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", f, [None, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", f, [None, 16, 14, 14])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def worker(batches: list[int], min_time: float) -> None:
    import int8rt
    int8rt.set_num_threads(1)
    onnx = model()
    bf16 = int8rt.build_engine(onnx, int8rt.BuilderConfig(precision="fp32", bf16=True))
    fp32 = int8rt.build_engine(onnx, int8rt.BuilderConfig(precision="fp32"))
    for batch in batches:
        x = np.random.default_rng(batch).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        ctx, ref = bf16.create_execution_context(), fp32.create_execution_context()
        out, want = ctx.run({"x": x}), ref.run({"x": x})
        s, s_ref = np.asarray(out["y"], np.float64), np.asarray(want["y"], np.float64)
        max_rel = np.abs(s - s_ref).max() / np.abs(s_ref).max()
        l2 = np.linalg.norm(s - s_ref) / np.linalg.norm(s_ref)
        digest = hashlib.sha256(np.ascontiguousarray(out["y"]).tobytes()).hexdigest()[:12]
        per, t_end = [], time.perf_counter() + min_time
        while time.perf_counter() < t_end or not per:
            prof = ctx.profile({"x": x}, runs=3, clock="thread_cpu")
            per.append(sum(p["ms"] for p in prof if "under_test" in p["name"]))
        print(f"ROW {batch} {statistics.median(per):.4f} {max_rel:.3e} {l2:.3e} {digest}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs=2, default=None)
    ap.add_argument("--passes", type=int, default=4)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--worker", action="store_true", help="(internal) measure under this PYTHONPATH")
    args = ap.parse_args()
    if args.worker:
        worker(args.batches, args.min_time)
        return
    from bench_util import load_line, machine_line
    print(f"$ python3 benchmarks/bf16stem21_stem.py {' '.join(sys.argv[1:])}\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(machine_line())
    ms: dict = {}
    for p in range(args.passes):
        for label, tree in zip("AB", args.trees):
            env = dict(os.environ, PYTHONPATH=str(Path(tree) / "python"))
            cmd = [sys.executable, str(HERE / "bf16stem21_stem.py"), "--worker", "--batches",
                   *map(str, args.batches), "--min-time", str(args.min_time)]
            out = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                if line.startswith("ROW"):
                    _, b, t, mx, l2, sha = line.split()
                    ms.setdefault((int(b), label), []).append(float(t))
                    print(f"pass {p} {label} ({tree}) batch {b}: stem {t} ms thread CPU, vs FP32 max |d| / max |y| "
                          f"{mx}, rel L2 {l2}, sha {sha}; {load_line()}", flush=True)
    print("\n| batch | A stem ms (median) | B stem ms (median) | B / A (medians) | B / A per pass |")
    print("|---:|---:|---:|---:|---|")
    for b in args.batches:
        a, bb = ms[(b, "A")], ms[(b, "B")]
        per = ", ".join(f"{y / x:.3f}" for x, y in zip(a, bb))
        print(f"| {b} | {statistics.median(a):.3f} | {statistics.median(bb):.3f} | "
              f"{statistics.median(bb) / statistics.median(a):.3f} | {per} |")


if __name__ == "__main__":
    main()
