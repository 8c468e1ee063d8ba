"""The CRNN scoreboard rows (crnn_lstm / crnn_gru) with NNCF beside ONNX
Runtime and int8rt (issue 12, gap (a); benchmarks/RESULTS_accuracy.md,
acc43): acc33_crnn_rows.py's lines and metrics (32 calibration lines seed 2,
32 evaluation lines seed 1, batches of 4; against ONNX Runtime FP32: the
bench metric, the centred cosine over the samples, the per-step argmax
agreement) for int8rt auto, ONNX Runtime quantize_static (QDQ, per-channel,
MinMax) and NNCF's default post-training INT8 (fast bias correction on, and
off), OpenVINO CPU.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc43_crnn_peers.py crnn_lstm --dir D
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from newnets_probe import int8rt_context  # noqa: E402
from realnets import new_models as M, openvino_engines as O  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=("crnn_lstm", "crnn_gru"))
    ap.add_argument("--dir", default="/tmp/newnets3/models2")
    args = ap.parse_args()
    import int8rt
    from wheelnets_bench import ort_int8

    int8rt.set_num_threads(1)
    net, model = M.exported(args.name, args.dir)
    path, calib, ev = str(model), net.feeds(32, 2), net.feeds(32, 1)
    fp32 = M.ort_session(path)
    q, _, _ = ort_int8(path, calib, 8)
    qs = M.ort_session(q)
    runs = {"int8rt auto": lambda: int8rt_context(path, calib, "auto"),
            "ORT INT8": lambda: (lambda f: qs.run(None, f)[0])}
    for label, bc in (("NNCF", True), ("NNCF, bias correction off", False)):
        def nncf(bc: bool = bc):
            compiled = O.compile_model(O.nncf_int8(path, list(B._batches(calib, 1)), bias_correction=bc)[0], 1)
            return lambda f: compiled(f)[0]
        runs[label] = nncf
    refs = [fp32.run(None, b)[0] for b in B._batches(ev, 4)]
    for k, make in runs.items():
        run = make()
        outs = [run(b) for b in B._batches(ev, 4)]
        a = np.concatenate([o.transpose(1, 0, 2) for o in outs])  # [N, T, 97]
        r = np.concatenate([o.transpose(1, 0, 2) for o in refs])
        print(f"{args.name} {k:26s} bench metric {B.centred_cosine(np.concatenate(outs), np.concatenate(refs)):.5f}  "
              f"over the samples {B.centred_cosine(a, r):.5f}  argmax agreement {(a.argmax(-1) == r.argmax(-1)).mean():.4f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
