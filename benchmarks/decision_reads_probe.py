"""Which of the ``auto`` calibrator's on / off decisions (unsigned
activations, cross-layer equalization, bias correction) a build of issue
11's rows takes, with the errors each decision read (centred and
uncentred: accuracy/decision_rule.py), and the engine's error on the row's
evaluation data against ONNX Runtime FP32 (issue11_gap_probe.describe and
the row's own metric). Run it under two ``PYTHONPATH``s (before / after a
change of the rule) to see which decisions move and what that does.

    PYTHONPATH=python python benchmarks/decision_reads_probe.py minilm_l6,vit_hf --dir /tmp/verify11/models
    PYTHONPATH=python python benchmarks/decision_reads_probe.py convnext_hf,lraspp --dir /tmp/acc15/models
    PYTHONPATH=python python benchmarks/decision_reads_probe.py minilm_l6 --smoothquant --method minmax

``--smoothquant`` builds with SmoothQuant on (alpha 0.5), ``--method`` another calibrator than auto,
``--no-bias-correction`` with ``BuilderConfig(bias_correction=False)``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from issue11_gap_probe import describe, load_row  # noqa: E402
from realnets.issue11_rows import ROWS  # noqa: E402
from realnets.new_models import ort_session  # noqa: E402

DECISIONS = ("thresholds", "unsigned_activations", "equalization", "bias_correction")


def probe(name: str, folder: str, calib_seed: int | None, method: str = "auto", smoothquant: bool = False,
          bias_correction: bool | None = None) -> None:
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    row = load_row(name, folder, calib_seed)
    t0 = time.process_time()
    engine = int8rt.build_engine(row.path, int8rt.BuilderConfig(
        calibrator=make_calibrator(list(row.calib), algorithm=method), accuracy_check=False, smoothquant=smoothquant,
        bias_correction=bias_correction))
    seconds = time.process_time() - t0
    choice = engine.build_report().auto_choice or {}
    print(f"{row.name} {method}{' + smoothquant' if smoothquant else ''}: build {seconds:.1f} CPU s", flush=True)
    for k in DECISIONS:
        print(f"  {k}: {choice.get(k)}")
    print("  errors: " + ", ".join(f"{k} {v}" for k, v in (choice.get("errors") or {}).items()))
    fp32 = ort_session(row.path)
    ctx = engine.create_execution_context()
    refs = [fp32.run([row.output], f)[0] for f in row.evaluation]
    outs = [ctx.run(f)[row.output] for f in row.evaluation]
    print(f"  evaluation: {describe(outs, refs)}; the row's metric {row.metric(outs, refs, row.evaluation)}",
          flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", help=f"comma-separated, of {', '.join(ROWS)}")
    ap.add_argument("--dir", default="/tmp/issue11_verify", help="where the rows' models are (or are exported to)")
    ap.add_argument("--calib-seed", type=int, help="image classifier rows: calibrate on 32 crops of this seed")
    ap.add_argument("--method", default="auto", help="the int8rt calibrator (default auto)")
    ap.add_argument("--smoothquant", action="store_true", help="SmoothQuant on (alpha 0.5)")
    ap.add_argument("--no-bias-correction", action="store_true", help="BuilderConfig(bias_correction=False)")
    args = ap.parse_args()
    for name in args.rows.split(","):
        probe(name, args.dir, args.calib_seed, args.method, args.smoothquant,
              False if args.no_bias_correction else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
