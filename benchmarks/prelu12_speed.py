"""acc50: speed of MTCNN's INT8 engines with the PReLU folded into the conv
epilogue against the same build with the PRelus kept in float32 (the plan
before acc50: QConv -> Dequantize -> PRelu -> MaxPool -> Quantize, through
``BuilderConfig(layer_precisions={prelu: "fp32"})``), alternated in one
process (a, b, a, b, ...), median wall and process CPU time per run; and the
output bytes of networks without a PReLU, to compare between two builds
(``--save`` / ``--compare``).

Usage:
  PYTHONPATH=python python benchmarks/prelu12_speed.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl [--batches 1,16] [--reps 200]
  PYTHONPATH=<build>/python python benchmarks/prelu12_speed.py --bytes out.npz   # minmax INT8 outputs of the no-PReLU nets
  python benchmarks/prelu12_speed.py --compare a.npz b.npz
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alternated_runs  # noqa: E402


def engines(wheel: str, net: str):
    """(folded engine, float-PReLU engine, input images): minmax on draw 1's calibration crops."""
    import onnx

    import calib15_mtcnn as M
    import int8rt

    x, labels = M.lfw_subset()
    calib, evaluation = M.split(labels, 1)
    xs = M.stage_inputs(x, M.SIZES[net])
    model = M.mtcnn_model(wheel, net)
    prelus = {n.name: "fp32" for n in onnx.load_from_string(model).graph.node if n.op_type == "PRelu"}
    built = []
    for kept in (None, prelus):
        cal = int8rt.make_calibrator({"x": xs[calib]}, algorithm="minmax", batch_size=16)
        built.append(int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False,
                                                                     layer_precisions=kept)))
    return built[0], built[1], xs[evaluation]


def speed(wheel: str, nets: list[str], batches: list[int], reps: int) -> None:
    import int8rt

    int8rt.set_num_threads(1)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}; 1 thread; {reps} runs each, alternated")
    for net in nets:
        folded, kept, xe = engines(wheel, net)
        for l in folded.layers():
            if "PReLU" in l["detail"]:
                print(f"  {net} {l['name']}: {l['detail']}")
        for b in batches:
            x = {"x": np.ascontiguousarray(xe[:b])}
            alternated_runs.print_pair(f"{net} batch {b}", (folded, kept), ("folded", "float PReLU"), x, reps)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]}")


def save_bytes(path: str) -> None:
    """minmax INT8 outputs of networks without a PReLU (tests/onnx_models.py's
    conv / ResNet blocks, accuracy_bench's digits CNN and collapse CNN)."""
    import accuracy_bench as AB

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
    import onnx_models as OM

    rng = np.random.default_rng(7)
    tasks = {}
    for key, task in (("digits", AB.digits_task()), ("collapse", AB.collapse_task())):
        tasks[key] = (task["model"], task["calib"][:64], task["eval"][:64])
    for i, relu in enumerate((False, True)):
        m = OM.resnet_block(np.random.default_rng(3 + i), relu_after_pointwise=relu)
        shape = [d.dim_value or 2 for d in m.graph.input[0].type.tensor_type.shape.dim]
        tasks[f"resnet_block_{int(relu)}"] = (m.SerializeToString(), rng.standard_normal([32] + shape[1:]).astype(np.float32),
                                              rng.standard_normal([8] + shape[1:]).astype(np.float32))
    out = {}
    for key, (model, xc, xe) in tasks.items():
        engine, _, _ = AB.int8rt_build(model, xc, "minmax", check=False)
        res = engine.run({AB.E._input_name(model): xe})
        for k, v in res.items():
            out[f"{key}:{k}"] = v
        print(key, {k: v.shape for k, v in res.items()})
    np.savez(path, **out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel")
    ap.add_argument("--nets", default="pnet,onet")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--bytes")
    ap.add_argument("--compare", nargs=2)
    args = ap.parse_args()
    if args.compare:
        a, b = (np.load(p) for p in args.compare)
        same = sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
        for k in a.files:
            print(k, "same bytes" if k in b.files and np.array_equal(a[k], b[k]) else "DIFFERENT")
        return 0 if same else 1
    if args.bytes:
        save_bytes(args.bytes)
        return 0
    speed(args.wheel, args.nets.split(","), [int(b) for b in args.batches.split(",")], args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
