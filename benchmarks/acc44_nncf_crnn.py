"""Why NNCF's default post-training INT8 collapses on the CRNNs (acc43:
crnn_lstm 0.460 / crnn_gru 0.516 bench metric; benchmarks/RESULTS_accuracy.md,
acc44): which ops NNCF puts a FakeQuantize in front of, then the same
quantization with op types left out (``nncf.IgnoredScope(types=...)``), and
the FP32 and fake-quantized models compiled with OpenVINO's CPU inference
precision forced to f32 (this CPU has AMX-BF16: the plugin's default is bf16).
Lines and metrics as acc33_crnn_rows.py (32 calibration lines seed 2, 32
evaluation lines seed 1, batches of 4 against ONNX Runtime FP32).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc44_nncf_crnn.py crnn_lstm --dir D
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=("crnn_lstm", "crnn_gru"))
    ap.add_argument("--dir", default="/tmp/acc43/models")
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

    fp32 = O.load(path)
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
