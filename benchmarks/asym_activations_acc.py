"""Asymmetric activations (``BuilderConfig(asymmetric_activations=...)``,
docs/numerics.md): int8rt INT8 with and without them, against FP32, on one
network, each calibration method built both ways from the same calibration
inputs (the two builds of a method alternate, off then on). Metrics as
newnets_methods.py prints them (newnets_bench.metrics: centred cosine, top-1
on the varying inputs) against ONNX Runtime FP32.

Networks: the new_models.py exports (levit_128, mobilevit_s,
efficientnet_b0, deit_tiny_distilled; their feeds), or ``mobilenet_v3``
(e2e_models.make_model, random weights, exported with torch.onnx; inputs
standard normal, calibration seed 2, evaluation seed 1).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/asym_activations_acc.py levit_128 \
    --methods minmax,auto --calib-seed 5 [--dir /tmp/newnetsacc/models]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def _mobilenet_v3(path: Path) -> None:
    """Exports e2e_models' random-weight MobileNetV3-Large to `path` (input "x", output "out")."""
    import torch

    from e2e_models import make_model
    model = make_model("mobilenet_v3")
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(path), input_names=["x"], output_names=["out"],
                      dynamic_axes={"x": {0: "n"}, "out": {0: "n"}}, opset_version=17, dynamo=False)


def _centred_cosine(a: np.ndarray, ref: np.ndarray) -> float:
    a = a.reshape(len(a), -1).astype(np.float64)
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    a, ref = a - ref.mean(0), ref - ref.mean(0)
    return float((a * ref).sum() / np.sqrt((a * a).sum() * (ref * ref).sum()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted([*M.NETS, "mobilenet_v3"]))
    ap.add_argument("--methods", default="minmax,auto")
    ap.add_argument("--dir", default="/tmp/newnetsacc/models")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seed", type=int, default=1)
    ap.add_argument("--unsigned", action="store_true", help="also unsigned_activations=True in both builds")
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print(machine_line())
    path = Path(args.dir) / f"{args.name}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    if args.name == "mobilenet_v3":
        if not path.exists():
            _mobilenet_v3(path)
        rng = lambda s: np.random.default_rng(s).standard_normal((args.calib, 3, 224, 224)).astype(np.float32)  # noqa
        calib, evals = {"x": rng(args.calib_seed)}, {"x": rng(args.eval_seed)[:args.eval]}
        metrics: Callable[[np.ndarray, np.ndarray], dict] = lambda o, r: {"centred_cosine": _centred_cosine(o, r)}
        out_name = "out"
    else:
        net = M.NETS[args.name]
        if not path.exists():
            M.export(net, path)
        calib, evals = net.feeds(args.calib, args.calib_seed), net.feeds(args.eval, args.eval_seed)
        metrics = lambda o, r: B.metrics(net, o, r)  # noqa: E731
        out_name = "out"
    sess = M.ort_session(str(path))
    ref = B.run_all(lambda f: sess.run(None, f)[0], evals, 4)
    for algo in args.methods.split(","):
        for asym in (False, True):
            config = int8rt.BuilderConfig(precision="int8", accuracy_check=False, asymmetric_activations=asym,
                                          unsigned_activations=True if args.unsigned else None)
            config.calibrator = make_calibrator(calib, algorithm=algo, batch_size=8)
            t0 = time.perf_counter()
            engine = int8rt.build_engine(str(path), config)
            build_s = time.perf_counter() - t0
            ctx = engine.create_execution_context()
            out = B.run_all(lambda f: ctx.run(f)[out_name], evals, 4)
            held = [t for t in engine.int8_plan().tensors if t.zero_point not in (0, -128)]
            m = metrics(out, ref)
            print(f"{args.name} {algo} asymmetric_activations={asym} (build {build_s:.1f} s, {len(held)} tensors "
                  f"with lo < 0) calibration seed {args.calib_seed} evaluation seed {args.eval_seed}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
