"""acc54: speed of MTCNN RNet / ONet's INT8 engines with the head Gemm writing
float32 (this build) against the engines another build made (its head Gemm
writing int8, then an int8 Flatten and a Dequantize), both run by this build
in one process, alternated (a, b, a, b, ...): median wall and process CPU
time per run, one thread. The other build's engines travel as engine files
(the lowered graph is in the file, so this build runs that build's plan).

Usage:
  PYTHONPATH=<base build>/python python benchmarks/gemmprelu12_speed.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl --save DIR
  PYTHONPATH=python python benchmarks/gemmprelu12_speed.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl --base DIR [--reps 300]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import alternated_runs  # noqa: E402
import calib15_mtcnn as M  # noqa: E402


def build(wheel: str, net: str):
    """(minmax INT8 engine on draw 1's calibration crops, the evaluation crops)."""
    import int8rt

    x, labels = M.lfw_subset()
    calib, evaluation = M.split(labels, 1)
    xs = M.stage_inputs(x, M.SIZES[net])
    cal = int8rt.make_calibrator({"x": xs[calib]}, algorithm="minmax", batch_size=16)
    engine = int8rt.build_engine(M.mtcnn_model(wheel, net), int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))
    return engine, xs[evaluation]


def compare(wheel: str, base: str, nets: list[str], batches: list[int], reps: int) -> None:
    import int8rt

    int8rt.set_num_threads(1)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}; 1 thread; {reps} runs each, alternated")
    for net in nets:
        new, xe = build(wheel, net)
        old = int8rt.Engine.load(os.path.join(base, f"{net}.i8rt"))
        print(f"  {net} head, this build: {[layer['name'] for layer in new.layers()][-3:]}")
        for b in batches:
            x = {"x": np.ascontiguousarray(xe[:b])}
            alternated_runs.print_pair(f"{net} batch {b}", (new, old), ("float head", "int8 head"), x, reps)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--nets", default="rnet,onet")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--save", help="write this build's engines to DIR (the base build)")
    ap.add_argument("--base", help="the base build's engines (--save)")
    args = ap.parse_args()
    nets = args.nets.split(",")
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        for net in nets:
            build(args.wheel, net)[0].save(os.path.join(args.save, f"{net}.i8rt"))
        return 0
    if not args.base:
        ap.error("--save DIR or --base DIR")
    compare(args.wheel, args.base, nets, [int(b) for b in args.batches.split(",")], args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
