"""Build time and accuracy of the auto calibrator beside single methods on an
exported torch network (benchmarks/e2e_models.py), in one process with the
methods alternated, so the build-time ratios are comparable under load.

Calibration: 4 batches of 8 seeded Gaussian images (seed 0, e2e_bench.py's
data), with the default accuracy check off (auto still holds every 4th
sample out for its choice). Evaluation: --eval other Gaussian images (seed
1): relative L2 and centred cosine of the logits against int8rt FP32. Build
seconds are the whole build_engine call, wall clock and CPU time of the
process (the latter less inflated when other jobs share the cores); the load
average is printed.

    cd /tmp && PYTHONPATH=$REPO/python python $REPO/benchmarks/auto_build_bench.py \\
        [--model convnext_tiny] [--methods minmax,mse,percentile,auto] [--rounds 1] [--eval 16]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from int8rt.accuracy import metrics  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="convnext_tiny")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--methods", default="minmax,mse,percentile,auto")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--eval", type=int, default=16)
    args = ap.parse_args()
    from e2e_bench import export

    subject = export(args.model, args.size, Path(tempfile.mkdtemp()))
    int8rt.set_num_threads(2)
    x = np.random.default_rng(1).standard_normal((args.eval, 3, args.size, args.size), dtype=np.float32)
    fp32 = int8rt.build_engine(str(subject.onnx_path), int8rt.BuilderConfig(precision="fp32"))
    ref = np.concatenate([fp32.run({"input": x[i:i + 8]})["logits"] for i in range(0, len(x), 8)])
    print(f"{args.model} {args.size}x{args.size}: calibration {sum(len(b) for b in subject.calib)} images, "
          f"evaluation {args.eval}")
    print("| method | round | rel_l2 | centred_cos | build s | build CPU s | load avg (1 min) | auto's decisions |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for r in range(args.rounds):
        for method in args.methods.split(","):
            calibrator = int8rt.make_calibrator([{"input": b} for b in subject.calib], algorithm=method)
            t0, c0 = time.perf_counter(), time.process_time()
            engine = int8rt.build_engine(str(subject.onnx_path),
                                         int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False))
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
            out = np.concatenate([engine.run({"input": x[i:i + 8]})["logits"] for i in range(0, len(x), 8)])
            print(f"| {method} | {r + 1} | {metrics.relative_l2(ref, out):.4f} | {metrics.centred_cosine(ref, out):.4f} "
                  f"| {secs:.1f} | {cpu:.1f} | {os.getloadavg()[0]:.1f} | {_phases(engine)} |", flush=True)


def _phases(engine: int8rt.Engine) -> str:
    """The auto calibrator's decisions from the build report (the phases'
    seconds are there only with the accuracy check, which this bench turns
    off: unmeasured engines are byte-for-byte reproducible)."""
    report = engine.build_report()
    seconds = {k: v for k, v in report.seconds.items() if k != "calibration_and_build"}
    text = " ".join(f"{k} {v:.1f}" for k, v in seconds.items())
    choice = getattr(report, "auto_choice", None)
    if choice:
        text += f"; {choice.get('thresholds')}, bias correction {choice.get('bias_correction')}"
    return text


if __name__ == "__main__":
    main()
