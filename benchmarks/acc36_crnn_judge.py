"""Issue 12, the CRNN rows (acc33 section 4): what auto's judge sees of its
four threshold sets on section 133's CRNNs, against what the same engines
do on the evaluation lines.

auto (32 calibration lines, seed 2, batches of 8) is run with
``auto_choice.choose`` wrapped: for each set's engine as judged (the kept
24 lines' thresholds, unsigned activations as auto decided them) it prints
the held-out relative L2 (uncentred, as the judge reads a time-major
output) and each held-out line's, the errors on the other cross-validation
folds and pooled over every fold (each calibration line scored by
thresholds fitted without it), and the same engine on the 32 evaluation
lines (seed 1): centred cosine over the samples ([N, T x 97]), relative
L2, and the per-line relative L2 at the 0/25/50/75/100 % quantiles.
Then the ``minmax`` and ``mse`` calibrators' engines (all 32 calibration
lines) with unsigned activations off and on, on the evaluation lines
alike: auto judges its sets in the form it decided first (run.py).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc36_crnn_judge.py crnn_lstm
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from newnets_probe import int8rt_engine  # noqa: E402
from realnets import new_models as M  # noqa: E402


def per_line(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Relative L2 of each line of ``[N, T, C]`` outputs."""
    n = len(ref)
    return np.linalg.norm((got - ref).reshape(n, -1), axis=1) / np.linalg.norm(ref.reshape(n, -1), axis=1)


def steps_first(outputs) -> np.ndarray:
    """Time-major ``[T, n, C]`` batches as one ``[N, T, C]`` array."""
    return np.concatenate([o.transpose(1, 0, 2) for o in outputs])


def crnn_args(doc: str):
    """The command line of a CRNN judge script (``name``, ``--dir``), the
    network and model, its 32 evaluation lines (seed 1) and their float32
    outputs ``[N, T, C]`` (ONNX Runtime), one thread."""
    import int8rt

    int8rt.set_num_threads(1)
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("name", choices=("crnn_lstm", "crnn_gru"))
    ap.add_argument("--dir", default="/tmp/newnets3/models2")
    args = ap.parse_args()
    net, model = M.exported(args.name, args.dir)
    ev = net.feeds(32, 1)
    return args, net, model, ev, steps_first(M.ort_session(str(model)).run(None, b)[0] for b in B._batches(ev, 4))


def main() -> int:
    from int8rt.accuracy import auto_choice
    from int8rt.accuracy.taps import batches

    args, net, model, ev, ref = crnn_args(__doc__)

    def on_evaluation(engine) -> str:
        ctx = engine.create_execution_context()
        got = steps_first(ctx.run(b)["out"] for b in B._batches(ev, 4))
        q = np.quantile(per_line(got, ref), [0, 0.25, 0.5, 0.75, 1])
        return (f"evaluation: centred cosine {B.centred_cosine(got, ref):.5f}, relative L2 "
                f"{np.linalg.norm(got - ref) / np.linalg.norm(ref):.4f}, per line quantiles {np.round(q, 3).tolist()}")

    choose = auto_choice.choose

    def wrapped(build, sets, names, judge, engines=None, folds=None):
        choice = choose(build, sets, names, judge, engines, folds)
        held = [np.concatenate([o[k] for o in judge.plain_ref], 1) for k in judge.plain_ref[0]][0].transpose(1, 0, 2)
        for label in sets:
            print(f"{args.name} {label}: held-out {choice.errors[label].relative_l2:.4f}", end="")
            if label in choice.engines:
                ctx = choice.engines[label].create_execution_context()
                got = np.concatenate([ctx.run(c)["out"] for c in batches(judge.data, judge.batch_size)], 1)
                print(f", per line {[round(float(x), 3) for x in per_line(got.transpose(1, 0, 2), held)]}", end="")
            if folds is not None:
                parts = [choice.errors[label]] + folds.errors(label)
                pooled = np.sqrt(sum(e.err.sum() for e in parts) / sum(e.ref.sum() for e in parts))
                print(f"; other folds {[round(e.relative_l2, 4) for e in parts[1:]]}, pooled {pooled:.4f} "
                      f"({sum(len(e.err) for e in parts)} per-sample errors)", end="")
            print(f"; {on_evaluation(choice.engines[label])}" if label in choice.engines else "", flush=True)
        print(f"{args.name} chosen: {choice.label}", flush=True)
        return choice

    auto_choice.choose = wrapped
    calib = net.feeds(32, 2)
    print(f"{args.name} auto's engine: {on_evaluation(int8rt_engine(str(model), calib, 'auto'))}", flush=True)
    auto_choice.choose = choose
    for method in ("minmax", "mse"):
        for unsigned in (False, True):
            engine = int8rt_engine(str(model), calib, method, unsigned_activations=unsigned)
            print(f"{args.name} {method}, unsigned {'on' if unsigned else 'off'}: {on_evaluation(engine)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
