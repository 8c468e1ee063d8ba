"""resmlp27: accuracy of resmlp_12's INT8 engines before / after fold_input_affine (RESULTS.md §286).

Loads the INT8 engines saved by speed23_nets20_latency.py (``--save``) for main's build ("before") and this
branch's ("after"; kernels chosen again at load), builds this tree's FP32 engine, and compares each with ONNX
Runtime FP32 on held-out inputs (realnets' feeds, seed 1, never used by the calibration, which used seed 5):
centred cosine (int8rt.accuracy.metrics), relative L2, top-1 agreement; for FP32 also the max relative error
(the import check, which the fold changes by reassociation only). Also lists the float32 layers of each engine.

timm's initial Affine (alpha 1, beta 0) makes the random-weight export's norms identities, so ``--variant OUT``
writes the model with every Affine's alpha / beta and LayerScale gamma drawn per channel (seed 3; alpha and gamma
in +-[0.5, 1.5] and [0.05, 0.3], beta in [-0.3, 0.3]), and ``--build OUT`` builds and saves --model's INT8 engine
as speed23_nets20_latency.py does (calibration feeds seed 5, 16 inputs, ``auto``), under whichever tree
PYTHONPATH names: the "before" engine with main's tree, the "after" with this branch's.

Usage (repo root): PYTHONPATH=python python benchmarks/resmlp27_accuracy.py --model M.onnx --variant V.onnx
       PYTHONPATH=TREE/python python benchmarks/resmlp27_accuracy.py --model V.onnx --build V.i8rt
       PYTHONPATH=python python benchmarks/resmlp27_accuracy.py \
    --model /tmp/resmlp27/models/resmlp_12.onnx --before /tmp/resmlp27/base_engines/resmlp_12.i8rt \
    --after /tmp/resmlp27/engines/resmlp_12.i8rt [--n 32]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def write_variant(model: str, out: str) -> None:
    """The model with its Affine / LayerScale constants (shared by the exporter, all equal) made one per node."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(model)
    inits = {i.name: i for i in m.graph.initializer}
    rng = np.random.default_rng(3)
    for node in m.graph.node:
        if node.op_type not in ("Mul", "Add"):
            continue
        for j, name in enumerate(node.input):
            if name not in inits or not (name == "tmp" or name.endswith(("norm1.beta", ".ls1"))):
                continue
            shape = numpy_helper.to_array(inits[name]).shape
            if name == "tmp":
                v = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
            elif name.endswith(".ls1"):
                v = rng.uniform(0.05, 0.3, shape)
            else:
                v = rng.uniform(-0.3, 0.3, shape)
            fresh = f"{name}_{node.name}"
            m.graph.initializer.append(numpy_helper.from_array(v.astype(np.float32), fresh))
            node.input[j] = fresh
    onnx.save(m, out, save_as_external_data=True, location=os.path.basename(out) + ".data")


def build(model: str, out: str) -> None:
    import int8rt
    from int8rt.data_calibrator import make_calibrator
    from realnets import new_models as M

    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = make_calibrator(M.NETS["resmlp_12"].feeds(16, 5), algorithm="auto", batch_size=8)
    int8rt.build_engine(model, config).save(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--before")
    ap.add_argument("--after")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--variant", help="write the model with drawn Affine / LayerScale constants here and stop")
    ap.add_argument("--build", help="build --model's INT8 engine, save it here and stop")
    args = ap.parse_args()
    import onnxruntime as ort  # noqa: F401 - before int8rt, as the other sweeps do

    import int8rt
    from int8rt.accuracy import metrics
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    if args.variant:
        write_variant(args.model, args.variant)
        return 0
    if args.build:
        build(args.model, args.build)
        return 0

    print(machine_line())
    feeds = M.NETS["resmlp_12"].feeds(args.n, 1)
    ref = M.ort_session(args.model).run(None, feeds)[0]
    fp32 = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32"))
    out = {"int8rt fp32 (this tree)": fp32.run(feeds)}
    engines = {}
    for label, path in (("int8 before", args.before), ("int8 after", args.after)):
        engines[label] = int8rt.Engine.load(path)
        out[label] = engines[label].run(feeds)
    print(f"{args.model}, {args.n} held-out inputs (seed 1), against ONNX Runtime FP32")
    print(f"{'engine':26s} {'centred cos':>12s} {'rel L2':>9s} {'top-1':>7s} {'max rel err':>12s}")
    for label, o in out.items():
        got = next(iter(o.values()))
        rel = float(np.abs(got - ref).max() / np.abs(ref).max())
        top1 = float(np.mean(got.argmax(-1) == ref.argmax(-1)))
        print(f"{label:26s} {metrics.centred_cosine(ref, got):12.6f} {metrics.relative_l2(ref, got):9.5f} "
              f"{top1:7.3f} {rel:12.2e}")
    for label, e in engines.items():
        kinds = collections.Counter((layer["op"], layer["precision"]) for layer in e.layers()
                                    if layer["precision"] != "int8")
        print(f"{label}: {len(e.layers())} layers; not int8: " +
              ", ".join(f"{op} {prec} x{n}" for (op, prec), n in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
