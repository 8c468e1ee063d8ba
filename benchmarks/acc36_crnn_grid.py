"""Issue 12, the CRNN rows (acc33 section 4): is auto's choice of mse over
minmax the judge's 8 held-out lines, or the grid the sets are judged on?

int8rt ``minmax`` / ``mse`` with unsigned activations off and on, on
section 133's CRNNs (32 calibration lines seed 2, 32 evaluation lines seed
1, batches of 4 for evaluation, 8 for calibration as acc33_crnn_rows.py):
the centred cosine over the samples ([N, T x 97]) against ONNX Runtime
FP32. auto judges its threshold sets with unsigned activations off and
decides unsigned activations afterwards (auto_choice.py, unsigned_form.py).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc36_crnn_grid.py crnn_lstm
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

    int8rt.set_num_threads(1)
    net, model = M.exported(args.name, args.dir)
    path, calib, ev = str(model), net.feeds(32, 2), net.feeds(32, 1)
    fp32 = M.ort_session(path)
    ref = np.concatenate([fp32.run(None, b)[0].transpose(1, 0, 2) for b in B._batches(ev, 4)])
    for alg in ("minmax", "mse"):
        for unsigned in (False, True):
            run = int8rt_context(path, calib, alg, unsigned_activations=unsigned)
            got = np.concatenate([run(b).transpose(1, 0, 2) for b in B._batches(ev, 4)])
            print(f"{args.name} {alg:6s} unsigned {'on ' if unsigned else 'off'}: "
                  f"centred cosine over the samples {B.centred_cosine(got, ref):.5f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
