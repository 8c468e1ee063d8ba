"""A conv's int8 output read by a ReLU table: what its threshold does when
the ReLU's own threshold is lower (issue 12; benchmarks/RESULTS_accuracy.md,
acc43, section 2). Silero VAD's first encoder conv is a Conv1d that the
importer runs as a Conv2d between an Unsqueeze and a Squeeze, so its ReLU
is not fused and runs as an int8 table (int8rt.QLut) on the conv's int8
output. This toy (Conv1d 4 -> 8, k 3, ReLU, Conv1d 8 -> 4, k 1; seeded
random weights, 16 random inputs) is built from minmax's TensorRT cache with
the conv output's (``c`` and its 2-D copy ``c_2d``) and the ReLU output's
thresholds scaled, and scored by the relative L2 of the output against FP32.

    PYTHONPATH=python python benchmarks/acc43_relu_table_toy.py
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np


def main() -> int:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import int8rt
    from int8rt.calib.cache import read_cache, write_cache

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((8, 4, 3)).astype(np.float32), "W1"),
               numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b1"),
               numpy_helper.from_array(rng.standard_normal((4, 8, 1)).astype(np.float32), "W2")]
    graph = helper.make_graph([helper.make_node("Conv", ["x", "W1", "b1"], ["c"], pads=[1, 1]),
                               helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Conv", ["r", "W2"], ["y"])],
                              "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4, 32])], weights)
    x = rng.standard_normal((16, 4, 32)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path, cache = os.path.join(folder, "toy.onnx"), os.path.join(folder, "toy.cache")
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)

        def run(engine) -> np.ndarray:
            return np.concatenate([engine.run({"x": x[i:i + 4]})["y"] for i in range(0, len(x), 4)])

        def built() -> np.ndarray:
            calibrator = int8rt.make_calibrator({"x": x}, algorithm="minmax", batch_size=4, cache_file=cache)
            return run(int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False)))

        ref = run(int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")))
        built()
        base = read_cache(open(cache, "rb").read())[2]
        print("| ReLU output threshold / its maximum | conv output threshold / the ReLU's | relative L2 |\n|---|---|---|")
        for relu in (1.0, 0.4):
            for conv in (0.3, 0.6, 1.0, 1.6, 4.0):
                scales = dict(base)
                scales["r"] = scales["r_2d"] = base["r"] * relu
                scales["c"] = scales["c_2d"] = base["r"] * relu * conv
                with open(cache, "wb") as f:
                    f.write(write_cache(scales, "minmax"))
                got = built()
                print(f"| {relu:g} | {conv:g} | {np.linalg.norm(got - ref) / np.linalg.norm(ref):.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
