"""auto's on / off decisions (unsigned activations, cross-layer
equalization, bias correction) on the collapse model of
tests/accuracy_models.py over weight seeds, with the evaluation images'
error against float32: run under two ``PYTHONPATH``s (before / after a
change of accuracy/decision_rule.py) to see which decisions move and what
each move does. Calibration: the model's 256 raw-pixel digits in batches of
16, accuracy check off (as benchmarks/accuracy_bench.py builds auto);
evaluation: its 270 held-back digits.

    PYTHONPATH=python:tests python benchmarks/decision_reads_seeds.py --seeds 0-15 [--no-bias-correction]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

DECISIONS = ("thresholds", "unsigned_activations", "equalization", "bias_correction")


def row(seed: int, bias_correction: bool | None = None) -> str:
    import int8rt
    from int8rt.accuracy import metrics
    from accuracy_models import entropy_collapse_case

    c = entropy_collapse_case(seed)
    batches = [{"x": c.calib[i:i + 16]} for i in range(0, len(c.calib), 16)]
    engine = int8rt.build_engine(c.model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="auto"), accuracy_check=False,
        bias_correction=bias_correction))
    choice = engine.build_report().auto_choice
    fp32 = int8rt.build_engine(c.model, int8rt.BuilderConfig(precision="fp32")).run({"x": c.eval_x})["logits"]
    got = engine.run({"x": c.eval_x})["logits"]
    short = {k: str(choice.get(k)).split(" (")[0] for k in DECISIONS}
    return (f"seed {seed}: {short['thresholds']}, unsigned {short['unsigned_activations']}, equalization "
            f"{short['equalization']}, bias corr. {short['bias_correction']} | ccos "
            f"{metrics.centred_cosine(fp32, got):.5f}, rel. L2 {metrics.relative_l2(fp32, got):.4f}, agree "
            f"{int(np.sum(fp32.argmax(1) == got.argmax(1)))}/{len(got)}, top-1 "
            f"{int(np.sum(got.argmax(1) == c.eval_y))}/{len(got)} | errors {choice.get('errors')}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-15", help="a range a-b or a comma-separated list")
    ap.add_argument("--no-bias-correction", action="store_true", help="BuilderConfig(bias_correction=False)")
    args = ap.parse_args()
    a, _, b = args.seeds.partition("-")
    seeds = range(int(a), int(b) + 1) if b else [int(s) for s in args.seeds.split(",")]
    for s in seeds:
        print(row(s, False if args.no_bias_correction else None), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
