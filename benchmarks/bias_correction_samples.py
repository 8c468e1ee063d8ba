"""Which calibration samples bias correction should measure on (issue 12;
benchmarks/RESULTS_accuracy.md, acc18).

For one auto build, the shifts ``bias_correction.measure_shifts`` gives on
subsets of the kept (calibrating) samples, each against the shifts of all of
them (RMS over every corrected channel), and the engine each subset's
shifts make, everything else equal (the build is repeated with
``bias_correction=True`` and the shifts replaced: ``measure_shifts`` is
wrapped in the ``accuracy.run`` module, to read its arguments on the first
build and to return the subset's shifts on the others), measured on the
case's evaluation data against FP32: top-1 against the labels, centred
cosine, relative L2, top-1 agreement. Subsets: the first 64 (the rule until
2026-12-05), strided with caps 64 and 128 (strided.py; 128 is the rule now),
all of them. Cases:

- ``collapse``: the tests' collapse CNN (tests/accuracy_models.py), 256
  calibration samples, accuracy check on (as
  test_auto_keeps_the_collapse_model_within_half_a_point builds it: 192 kept);
- ``digits``: the bundled digits CNN, 256 samples, accuracy check on;
- ``stream``: long_stream_auto.py's stream (the digits CNN, 1024 samples, a
  rare kind at 2.5x contrast from sample 512 on), accuracy check off (768 kept).

    PYTHONPATH=python:tests:benchmarks python benchmarks/bias_correction_samples.py
"""
from __future__ import annotations

import argparse

import numpy as np

import int8rt
from int8rt.accuracy import metrics
from int8rt.accuracy import run as run_module
from int8rt.quickstart import DATA_PATH, MODEL_PATH

SUBSETS = ("first 64", "strided cap 64", "strided cap 128", "all kept")


def _cases(names: list[str]) -> dict[str, tuple]:
    """name -> (model, calibration samples, evaluation x, labels, accuracy check)."""
    from accuracy_models import entropy_collapse_case
    from long_stream_auto import _rare

    d = np.load(DATA_PATH)
    out = {}
    if "collapse" in names:
        c = entropy_collapse_case()
        out["collapse"] = (c.model, c.calib, c.eval_x, c.eval_y, True)
    if "digits" in names:
        out["digits"] = (MODEL_PATH.read_bytes(), d["calib"], d["test_x"], d["test_y"], True)
    if "stream" in names:  # long_stream_auto.py's defaults
        mean, std = float(d["mean"]), float(d["std"])
        rng = np.random.default_rng(0)
        calib = np.concatenate([d["calib"]] * 4)[:1024].copy()
        calib += rng.normal(0, 0.05, calib.shape).astype(np.float32)
        rare = [i for i in range(512, 1024) if rng.random() < 1 / 12]
        calib[rare] = _rare(calib[rare], 2.5, mean, std)
        x = d["test_x"].copy()
        x[3::8] = _rare(x[3::8], 2.5, mean, std)
        out["stream"] = (MODEL_PATH.read_bytes(), calib, x, d["test_y"], False)
    return out


def _strided(kept: np.ndarray, cap: int) -> np.ndarray:
    stride = 1
    while -(-len(kept) // stride) > cap:
        stride *= 2
    return kept[::stride]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="collapse,digits,stream")
    args = ap.parse_args()
    real = run_module.biascorr.measure_shifts
    for name, (model, calib, x, y, check) in _cases(args.cases.split(",")).items():
        seen: dict = {}
        replace: dict = {}

        def wrapped(network, scales, data, batch_size, fp32_layers, values=(), **kwargs):
            seen.setdefault("args", (network, dict(scales), batch_size, set(fp32_layers),
                                     {k: v for k, v in kwargs.items() if k != "limit"}))
            if "deltas" in replace:
                return replace["deltas"]
            return real(network, scales, data, batch_size, fp32_layers, values, **kwargs)

        run_module.biascorr.measure_shifts = wrapped

        def build() -> int8rt.Engine:
            cal = int8rt.make_calibrator([calib[i:i + 32] for i in range(0, len(calib), 32)], algorithm="auto")
            return int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=cal, accuracy_check=check,
                                                                   bias_correction=True))

        build()
        network, scales, batch_size, fp32_layers, kwargs = seen["args"]
        kept = calib[np.arange(len(calib)) % 4 != 3]  # holdout.py's split (every 4th held out)
        inp = network.tensor(network.inputs()[0])["name"]

        def shifts(samples: np.ndarray) -> dict:
            return real(network, scales, {inp: samples}, batch_size, fp32_layers, (), limit=len(samples), **kwargs)

        subsets = {"first 64": kept[:64], "strided cap 64": _strided(kept, 64),
                   "strided cap 128": _strided(kept, 128), "all kept": kept}
        truth = shifts(kept)
        flat = lambda d: np.concatenate([np.asarray(d[k], np.float64) for k in sorted(d)])  # noqa: E731
        fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).run({inp: x})
        out_name = next(iter(fp32))
        ref = fp32[out_name]
        print(f"\n{name}: {len(calib)} calibration samples, {len(kept)} kept, accuracy check "
              f"{'on' if check else 'off'}; mean |shift| (all kept) {np.abs(flat(truth)).mean():.4g}; "
              f"FP32 top-1 {np.mean(ref.argmax(1) == y):.4f}\n")
        print("| shifts from | samples | RMS vs all kept | top-1 | centred cos | rel. L2 | top-1 agree |")
        print("|---|---|---|---|---|---|---|")
        for label in SUBSETS:
            d = shifts(subsets[label])
            replace["deltas"] = d
            got = build().run({inp: x})[out_name]
            del replace["deltas"]
            print(f"| {label} | {len(subsets[label])} | {np.sqrt(np.mean((flat(d) - flat(truth)) ** 2)):.3g} | "
                  f"{np.mean(got.argmax(1) == y):.4f} | {metrics.centred_cosine(ref, got):.5f} | "
                  f"{metrics.relative_l2(ref, got):.5f} | {np.mean(got.argmax(1) == ref.argmax(1)):.4f} |",
                  flush=True)
        run_module.biascorr.measure_shifts = real
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
