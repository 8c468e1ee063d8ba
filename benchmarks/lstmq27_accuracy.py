"""lstmq27: does the INT8 LSTM change (RESULTS.md §277) cost sequencer2d_s accuracy?

Each int8rt engine given (``--engine TAG=PATH``, saved int8rt INT8 builds of nets20's sequencer2d_s) and,
with ``--ov``, OpenVINO's NNCF INT8 model (speed23_nets20_latency.py's ``.ov.xml``) run on 32 held-out inputs
(seed 1, 4 batches of 8) against int8rt FP32 built from the ONNX file by the running tree: centred cosine and
top-1 agreement on the inputs whose FP32 top-1 is not the most common (newnets_bench's metrics, as
speed23_accuracy_check.py). Run it once per tree (main's code for main's engine, this branch's for its own).

Usage (repo root): PYTHONPATH=python python benchmarks/lstmq27_accuracy.py --onnx /tmp/lstmq27/models/sequencer2d_s.onnx \
    --engine after=/tmp/lstmq27/engines/seq_after.i8rt [--ov /tmp/lstmq27/engines/sequencer2d_s.ov.xml]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", default="/tmp/lstmq27/models/sequencer2d_s.onnx")
    ap.add_argument("--engine", action="append", default=[], help="TAG=PATH of a saved int8rt engine")
    ap.add_argument("--ov", default=None, help="OpenVINO INT8 model (.xml)")
    args = ap.parse_args()
    import int8rt
    from newnets_bench import centred_cosine, top1_varying
    from realnets import new_families2  # noqa: F401 - adds the nets to new_models.NETS
    from realnets import new_models as M

    int8rt.set_num_threads(1)
    print(machine_line())
    net = M.NETS["sequencer2d_s"]
    feeds = net.feeds(32, 1)
    batches = [{k: np.ascontiguousarray(v[i:i + 8]) for k, v in feeds.items()} for i in range(0, 32, 8)]

    def run_all(run) -> np.ndarray:
        return np.concatenate([run(b) for b in batches])

    fp32 = int8rt.build_engine(args.onnx, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    ref = run_all(lambda b: fp32.run(b)["out"])
    outs = {}
    for spec in args.engine:
        tag, path = spec.split("=", 1)
        ctx = int8rt.Engine.load(path).create_execution_context()
        outs[f"int8rt {tag}"] = run_all(lambda b: ctx.run(b)["out"])
    if args.ov:
        import openvino as ov
        model = ov.Core().read_model(args.ov)
        name = model.inputs[0].get_any_name()
        model.reshape({name: ov.PartialShape(list(batches[0][name].shape))})
        compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": 1})
        outs["OV int8"] = run_all(lambda b: np.asarray(compiled(b)[0]))
    for tag, out in outs.items():
        top, n = top1_varying(out, ref)
        print(f"sequencer2d_s {tag:18s} ccos {centred_cosine(out, ref):.5f}  top-1 (varying) {top:.3f} ({n})",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
