"""Why NNCF's default post-training INT8 collapses on the CRNNs (acc43:
crnn_lstm 0.460 / crnn_gru 0.516 bench metric; benchmarks/RESULTS_accuracy.md,
acc44): which ops NNCF puts a FakeQuantize in front of, then the same
quantization with op types left out (``nncf.IgnoredScope(types=...)``), and
the FP32 and fake-quantized models compiled with OpenVINO's CPU inference
precision forced to f32 (this CPU has AMX-BF16: the plugin's default is bf16).
``--per-conv``: one Convolution at a time left out; ``--emulate``: NNCF's
bounds as Q/DQ pairs in ONNX Runtime; ``--taps``: tensors of the first blocks
made outputs, which keeps OpenVINO from fusing across them (the fused first
conv + ReLU + FakeQuantize is what collapses). Lines and metrics as acc33_crnn_rows.py (32 calibration lines seed 2, 32
evaluation lines seed 1, batches of 4 against ONNX Runtime FP32).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc44_nncf_crnn.py crnn_lstm --dir D
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from acc43_crnn_swap import scores  # noqa: E402
from realnets import new_models as M  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def fq_readers(model) -> collections.Counter:
    """How many FakeQuantize nodes feed each op type (through a Convert / reshape of weights at most)."""
    out: collections.Counter = collections.Counter()
    for op in model.get_ops():
        if op.get_type_name() != "FakeQuantize":
            continue
        for target in op.output(0).get_target_inputs():
            node = target.get_node()
            while node.get_type_name() in ("Convert", "Reshape", "Transpose", "Unsqueeze", "Squeeze"):
                node = next(iter(node.output(0).get_target_inputs())).get_node()
            out[f"{node.get_type_name()} input {target.get_index()}"] += 1
    return out


def emulate(name: str, path: str, ev: M.Feeds, refs: list) -> int:
    """The --emulate rows: ONNX Runtime FP32 with NNCF's bounds (read off its FakeQuantize nodes: the input x at
    0.7512, the first ReLU at 4.3403) as symmetric int8 Q/DQ pairs, and the second conv's weights (cnn.4) per
    output channel int8 (amax / 127), alone and together."""
    import tempfile

    import onnx
    from onnx import numpy_helper

    from acc42_fake_quant import fake_quantized

    with tempfile.TemporaryDirectory() as folder:
        m = onnx.load(path)
        for init in m.graph.initializer:
            if init.name.startswith("onnx::Conv") or "cnn.4" in init.name:
                w = numpy_helper.to_array(init)
                if w.ndim == 4 and w.shape[:2] == (64, 32):
                    s = np.abs(w).reshape(64, -1).max(1)[:, None, None, None] / 127
                    init.CopyFrom(numpy_helper.from_array((np.rint(w / s) * s).astype(np.float32), init.name))
        wq = os.path.join(folder, "wq.onnx")
        onnx.save(m, wq)
        bounds = {"x": 0.7512, "/cnn/cnn.2/Relu_output_0": 4.3403}
        for label, base, tensors in (("x at NNCF's bound", path, ["x"]),
                                     ("first ReLU at NNCF's bound", path, ["/cnn/cnn.2/Relu_output_0"]),
                                     ("cnn.4 weights int8", wq, []),
                                     ("all three", wq, list(bounds))):
            f = fake_quantized(base, bounds, tensors, folder) if tensors else base
            s = M.ort_session(f)
            print(f"{name} ONNX Runtime FP32, {label:28s}: bench metric "
                  f"{scores(lambda b: s.run(None, b)[0], ev, refs)[0]:.5f}", flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=("crnn_lstm", "crnn_gru"))
    ap.add_argument("--dir", default="/tmp/acc43/models")
    ap.add_argument("--per-conv", action="store_true", help="instead: NNCF with one Convolution at a time left out "
                    "(by name), and with only the network input's FakeQuantize left out")
    ap.add_argument("--emulate", action="store_true", help="instead: NNCF's ranges emulated in ONNX Runtime FP32 "
                    "(acc42_fake_quant's Q/DQ pairs, symmetric int8 at NNCF's bound) on the network input and the "
                    "first ReLU, with and without the second conv's weights per-channel int8")
    ap.add_argument("--taps", action="store_true", help="instead: NNCF's model with tensors of the first blocks "
                    "added as outputs (which breaks OpenVINO's fusions there), each tap alone and all together")
    args = ap.parse_args()
    import nncf

    net, model = M.exported(args.name, args.dir)
    path, calib, ev = str(model), net.feeds(32, 2), net.feeds(32, 1)
    refs = [M.ort_session(path).run(None, b)[0] for b in B._batches(ev, 4)]
    items = list(B._batches(calib, 1))
    rnn = "LSTMSequence" if args.name == "crnn_lstm" else "GRUSequence"

    def run(ov_model, precision=None):
        compiled = O.compile_model(ov_model, 1, precision)
        return lambda f: compiled(f)[0]

    if args.emulate:
        return emulate(args.name, path, ev, refs)
    fp32 = O.load(path)
    if args.taps:
        taps = ["/cnn/cnn.2/Relu", "/cnn/cnn.3/MaxPool", "/cnn/cnn.6/Relu", "/cnn/cnn.10/Relu"]
        for chosen in [[t] for t in taps] + [taps]:
            q = O.nncf_int8(path, items)[0]
            ops = {op.get_friendly_name(): op for op in q.get_ops()}
            q.add_outputs([ops[t].output(0) for t in chosen])
            print(f"{args.name} NNCF with {' + '.join(chosen)} as outputs: bench metric "
                  f"{scores(run(q), ev, refs)[0]:.5f}", flush=True)
        return 0
    if args.per_conv:
        convs = [op.get_friendly_name() for op in fp32.get_ops() if op.get_type_name() == "Convolution"]
        for c in convs:
            q = O.nncf_int8(path, items, ignored_scope=nncf.IgnoredScope(names=[c]))[0]
            print(f"{args.name} NNCF without {c:28s}: bench metric {scores(run(q), ev, refs)[0]:.5f}", flush=True)
        q = O.nncf_int8(path, items, preset=nncf.QuantizationPreset.MIXED)[0]
        print(f"{args.name} NNCF preset MIXED (asymmetric activations): bench metric {scores(run(q), ev, refs)[0]:.5f}",
              flush=True)
        return 0
    print(f"{args.name} OpenVINO FP32, default precision / f32: "
          f"{scores(run(fp32), ev, refs)[0]:.5f} / {scores(run(fp32, 'f32'), ev, refs)[0]:.5f}", flush=True)
    q = O.nncf_int8(path, items)[0]
    print(f"{args.name} NNCF FakeQuantize readers: {dict(fq_readers(q))}", flush=True)
    print(f"{args.name} NNCF default, default precision / f32: "
          f"{scores(run(q), ev, refs)[0]:.5f} / {scores(run(q, 'f32'), ev, refs)[0]:.5f}", flush=True)
    for types in ([rnn], ["MatMul"], [rnn, "MatMul"], ["Convolution"]):
        q = O.nncf_int8(path, items, ignored_scope=nncf.IgnoredScope(types=types))[0]
        print(f"{args.name} NNCF without {'+'.join(types):24s} readers {dict(fq_readers(q))}: bench metric "
              f"{scores(run(q), ev, refs)[0]:.5f} / f32 {scores(run(q, 'f32'), ev, refs)[0]:.5f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
