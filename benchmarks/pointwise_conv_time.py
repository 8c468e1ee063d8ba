"""Thread CPU time of one FP32 1x1 convolution (convmixer_768_32's shape: 768 -> 768 channels on
32 x 32, batch 1) in int8rt, one thread, ``--profiles`` profiles of ``--runs`` runs (medians).
Run it once per build (PYTHONPATH) and alternate the builds: a build-to-build comparison of the
SGEMM blocking (RESULTS_realnets.md, netgaps section, item 1).

Usage (from /tmp): PYTHONPATH=<build>/python python3 <repo>/benchmarks/pointwise_conv_time.py LABEL
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("label")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--profiles", type=int, default=3)
    args = ap.parse_args()
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import int8rt

    int8rt.set_num_threads(1)
    shape = [1, 768, 32, 32]
    w = (np.random.default_rng(1).standard_normal((768, 768, 1, 1)) * 0.03).astype(np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])], "pw",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                          [numpy_helper.from_array(w, "w")])
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "pw.onnx"
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(p))
        ctx = int8rt.build_engine(str(p), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    ms = [ctx.profile({"x": x}, args.runs, clock="thread_cpu")[0]["ms"] for _ in range(args.profiles)]
    print(f"{args.label}: " + ", ".join(f"{m:.1f}" for m in ms) + " ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
