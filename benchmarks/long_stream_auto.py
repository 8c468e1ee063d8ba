"""auto on a long calibration stream whose rare input kind appears only late
(issue 12; benchmarks/RESULTS_accuracy.md, acc17).

The bundled digits CNN (real weights, real 8x8 digits) calibrated on a
stream of ``--stream`` samples: the 256 bundled calibration digits cycled
(each pass with a little noise, seeded), where from sample ``--late`` on a
rare kind appears at random at rate ``--rate``: the digit at ``--gain``
times its contrast (a scanner set brighter). Evaluation: the 540 bundled
test digits, one in 8 of the rare kind. Printed per build: auto's choice,
centred cosine and relative L2 against FP32 (a constant output scores 0
and ~1), the held-out errors auto measured with and without bias correction, top-1 agreement
with FP32, top-1 against the labels, and the build's process CPU seconds.
``--fixed-batch B`` imports the model with a fixed batch of ``B`` (its
batches then reach the builder whole: holdout.py, crossval.py; acc23) and
calibrates in batches of ``B``; with ``--check`` the report's first line is
printed too. Run it with two PYTHONPATHs to compare two versions of int8rt:

    PYTHONPATH=python python benchmarks/long_stream_auto.py
    PYTHONPATH=/tmp/acc17/before/python python benchmarks/long_stream_auto.py   # main before acc17
    PYTHONPATH=python python benchmarks/long_stream_auto.py --fixed-batch 4 --stream 4096 --late 2048 --check
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import int8rt
from int8rt.accuracy.metrics import centred_cosine, relative_l2
from int8rt.quickstart import DATA_PATH, MODEL_PATH


def _rare(x: np.ndarray, gain: float, mean: float, std: float) -> np.ndarray:
    """``x`` (normalised digits) at ``gain`` times the contrast of the raw image, normalised alike."""
    return ((x * std + mean) * gain - mean) / std


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stream", type=int, default=1024)
    ap.add_argument("--late", type=int, default=512)
    ap.add_argument("--rate", type=float, default=1 / 12)
    ap.add_argument("--gain", type=float, default=2.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="auto,minmax,mse,percentile,entropy2")
    ap.add_argument("--bias-correction", choices=("auto", "on", "off"), default="auto",
                    help="BuilderConfig(bias_correction=): auto (None, auto decides), on, off")
    ap.add_argument("--check", action="store_true", help="BuilderConfig(accuracy_check=True)")
    ap.add_argument("--holdout-every", type=int, default=4,
                    help="BuilderConfig(holdout_every=): 0 holds nothing out (auto judges on its fit samples)")
    ap.add_argument("--fixed-batch", type=int, default=0,
                    help="import with this fixed batch and calibrate in batches of it (0: a free batch, batches of 32)")
    args = ap.parse_args()
    d = np.load(DATA_PATH)
    mean, std = float(d["mean"]), float(d["std"])
    rng = np.random.default_rng(args.seed)
    calib = np.concatenate([d["calib"]] * -(-args.stream // len(d["calib"])))[:args.stream].copy()
    calib += rng.normal(0, 0.05, calib.shape).astype(np.float32)
    rare = [i for i in range(args.late, args.stream) if rng.random() < args.rate]
    calib[rare] = _rare(calib[rare], args.gain, mean, std)
    x = d["test_x"].copy()
    x[3::8] = _rare(x[3::8], args.gain, mean, std)
    batch = args.fixed_batch or 32
    if args.fixed_batch:
        x, labels = x[: len(x) // batch * batch], d["test_y"][: len(x) // batch * batch]
        model = lambda: int8rt.onnx.import_model(MODEL_PATH.read_bytes(),  # noqa: E731
                                                 input_shapes={"input": [batch, *calib.shape[1:]]})
    else:
        labels, model = d["test_y"], MODEL_PATH.read_bytes
    chunk = args.fixed_batch or len(x)

    def run(engine) -> dict:
        parts = [engine.run({"input": x[i:i + chunk]}) for i in range(0, len(x), chunk)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    fp32 = run(int8rt.build_engine(model(), int8rt.BuilderConfig(precision="fp32")))
    name = next(iter(fp32))
    ref = fp32[name]
    print(f"stream {args.stream}, rare kind (gain {args.gain}) {len(rare)} samples from {args.late} on; "
          f"evaluation {len(x)} (rare one in 8); FP32 top-1 {np.mean(ref.argmax(1) == labels):.4f}")
    for method in args.methods.split(","):
        t0 = time.process_time()
        engine = int8rt.build_engine(model(), int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(
            [calib[i:i + batch] for i in range(0, len(calib), batch)], algorithm=method), accuracy_check=args.check,
            holdout_every=args.holdout_every,
            bias_correction={"auto": None, "on": True, "off": False}[args.bias_correction]))
        cpu = time.process_time() - t0
        out = run(engine)[name]
        report = engine.build_report()
        choice = report.auto_choice or {}
        errors = choice.get("errors", {})
        print(f"{method}: centred cos {centred_cosine(ref, out):.6f}, rel L2 {relative_l2(ref, out):.5f}, top-1 agree "
              f"{np.mean(out.argmax(1) == ref.argmax(1)):.4f}, top-1 {np.mean(out.argmax(1) == labels):.4f}, "
              f"build CPU s {cpu:.2f}" + (f"; chose {choice.get('thresholds')} (held-out slice alone: "
                                          f"{choice.get('held_out_choice')}); bias correction "
                                          f"{choice.get('bias_correction')} (held-out rel L2 off "
                                          f"{errors.get('bias correction off')}, on {errors.get('bias correction on')}), "
                                          f"equalization {choice.get('equalization')}"
                                          if choice else "") +
              (f"; worst folds {choice.get('worst_fold_errors')}" if choice.get("worst_fold_errors") else ""))
        if args.check:
            print(f"  report: {report.format().splitlines()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
