"""acc61: is auto's remaining gap to the best single method its candidates
(the thresholds each set holds, searched on auto's own 4096-bin
power-of-two histograms) or its choice (the judge)?

For each draw of PESTO (benchmarks/calib16_pesto.py) or an MTCNN stage
(benchmarks/calib15_mtcnn.py), the engines built as the harnesses build them
(batch 16, accuracy_check off) and their relative L2 to float32 on the
evaluation samples (metrics.relative_l2, as the harnesses report it):

- each single calibrator on its default grid (2048 bins, "extend"), its
  thresholds read from its calibration cache;
- auto as it is: its choice, and each set's thresholds on the tensors the
  engine holds in int8 against the same method's calibrator, tensor by
  tensor (the set's exact search over every calibration sample, as the
  chosen set's thresholds are computed: auto_choice.apply_methods);
- auto with the calibrators' exact thresholds as its candidate sets
  (``calibrators' sets``): auto's machinery (judge, folds, float stem,
  unsigned form, bias correction) unchanged, but each set's thresholds the
  calibrator's, and the chosen set's final thresholds the calibrator's too;
- auto on the calibrators' grid (``IInt8AutoCalibrator(num_bins=2048,
  policy="extend")``: its sets searched by its own code on that grid);
- with ``--swap LABEL``: auto with the calibrators' sets, the set LABEL
  holding all of auto's own thresholds, then each tensor's alone (the
  calibrator's elsewhere): what each threshold auto's grid moves costs.

Usage: PYTHONPATH=python:benchmarks:tests python benchmarks/refine12_probe.py --net pesto
       PYTHONPATH=python:benchmarks:tests python benchmarks/refine12_probe.py --net rnet [--draws 1,2,3,4]
       PYTHONPATH=python:benchmarks:tests python benchmarks/refine12_probe.py --net pesto --draws 1 --variants swap --swap mse
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from typing import Any, Iterator

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import judge12_bins  # noqa: E402

ARCHIVES = ("/tmp/calib16/dl/pysptk-1.0.1.tar.gz", "/tmp/calib16/dl/amfm_decompy-1.0.12.2-py3-none-any.whl")
# auto's set label -> the calibrator of the same method
CALIBRATOR = {"minmax": "minmax", "mse": "mse", "percentile 99.99": "percentile", "entropy": "entropy"}


def draws(net: str, wanted: list[int]) -> Iterator[tuple[int, bytes, np.ndarray, np.ndarray]]:
    """(draw, model, calibration samples, evaluation samples) as the harnesses
    draw them (judge12_bins.draws, PESTO with the speech archives)."""
    return judge12_bins.draws(net, wanted, ARCHIVES)


class Capture:
    """Records what auto's run hands auto_choice: the sets, the tensors held
    in int8, the choice, and the collector its final thresholds come from."""

    def __init__(self) -> None:
        self.sets: dict[str, Any] = {}
        self.int8: set[str] = set()
        self.label = ""
        self.held_label = ""
        self.collector: Any = None
        self.final: dict[str, float] = {}


@contextlib.contextmanager
def patched(capture: Capture, calibrators: dict[str, dict[str, float]] | None = None):
    """auto_choice's choose / apply_methods (and, with ``calibrators``:
    label -> the calibrator's thresholds, single_method_sets) wrapped."""
    from int8rt.accuracy import auto_choice as A

    orig = A.choose, A.apply_methods, A.single_method_sets

    def choose(build, sets, int8_names, judge, engines=None, folds=None):
        capture.sets, capture.int8 = dict(sets), set(int8_names)
        choice = orig[0](build, sets, int8_names, judge, engines=engines, folds=folds)
        capture.label, capture.held_label = choice.label, choice.held_label
        return choice

    def apply_methods(collector, methods, names, amaxes):
        out = orig[1](collector, methods, names, amaxes)
        if calibrators is not None:
            label = next(iter(methods.values()), "").removeprefix("auto:").removeprefix("all ")
            if label in calibrators:
                out = {**out, **{n: calibrators[label][n] for n in names if n in calibrators[label]}}
        capture.collector, capture.final = collector, dict(out)
        return out

    def single_method_sets(collector, names, exact=None, methods=A.GLOBAL_METHODS, at_range=frozenset(),
                           unsigned=frozenset()):
        sets = orig[2](collector, names, exact=exact, methods=methods, at_range=at_range, unsigned=unsigned)
        for label, (amaxes, per) in sets.items():
            if label in calibrators:
                amaxes.update({n: calibrators[label][n] for n in names if n in calibrators[label]
                               and n not in at_range})
        return sets

    A.choose, A.apply_methods = choose, apply_methods
    if calibrators is not None:
        A.single_method_sets = single_method_sets
    try:
        yield
    finally:
        A.choose, A.apply_methods, A.single_method_sets = orig


