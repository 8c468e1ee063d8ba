"""acc61: runs a benchmark harness with auto changed in one way (a patch of
this process only; the library is not changed), to measure a rule before
building it:

- ``nocut``: auto's entropy set searches its whole power-of-two histogram
  again (auto.to_maximum the identity: as before acc53). acc61 made that
  the library's rule and removed to_maximum: on a tree after acc61 this
  variant changes nothing;
- ``clamp``: auto's entropy set is TensorRT's search over the whole
  histogram, lowered to the data's maximum where it lands past it (instead
  of acc53's search over the bins up to the maximum);
- ``bias-on``: bias correction forced on (``BuilderConfig(bias_correction=True)``
  for every build: CalibrationRun's option);
- ``polish:F1,F2,...``: after the whole-network choice, the chosen set's
  thresholds on the tensors held in int8 each scaled by F, each engine
  judged by auto's judge, and the lowest of those clearly below the chosen
  set's (auto_choice._Errors.clearly_below) kept; the chosen method's final
  thresholds (apply_methods) scaled by the same factor.

``-v`` logs auto's decisions (the "int8rt" logger at INFO).

Usage: PYTHONPATH=python:benchmarks python benchmarks/refine12_variants.py clamp [-v] benchmarks/issue11_gap_probe.py minilm_l6 auto --dir /tmp/verify11/models
"""
from __future__ import annotations

import logging
import os
import runpy
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def nocut() -> None:
    import int8rt.accuracy.auto as A

    A.to_maximum = lambda hist: hist


def clamp() -> None:
    import int8rt.accuracy.auto as A
    import int8rt.accuracy.auto_choice as C

    original = A.method_amax

    def method_amax(hist, label, options, *, exact=False):
        if label.split()[0] != "entropy":
            return original(hist, label, options, exact=exact)
        return float(np.float32(min(float(hist.compute_amax("entropy", **options)), float(hist.max_abs))))

    A.method_amax = C.method_amax = method_amax


def bias_on() -> None:
    from int8rt.accuracy import run as R

    original = R.CalibrationRun.__init__

    def init(self, *args, **kwargs):
        kwargs["bias_correction"] = True
        original(self, *args, **kwargs)

    R.CalibrationRun.__init__ = init


def polish(factors: list[float]) -> None:
    from int8rt._numerics import scale_from_amax
    from int8rt.accuracy import auto_choice as A

    choose, apply_methods = A.choose, A.apply_methods
    state = {"factor": 1.0}

    def polished(build, sets, int8_names, judge, engines=None, folds=None):
        choice = choose(build, sets, int8_names, judge, engines=engines, folds=folds)
        base = best = choice.errors[choice.label]
        state["factor"] = 1.0
        tried = []
        for f in factors:
            amaxes = {n: a * f if n in int8_names else a for n, a in choice.amaxes.items()}
            e = judge(build({n: scale_from_amax(a) for n, a in amaxes.items()}))
            clearly = e.clearly_below(base)
            tried.append(f"x{f} {e.relative_l2:.4f}{' (clearly below)' if clearly else ''}")
            if clearly and e.relative_l2 < best.relative_l2:
                best, state["factor"] = e, f
        print(f"polish: {choice.label} {base.relative_l2:.4f} on the judge's samples; " + ", ".join(tried)
              + f"; kept x{state['factor']}", flush=True)
        return choice

    def scaled(collector, methods, names, amaxes):
        out = apply_methods(collector, methods, names, amaxes)
        return {n: a * state["factor"] if n in names else a for n, a in out.items()}

    A.choose, A.apply_methods = polished, scaled


def main() -> None:
    variant, rest = sys.argv[1], sys.argv[2:]
    if "-v" in rest:
        rest.remove("-v")
        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("int8rt").setLevel(logging.INFO)
    if variant.startswith("polish:"):
        polish([float(f) for f in variant.split(":", 1)[1].split(",")])
    else:
        {"nocut": nocut, "clamp": clamp, "bias-on": bias_on}[variant]()
    sys.argv = rest
    runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main()
