"""Pre-quantized QDQ models (issue 11; csrc/engine/lower_int8_qdq.cc): the
ResNet-18-like and MobileNetV2-like networks of e2e_models.py (random
weights, nothing downloaded), exported by torch.onnx, then ONNX Runtime's
``quant_pre_process`` and ``quantize_static`` (QDQ format, its defaults:
int8 activations with zero points, per-channel int8 weights) or NNCF's
``nncf.quantize`` (its defaults) on 8 random calibration images. The same QDQ file is run by int8rt (INT8 build with no
calibrator: the model's scales) and by ONNX Runtime, which fuses its Q/DQ
into QLinearConv and friends.

Reported per network: the int8rt layers left in float32, the agreement with
ONNX Runtime in output quantization steps (and that of ONNX Runtime with
graph optimizations off, which runs the Q/DQ nodes literally as the ONNX
spec writes them, as a yardstick for how much two faithful runs of the
model differ), and the median latency at batch 1 and 8, both runtimes in
one process, alternating (bench_util.time_alternating).

Usage (from /tmp, not the repo root):
    PYTHONPATH=<repo>/python python <repo>/benchmarks/qdq_prequantized_bench.py [--threads 1] [--rounds 30]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "realnets"))
from bench_util import load_line, time_alternating  # noqa: E402
from e2e_models import make_model  # noqa: E402

import int8rt  # noqa: E402


def quantized_model(name: str, tmp: Path, tool: str = "ort") -> bytes:
    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.it = iter([{"x": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)} for _ in range(8)])

        def get_next(self):  # noqa: ANN201
            return next(self.it, None)

    f, pre, qdq = tmp / f"{name}.onnx", tmp / f"{name}_pre.onnx", tmp / f"{name}_qdq.onnx"
    torch.onnx.export(make_model(name).eval(), torch.randn(1, 3, 224, 224), str(f), input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=17, dynamo=False)
    if tool == "nncf":  # NNCF's defaults (symmetric int8 weights and activations, uint8 after ReLU)
        import nncf
        rng = np.random.default_rng(0)
        data = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(8)]
        return nncf.quantize(onnx.load(str(f)), nncf.Dataset(data, lambda x: {"x": x}),
                             subset_size=8).SerializeToString()
    quant_pre_process(str(f), str(pre))
    quantize_static(str(pre), str(qdq), Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    return qdq.read_bytes()


def ort_session(model: bytes, threads: int, optimize: bool = True):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def output_scale(model: bytes) -> float:
    m = onnx.load_from_string(model)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    dq = next((n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == "y"), None)
    return float(inits[dq.input[1]]) if dq is not None else float("nan")  # NNCF leaves the logits float


def steps_line(a: np.ndarray, b: np.ndarray, step: float) -> str:
    top1 = f"top-1 agreement {np.mean(a.argmax(1) == b.argmax(1)) * 100:.0f}%"
    if step != step:  # no output step: relative L2
        return f"rel L2 {np.linalg.norm(a - b) / np.linalg.norm(b):.2e}, {top1}"
    d = np.abs(a - b) / step
    return f"max {d.max():.2f} steps, mean {d.mean():.3f}, equal {np.mean(d < 1e-3) * 100:.1f}%, {top1}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--nets", default="resnet18,mobilenet_v2")
    ap.add_argument("--tools", default="ort,nncf", help="quantizers: ort (quantize_static), nncf")
    args = ap.parse_args()
    int8rt.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        for tool, name in [(t, n) for t in args.tools.split(",") for n in args.nets.split(",")]:
            model = quantized_model(name, Path(d), tool)
            engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="int8"))
            floats = [line for line in engine.report() if "stays float32" in line]
            ops = [layer["op"] for layer in engine.layers()]
            print(f"\n{name} ({'ORT quantize_static' if tool == 'ort' else 'NNCF'} QDQ): {sum(o.startswith('int8rt.Q') for o in ops)} int8 layers, "
                  f"{len(floats)} float32: {[f.split(chr(39))[1] for f in floats]}")
            ctx = engine.create_execution_context()
            sess, literal = ort_session(model, args.threads), ort_session(model, args.threads, optimize=False)
            x8 = np.random.default_rng(5).standard_normal((8, 3, 224, 224)).astype(np.float32)
            ours, theirs, spec = ctx.run({"x": x8})["y"], sess.run(None, {"x": x8})[0], literal.run(None, {"x": x8})[0]
            step = output_scale(model)
            print(f"  int8rt vs ORT:                   {steps_line(ours, theirs, step)}")
            print(f"  ORT vs ORT unoptimized (spec):   {steps_line(theirs, spec, step)}")
            print(f"  int8rt vs ORT unoptimized:       {steps_line(ours, spec, step)}")
            for batch in (1, 8):
                x = np.ascontiguousarray(x8[:batch])
                med = time_alternating({"int8rt": lambda: ctx.run({"x": x}),
                                        "ORT": lambda: sess.run(None, {"x": x})}, args.rounds, min_time=1.0)
                print(f"  batch {batch}, {args.threads} thread(s) ({load_line()}): int8rt {med['int8rt'] * 1e3:.2f} ms, "
                      f"ORT {med['ORT'] * 1e3:.2f} ms, ORT / int8rt = {med['ORT'] / med['int8rt']:.2f}x")


if __name__ == "__main__":
    main()