def compare(auto: dict[str, float], cal: dict[str, float], names: set[str]) -> str:
    """How far auto's thresholds are from the calibrator's on ``names``."""
    common = [n for n in sorted(names) if n in auto and n in cal and cal[n] > 0]
    if not common:
        return "no common tensors"
    r = np.array([auto[n] / cal[n] for n in common])
    far = np.abs(np.log(r)) > np.log(1.01)
    worst = common[int(np.argmax(np.abs(np.log(r))))]
    return (f"{len(common)} tensors, {int(far.sum())} differ by >1 %, median ratio {np.median(r):.4f}, "
            f"range {r.min():.3f}-{r.max():.3f} (worst {worst}: {auto[worst]:.5g} vs {cal[worst]:.5g})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="pesto", help="pnet, rnet, onet or pesto")
    ap.add_argument("--draws", default="")
    ap.add_argument("--variants", default="auto,calibrators,extend", help="and swap (with --swap)")
    ap.add_argument("--swap", default="mse", help="the set whose thresholds --variants swap swaps")
    args = ap.parse_args()
    import int8rt
    from int8rt._numerics import amax_from_scale
    from int8rt.accuracy import metrics as M
    from int8rt.accuracy.auto import method_amax, options
    from int8rt.calib.cache import read_cache
    from int8rt.data_calibrator import make_calibrator
    from realnets import engines as E

    int8rt.set_num_threads(1)
    wanted = [int(d) for d in args.draws.split(",")] if args.draws else ([1, 2] if args.net == "pesto" else [1, 2, 3, 4])
    variants = args.variants.split(",")
    for d, onnx, xc, xe in draws(args.net, wanted):
        name = E._input_name(onnx)
        fp32, _ = E.int8rt_engine(onnx, "fp32", None, None)
        ref = E.run_batched(E.int8rt_runner(fp32), xe)

        def build(alg: str, cache: str | None = None, **opts: Any) -> tuple[float, float]:
            cal = make_calibrator({name: xc}, algorithm=alg, batch_size=16, cache_file=cache, **opts)
            t0 = time.process_time()
            eng = int8rt.build_engine(onnx, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False))
            sec = time.process_time() - t0
            return M.relative_l2(ref, E.run_batched(E.int8rt_runner(eng), xe)), sec

        cals: dict[str, dict[str, float]] = {}
        line = []
        with tempfile.TemporaryDirectory() as tmp:
            for label, alg in CALIBRATOR.items():
                path = os.path.join(tmp, alg + ".cache")
                err, sec = build(alg, path)
                cals[label] = {n: amax_from_scale(s) for n, s in read_cache(open(path, "rb").read())[2].items()}
                line.append(f"{alg} {err:.4f}")
        print(f"{args.net} draw {d}: calibrators (default grid): " + ", ".join(line), flush=True)
        if "auto" in variants:
            cap = Capture()
            with patched(cap):
                err, sec = build("auto")
            print(f"  auto: {err:.4f} ({sec:.1f} s CPU), chose {cap.label} (held-out alone {cap.held_label})",
                  flush=True)
            for label in CALIBRATOR:
                exact = {n: method_amax(cap.collector.histogram(n), label, options(label), exact=True)
                         for n in cap.int8 if n in cap.collector}
                print(f"    {label}: auto's set (every sample, exact) vs calibrator: {compare(exact, cals[label], cap.int8)}")
                if label in cap.sets:
                    print(f"    {label}: auto's set as judged (kept samples, strided) vs calibrator: "
                          f"{compare(cap.sets[label][0], cals[label], cap.int8)}")
        if "calibrators" in variants:
            cap = Capture()
            with patched(cap, cals):
                err, sec = build("auto")
            print(f"  auto, calibrators' sets: {err:.4f} ({sec:.1f} s CPU), chose {cap.label} "
                  f"(held-out alone {cap.held_label})", flush=True)
        if "extend" in variants:
            cap = Capture()
            with patched(cap):
                err, sec = build("auto", num_bins=2048, policy="extend")
            print(f"  auto on the calibrators' grid: {err:.4f} ({sec:.1f} s CPU), chose {cap.label} "
                  f"(held-out alone {cap.held_label})", flush=True)
        if "swap" in variants:
            cap = Capture()
            with patched(cap):
                build("auto")
            label = args.swap
            own = {n: method_amax(cap.collector.histogram(n), label, options(label), exact=True)
                   for n in cap.int8 if n in cap.collector}

            def with_set(amaxes: dict[str, float]) -> str:
                c = Capture()
                with patched(c, {label: amaxes}):
                    err, _ = build("auto")
                return f"{err:.4f} (chose {c.label})"

            print(f"  swap {label}: the calibrator's set {with_set(cals[label])}, auto's own thresholds in it "
                  f"{with_set({**cals[label], **own})}", flush=True)
            for n in sorted((n for n in own if n in cals[label] and abs(own[n] / cals[label][n] - 1) > 1e-4),
                            key=lambda n: -abs(own[n] / cals[label][n] - 1)):
                print(f"    {n}: auto {own[n]:.5g}, calibrator {cals[label][n]:.5g}: "
                      f"{with_set({**cals[label], n: own[n]})}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
