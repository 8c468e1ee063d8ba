"""acc49 probe: what auto's own entropy (or another) set gives when it is the
set kept. auto_choice.choose is wrapped in this process so that, after
judging every set as usual, it returns ``--label``'s set; the build then runs
as auto's does (the chosen method's exact search over every sample's
histograms in auto's binning, bias correction decided, ...). Printed: the
held-out errors auto judged each set by (on the kept samples' thresholds) and
the forced engine's relative L2 on calib15_mtcnn.py's evaluation crops, beside
the entropy calibrator's (its own 2048-bin histograms over every sample).

Usage: PYTHONPATH=python python benchmarks/calib15_forced_set.py --wheel <facenet_pytorch whl> [--net pnet]
       [--draws 1,2] [--per-class 48] [--label entropy] [--no-bias-correction]
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calib15_mtcnn as C  # noqa: E402
from realnets import engines as E  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--net", default="pnet")
    ap.add_argument("--draws", default="1,2")
    ap.add_argument("--per-class", type=int, default=48)
    ap.add_argument("--label", default="entropy")
    ap.add_argument("--no-bias-correction", action="store_true",
                    help="auto builds with BuilderConfig(bias_correction=False) (the calibrator's never corrects)")
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy import auto_choice
    from int8rt.accuracy import metrics as M
    from int8rt.data_calibrator import make_calibrator

    original = auto_choice.choose

    def forced(build, sets, int8_names, judge, engines=None, folds=None):
        choice = original(build, sets, int8_names, judge, engines=engines, folds=folds)
        if args.label not in sets:
            return choice
        amaxes, methods = sets[args.label]
        return replace(choice, label=args.label, amaxes=dict(amaxes), methods=dict(methods))

    int8rt.set_num_threads(2)
    x, labels = C.lfw_subset()
    model = C.mtcnn_model(args.wheel, args.net)
    xs = C.stage_inputs(x, C.SIZES[args.net])
    fp32, _ = E.int8rt_engine(model, "fp32", None, None)
    print(f"| {args.net} draw ({2 * args.per_class} crops) | auto's held-out errors per set | auto as is | "
          f"auto forced to its {args.label} set | the {args.label} calibrator |")
    print("|---|---|---|---|---|")
    for draw in (int(d) for d in args.draws.split(",")):
        calib, evaluation = C.split(labels, draw, args.per_class)
        ref = E.run_batched(E.int8rt_runner(fp32), xs[evaluation])
        cells, held = [], ""
        for alg, patch in (("auto", False), ("auto", True), (args.label, False)):
            auto_choice.choose = forced if patch else original
            config = int8rt.BuilderConfig(accuracy_check=False, calibrator=make_calibrator(
                {"x": xs[calib]}, algorithm=alg, batch_size=16),
                bias_correction=False if args.no_bias_correction and alg == "auto" else None)
            engine = int8rt.build_engine(model, config)
            auto_choice.choose = original
            cells.append(M.relative_l2(ref, E.run_batched(E.int8rt_runner(engine), xs[evaluation])))
            report = getattr(engine.build_report(), "auto_choice", None)
            if report and not patch:
                held = ", ".join(f"{k} {v:.4f}" for k, v in report["errors"].items() if "bias" not in k)
        print(f"| {draw} | {held} | " + " | ".join(f"{c:.4f}" for c in cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
