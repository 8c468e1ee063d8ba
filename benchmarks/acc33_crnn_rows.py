"""RESULTS.md section 133's two CRNN rows (crnn_lstm / crnn_gru: [T, N, 97]
time-major logits) with the engines that matter for the gap to ONNX
Runtime INT8: int8rt ``auto``, ``minmax`` and ``mse`` with unsigned
activations on, and ONNX Runtime quantize_static (QDQ, per-channel, MinMax;
wheelnets_bench.ort_int8). 32 calibration lines (seed 2), 32 evaluation
lines (seed 1), batches of 4. Metrics against ONNX Runtime FP32: the
centred cosine as newnets_bench.py computes it (batches concatenated on
axis 0, which is time here), the centred cosine over the samples ([N, T x
97]) and the per-step argmax agreement.
Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc33_crnn_rows.py crnn_lstm --dir D
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from newnets_probe import int8rt_context  # noqa: E402
from realnets import new_models as M  # noqa: E402


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
    runs = {"int8rt auto": int8rt_context(path, calib, "auto"),
            "int8rt minmax, unsigned": int8rt_context(path, calib, "minmax", unsigned_activations=True),
            "int8rt mse, unsigned": int8rt_context(path, calib, "mse", unsigned_activations=True),
            "ORT INT8": lambda f: qs.run(None, f)[0]}
    refs = [fp32.run(None, b)[0] for b in B._batches(ev, 4)]
    for k, run in runs.items():
        outs = [run(b) for b in B._batches(ev, 4)]
        a = np.concatenate([o.transpose(1, 0, 2) for o in outs])  # [N, T, 97]
        r = np.concatenate([o.transpose(1, 0, 2) for o in refs])
        print(f"{args.name} {k:24s} bench metric {B.centred_cosine(np.concatenate(outs), np.concatenate(refs)):.5f}  "
              f"over the samples {B.centred_cosine(a, r):.5f}  "
              f"argmax agreement {(a.argmax(-1) == r.argmax(-1)).mean():.4f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
