"""Issue 12, the CRNN rows (acc36 section 4's untried idea): would a judge of
the tail, the worst calibration line's error as step 4 reads the worst
fold, choose minmax on section 133's CRNNs?

auto (32 calibration lines, seed 2, batches of 8) runs with
``auto_choice.choose`` wrapped; for each of its four threshold sets it
takes every per-line error auto's judge computed (the held-out slice,
thresholds from the kept lines, and each other cross-validation fold,
thresholds fitted without it: every calibration line scored once by
thresholds that did not see it) and prints each line's relative L2 as the
judge weighs it (sqrt of the line's squared error over its float32
energy): the worst line and where it lies, and the quantiles
``QUANTILES`` of the pooled lines. A tail judge picks the set with the lowest worst line (and, as
step 4 does, by ``FOLD_GAIN`` below the default's); the last line says
which. Then, for the sets auto built, the same engine's quantiles of
the evaluation lines' relative L2 (32 lines, seed 1) and centred cosine.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc38_tail_judge.py crnn_lstm
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from acc36_crnn_judge import crnn_args, per_line, steps_first  # noqa: E402
from acc38_quantile_judge import line_errors  # noqa: E402
from newnets_probe import int8rt_engine  # noqa: E402

QUANTILES = (0.5, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)


def main() -> int:
    from int8rt.accuracy import auto_choice

    args, net, model, ev, ref = crnn_args(__doc__)
    choose = auto_choice.choose

    def wrapped(build, sets, names, judge, engines=None, folds=None):
        choice = choose(build, sets, names, judge, engines, folds)
        worst = {}
        for label in sets:
            parts = [choice.errors[label]] + (folds.errors(label) if folds is not None else [])
            lines = [line_errors(e) for e in parts]
            pooled = np.concatenate(lines)
            where = next(i for i, x in enumerate(lines) if x.max() == pooled.max())
            worst[label] = float(pooled.max())
            quantiles = np.round(np.quantile(pooled, QUANTILES), 4).tolist()
            print(f"{args.name} {label}: {len(pooled)} lines, worst {pooled.max():.4f} "
                  f"({'held-out slice' if where == 0 else f'fold {where}'}), quantiles {QUANTILES}: {quantiles}; "
                  f"per slice worst {[round(float(x.max()), 4) for x in lines]}", end="")
            if label in choice.engines:
                ctx = choice.engines[label].create_execution_context()
                got = steps_first(ctx.run(b)["out"] for b in B._batches(ev, 4))
                e = per_line(got, ref)
                print(f"; evaluation lines' quantiles {np.round(np.quantile(e, QUANTILES), 4).tolist()}, "
                      f"centred cosine {B.centred_cosine(got, ref):.5f}", end="")
            print(flush=True)
        best = min(worst, key=worst.__getitem__)
        gain = worst[best] < (1.0 - auto_choice.FOLD_GAIN) * worst[choice.label]
        print(f"{args.name} auto chose {choice.label}; the tail judge's lowest worst line: {best} "
              f"({worst[best]:.4f} against {worst[choice.label]:.4f}: "
              f"{'would override' if gain and best != choice.label else 'no override'})", flush=True)
        return choice

    auto_choice.choose = wrapped
    int8rt_engine(str(model), net.feeds(32, 2), "auto")
    auto_choice.choose = choose
    return 0


if __name__ == "__main__":
    sys.exit(main())
