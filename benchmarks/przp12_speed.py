"""acc60: speed of MTCNN's INT8 engines with the folded PReLUs' outputs on
the lower-bounded grid (asymmetric_activations, the default) against the same
build and scales with them symmetric (asymmetric_activations=False),
alternated in one process (a, b, a, b, ...), median wall and process CPU time
per run, one thread (benchmarks/alternated_runs.py).

Usage: PYTHONPATH=python python benchmarks/przp12_speed.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl [--nets pnet,onet] [--batches 1,16] [--reps 200]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alternated_runs  # noqa: E402


def engines(wheel: str, net: str) -> tuple[object, object, np.ndarray]:
    """(bounded engine, symmetric engine, evaluation crops): minmax on draw 1's calibration crops, one cache."""
    import calib15_mtcnn as M
    import int8rt

    x, labels = M.lfw_subset()
    calib, evaluation = M.split(labels, 1)
    xs = M.stage_inputs(x, M.SIZES[net])
    model = M.mtcnn_model(wheel, net)
    cache = os.path.join(tempfile.mkdtemp(), "scales.cache")
    built = []
    for asymmetric in (True, False):
        cal = int8rt.make_calibrator({"x": xs[calib]}, algorithm="minmax", batch_size=16, cache_file=cache)
        built.append(int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                                     asymmetric_activations=asymmetric)))
    return built[0], built[1], xs[evaluation]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--nets", default="pnet,onet")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}; 1 thread; {args.reps} runs each, alternated")
    for net in args.nets.split(","):
        bounded, symmetric, xe = engines(args.wheel, net)
        held = [t.tensor for t in bounded.int8_plan().tensors if t.zero_point != 0]
        print(f"  {net}: {len(held)} tensor(s) with a zero point in the bounded engine")
        for b in (int(v) for v in args.batches.split(",")):
            x = {"x": np.ascontiguousarray(xe[:b])}
            alternated_runs.print_pair(f"{net} batch {b}", (bounded, symmetric), ("bounded", "symmetric"), x, args.reps)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
