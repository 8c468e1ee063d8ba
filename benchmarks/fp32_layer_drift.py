"""Where int8rt FP32 and ONNX Runtime FP32 part on one input: every node's
output made a graph output (so neither engine fuses it away), both engines
run, and each node's max |int8rt - ORT| / max |ORT| listed in graph order
from the first node whose difference passes ``--from``. For each
GlobalAveragePool on that list, each engine's output is also compared with
the float64 mean of its own input to it: which engine summed closer to the
exact mean.

Written for issue 11's FP32 bound (1e-4 relative) on the PP-OCRv4 detector
at 480x640 (issue11_verify.py), whose output differs by 2.3e-4 there.

    PYTHONPATH=python python benchmarks/fp32_layer_drift.py [--size 480x640] [--from 2e-5]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realnets.new_models import ort_session  # noqa: E402


def every_output(path: str):
    """The model with every node output (but Constant's) as a 4-D float graph
    output, each dimension its own symbol (shared symbols make ONNX Runtime
    re-use buffers of different sizes)."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load(path)
    have = {o.name for o in m.graph.output}
    for n in m.graph.node:
        if n.op_type != "Constant" and n.output[0] not in have:
            m.graph.output.append(helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT,
                                                                [f"{n.output[0]}_{d}" for d in "nchw"]))
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="480x640")
    ap.add_argument("--from", dest="start", type=float, default=2e-5)
    args = ap.parse_args()
    import int8rt
    from accuracy_bench import det_pages
    from realnets.ocr_models import models_dir

    h, w = map(int, args.size.split("x"))
    m = every_output(os.path.join(models_dir(), "ch_PP-OCRv4_det_infer.onnx"))
    x = {"x": det_pages(6, 13, (h, w))[2:3]}  # the page of issue11_verify's evaluation set that differs most
    sess = ort_session(m.SerializeToString())
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, x)))
    ours = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context().run(x)
    started = False
    for n in m.graph.node:
        name = n.output[0]
        if n.op_type == "Constant" or name not in ours or ref[name].dtype != np.float32 or not ref[name].size:
            continue
        rel = float(np.max(np.abs(ours[name] - ref[name])) / max(float(np.max(np.abs(ref[name]))), 1e-30))
        started = started or rel > args.start
        if not started:
            continue
        line = f"{n.op_type:18s} {name:32s} {rel:.2e}  {ref[name].shape}"
        if n.op_type == "GlobalAveragePool" and rel > args.start:
            err = {k: np.max(np.abs(y[name] - y[n.input[0]].astype(np.float64).mean(axis=(2, 3), keepdims=True)))
                   for k, y in (("ORT", ref), ("int8rt", ours))}
            line += f"  each vs the float64 mean of its own input: ORT {err['ORT']:.2e}, int8rt {err['int8rt']:.2e}"
        print(line)


if __name__ == "__main__":
    main()
