"""auto's judgement laid open on a network of nets17 (benchmarks/realnets/
new_families2.py; issue 12, RESULTS_accuracy.md acc66): for one calibration
draw (newnets_bench's feeds: 32 crops of the seed, batches of 8), each
threshold set's relative L2 on the held-out slice and on crossval's other
folds, each sample's share (sqrt(err_i / mean ref energy)), and whether the
set is "clearly below" the default (auto_choice step 3's rule) on the
held-out slice. Wraps auto_choice.worst_fold / choose for the run only.

Usage (from /tmp):
    PYTHONPATH=<wt>/python python3 <wt>/benchmarks/regnet20_folds.py regnet_x_400mf 3 --dir /tmp/regnet20/models
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import realnets.new_families2  # noqa: E402,F401  (registers nets17's networks)
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def _per_sample(e) -> str:
    return " ".join(f"{v:.2f}" for v in np.sqrt(e.err / e.ref.sum() * len(e.err)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("calib_seed", type=int)
    ap.add_argument("--dir", default="/tmp/regnet20/models")
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy import auto_choice
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print(machine_line(), flush=True)
    worst_fold, choose = auto_choice.worst_fold, auto_choice.choose

    def shown_worst_fold(held, folds):
        print(f"   held-out {held.relative_l2:.4f}, other folds " + " ".join(f"{e.relative_l2:.4f}" for e in folds))
        print(f"      held-out per sample {_per_sample(held)}")
        for i, e in enumerate(folds):
            print(f"      fold {i + 1} per sample {_per_sample(e)}")
        return worst_fold(held, folds)

    def shown_choose(build, sets, names, judge, engines=None, folds=None):
        if folds is not None:
            errors = folds.errors

            def labelled(label):
                print(f" set {label}")
                return errors(label)
            folds.errors = labelled
        c = choose(build, sets, names, judge, engines=engines, folds=folds)
        default = c.errors[auto_choice.DEFAULT_METHOD]
        for k, e in c.errors.items():
            print(f" held-out {k} {e.relative_l2:.4f}, clearly below {auto_choice.DEFAULT_METHOD}: "
                  f"{e.clearly_below(default)}")
        print(f" chosen: {c.label} (held-out slice alone: {c.held_label})", flush=True)
        return c

    auto_choice.worst_fold, auto_choice.choose = shown_worst_fold, shown_choose
    try:
        net, path = M.exported(args.name, args.dir)
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(net.feeds(32, args.calib_seed), algorithm="auto", batch_size=8)
        int8rt.build_engine(str(path), config)
    finally:
        auto_choice.worst_fold, auto_choice.choose = worst_fold, choose
    return 0


if __name__ == "__main__":
    sys.exit(main())
