"""acc53: how much the histogram binning alone moves each method's engine, and
auto's on the calibrators' binning (RESULTS_accuracy.md acc53).

Three commands:

- ``sweep``: PESTO (calib16_pesto.py's model and frames) calibrated by each of
  ``--methods`` on each binning of ``--binnings`` (``policy:bins``), and auto
  on its own binning and on the calibrators' (2048, "extend"); relative L2 /
  centred cosine of the 384 pitch logits on the evaluation frames, and the
  build's CPU seconds.
- ``time``: auto's build CPU time on its binning and on the calibrators',
  alternating in one process (PESTO draw 1, the collapse CNN of
  tests/accuracy_models.py), medians of ``--rounds``.
- ``past``: how often TensorRT's entropy search over every bin of auto's grid
  (4096 bins, power of two) lands past the data's maximum, on 2000 values of
  four distributions x 40 seeds.
- ``run --calibrators pow2|extend --auto pow2|extend SCRIPT ARGS...``: runs a
  harness (calib15_mtcnn.py, ...) with the classic calibrators' and / or auto's
  default binning replaced (pow2: 4096 bins, "power_of_two", auto's default;
  extend: 2048 bins, "extend", the calibrators' default).

Usage: PYTHONPATH=python python benchmarks/acc53_binnings.py sweep --wheel /tmp/calib16/dl/pesto_pitch-2.0.1-py3-none-any.whl
       --archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz /tmp/calib16/dl/amfm_decompy-1.0.12.2-py3-none-any.whl
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

BINNINGS = {"pow2": {"num_bins": 4096, "policy": "power_of_two"}, "extend": {"num_bins": 2048, "policy": "extend"}}
SWEEP = ("extend:2048,power_of_two:4096,extend:4096,power_of_two:8192,extend:8192,power_of_two:16384,"
         "extend:1024,power_of_two:2048,power_of_two:1024")


def pesto(wheel: str, archives: list[str]) -> tuple[bytes, dict[int, np.ndarray], np.ndarray]:
    """(ONNX model, {draw: calibration frames}, evaluation frames) as calib16_pesto.main makes them."""
    import calib16_pesto as P

    model, encoder, _ = P.load(wheel)
    x = P.frames(model, tuple(archives))
    idx = np.arange(len(x))
    calib = {}
    for draw, rest in ((1, 0), (2, 2)):
        c = idx[idx % 4 == rest]
        calib[draw] = x[c[:len(c) // 16 * 16]]
    return P.onnx_model(encoder), calib, x[idx % 2 == 1]


def build(model: bytes, x: np.ndarray, name: str, algorithm: str, batch: int = 16, **options):
    """An engine (accuracy_check off, as the harnesses build) and its build's CPU seconds."""
    import int8rt

    c0 = time.process_time()
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator({name: x}, algorithm=algorithm, batch_size=batch, **options),
        accuracy_check=False))
    return engine, time.process_time() - c0


def sweep(args: argparse.Namespace) -> None:
    import int8rt
    from int8rt.accuracy import metrics as M

    int8rt.set_num_threads(2)
    model, calib, evaluation = pesto(args.wheel, args.archives)
    ref = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")).run({"cqt": evaluation})["logits"]
    binnings = [(p, int(n)) for p, n in (b.split(":") for b in args.binnings.split(","))]
    for draw in (1, 2):
        rows = [(m, {"policy": p, "num_bins": n}) for m in args.methods.split(",") for p, n in binnings]
        rows += [("auto", {}), ("auto", BINNINGS["extend"])]
        for method, options in rows:
            engine, cpu = build(model, calib[draw], "cqt", method, args.batch, **options)
            out = engine.run({"cqt": evaluation})["logits"]
            label = f"{method} {options.get('policy', 'power_of_two')}:{options.get('num_bins', 4096)}"
            print(f"draw {draw} {label:28s} rel_l2 {M.relative_l2(ref, out):.5f} centred_cos "
                  f"{M.centred_cosine(ref, out):.6f} cpu_s {cpu:.2f}", flush=True)


def timing(args: argparse.Namespace) -> None:
    import int8rt
    from accuracy_models import entropy_collapse_case

    int8rt.set_num_threads(2)
    model, calib, _ = pesto(args.wheel, args.archives)
    case = entropy_collapse_case()
    nets = {"pesto draw 1": (model, "cqt", calib[1]), "collapse CNN": (case.model, "x", case.calib)}
    for net, (m, name, x) in nets.items():
        seconds: dict[str, list[float]] = {"pow2": [], "extend": []}
        for _ in range(args.rounds):
            for label in seconds:
                seconds[label].append(build(m, x, name, "auto", **BINNINGS[label])[1])
        med = {k: float(np.median(v)) for k, v in seconds.items()}
        print(f"{net}: auto CPU s, median of {args.rounds}: 4096 power_of_two {med['pow2']:.2f}, 2048 extend "
              f"{med['extend']:.2f}, ratio {med['extend'] / med['pow2']:.2f}; loadavg "
              f"{open('/proc/loadavg').read().split()[0]}", flush=True)


def past(args: argparse.Namespace) -> None:
    from int8rt.calib import Histogram

    hits = 0
    for kind in ("normal", "laplace", "uniform", "mix"):
        for seed in range(40):
            rng = np.random.default_rng(seed)
            x = {"normal": lambda: rng.normal(0, 1, 2000), "laplace": lambda: rng.laplace(0, 1, 2000),
                 "uniform": lambda: rng.uniform(-1, 1, 2000),
                 "mix": lambda: np.r_[rng.normal(0, 1, 2000), rng.normal(0, 6, 20)]}[kind]().astype(np.float32)
            h = Histogram(4096, "power_of_two")
            h.collect(x)
            hits += h.compute_amax("entropy") > h.max_abs
    print(f"entropy over every bin of a 4096-bin power-of-two histogram past the maximum: {hits} of 160 draws")


def run(args: argparse.Namespace) -> None:
    import int8rt.calibrator as C

    if args.calibrators:
        C.IInt8Calibrator.__init__.__kwdefaults__.update(BINNINGS[args.calibrators])
    if args.auto:
        C.IInt8AutoCalibrator.__init__.__kwdefaults__.update(BINNINGS[args.auto])
    sys.argv = [args.script] + args.args
    runpy.run_path(args.script, run_name="__main__")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("sweep", "time"):
        p = sub.add_parser(name)
        p.add_argument("--wheel", required=True, help="pesto_pitch-2.0.1-py3-none-any.whl")
        p.add_argument("--archives", nargs="*", default=[])
        p.add_argument("--methods", default="mse,entropy")
        p.add_argument("--binnings", default=SWEEP)
        p.add_argument("--rounds", type=int, default=5)
        p.add_argument("--batch", type=int, default=16, help="sweep: calibration batch size")
    sub.add_parser("past")
    p = sub.add_parser("run")
    p.add_argument("--calibrators", choices=tuple(BINNINGS))
    p.add_argument("--auto", choices=tuple(BINNINGS))
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    {"sweep": sweep, "time": timing, "past": past, "run": run}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
