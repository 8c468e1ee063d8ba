"""The squeeze-and-excitation FC convs in BF16 (RESULTS.md section 268):
int8rt's 1x1 conv over one-pixel images as one GEMM over the batch
(engine/ops/conv_f32_pixels_bf16.cc; the FC pair's input declared
[N, C, 1, 1], as after a GlobalAveragePool) against the per-image path it
replaces (the same model with the input's H, W dynamic: one one-column GEMM
per image) and OpenVINO bf16 (compiled for the timed static shape), all
three alternated call by call in one process (bench_util.time_alternating,
process CPU, medians), 1 thread. Each model is the pair C -> R (+ bias,
Relu) -> C (+ bias) of MobileNetV3-Large's SE blocks (72 -> 24 .. 960 ->
240) and EfficientNet-B0's (96 -> 4, 1152 -> 48). Prints per shape and
batch the three medians and the ratios per image / batch and OV / batch,
and checks that the two int8rt paths give the same bytes.

Usage: PYTHONPATH=python python benchmarks/se23_se_fc.py [--batches 1 8] [--rounds 7] [--min-time 0.2]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
import e2e_feeds as F  # noqa: E402
from bench_util import load_line, machine_line, time_alternating  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402

SHAPES = [(72, 24), (120, 32), (480, 120), (672, 168), (960, 240), (96, 4), (1152, 48)]


def fc_pair(c: int, r: int, spatial: list) -> bytes:
    """p [N, c, *spatial] -> 1x1 conv c -> r + bias, Relu -> 1x1 conv r -> c + bias = y (random weights)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(c * 31 + r)
    f32 = np.float32
    inits = [numpy_helper.from_array((rng.standard_normal((r, c, 1, 1)) / np.sqrt(c)).astype(f32), "w1"),
             numpy_helper.from_array((rng.standard_normal(r) * 0.3).astype(f32), "b1"),
             numpy_helper.from_array((rng.standard_normal((c, r, 1, 1)) / np.sqrt(r)).astype(f32), "w2"),
             numpy_helper.from_array((rng.standard_normal(c) * 0.3).astype(f32), "b2")]
    nodes = [helper.make_node("Conv", ["p", "w1", "b1"], ["h0"], kernel_shape=[1, 1]),
             helper.make_node("Relu", ["h0"], ["h"]),
             helper.make_node("Conv", ["h", "w2", "b2"], ["y"], kernel_shape=[1, 1])]
    graph = helper.make_graph(nodes, "se_fc", [helper.make_tensor_value_info("p", TensorProto.FLOAT,
                                                                             [None, c, *spatial])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, c, *spatial])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def build(path: Path):
    with contextlib.redirect_stdout(io.StringIO()):
        return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.2)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    print(f"int8rt {os.path.dirname(int8rt.__file__)}; {O.versions()}; {load_line()}")
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for c, r in SHAPES:
        paths = {}
        for kind, spatial in (("batch", [1, 1]), ("per_image", [None, None])):
            paths[kind] = tmp / f"se_{c}_{r}_{kind}.onnx"
            paths[kind].write_bytes(fc_pair(c, r, spatial))
        batched, per_image = build(paths["batch"]), build(paths["per_image"])
        assert all("one GEMM over the batch" in la["detail"] for la in batched.layers() if la["op"] == "Conv")
        assert not any("one GEMM over the batch" in la["detail"] for la in per_image.layers())
        ov_model = O.load(str(paths["batch"]))
        for batch in args.batches:
            feed = {"p": np.random.default_rng(batch).standard_normal((batch, c, 1, 1)).astype(np.float32)}
            ours, old = F.int8rt_runner(batched), F.int8rt_runner(per_image)
            ov = F.ov_runner(O.compile_model(F.ov_static(ov_model, feed), 1, "bf16"))
            same = np.array_equal(ours(feed).view(np.uint32), old(feed).view(np.uint32))
            med = time_alternating({"batch": lambda: ours(feed), "per image": lambda: old(feed),
                                    "OV": lambda: ov(feed)}, args.rounds, args.min_time, clock=time.process_time)
            a, b, o = med["batch"], med["per image"], med["OV"]
            row = (f"| {c} -> {r} -> {c} | {batch} | {b * 1e6:.1f} | {a * 1e6:.1f} | {o * 1e6:.1f} | {b / a:.2f} | "
                   f"{o / a:.2f} | {'==' if same else 'DIFFER'} |")
            rows.append(row)
            print(row, flush=True)
    print(f"\n{load_line()}")
    print("| SE FC pair | batch | int8rt per image us | int8rt one GEMM us | OV bf16 us | per image / one GEMM | "
          "OV / one GEMM | bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
