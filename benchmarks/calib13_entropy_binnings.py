"""Probe (no library change): auto's entropy set with its thresholds read
from several binnings of the same histogram, to take the histogram's bins,
which no method's definition fixes, out of the choice (RESULTS_accuracy.md
acc46: on Silero's unlabelled stream the entropy calibrator's own mean moves
0.881-0.926 with the binning alone; acc47 here).

``--variant`` replaces the entropy threshold auto_choice / crossval read
(auto.method_amax, patched in this process only) by:

- ``base``: the library's (entropy on auto's 4096 bins over a power of two);
- ``median``: the median of entropy's thresholds over the histogram re-binned
  to ``B`` bins over [0, max] for each ``B`` of ``--bins`` (counts split in
  proportion inside a source bin) and over the histogram as it is;
- ``geomean``: the same thresholds' geometric mean;
- ``smooth``: entropy on the histogram with each count averaged over
  ``--window`` adjacent bins.

Then it runs benchmarks/silero_clips_loco.py (calib12_flashvad_loco.py with
``--net flashvad``, acc45_single_fit_wide.py with ``--net single``) with the
remaining arguments:

    PYTHONPATH=python:tests python benchmarks/calib13_entropy_binnings.py --variant median -- --methods auto --groups none
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def rebinned(hist, bins: int):
    """``hist`` re-binned to ``bins`` bins over [0, max]: the cumulative count
    interpolated linearly inside each source bin, rounded, differenced."""
    from int8rt.calib import Histogram

    counts = np.asarray(hist.counts, np.float64)
    width = float(hist.bin_width)
    top = float(hist.max_abs)
    if width <= 0.0 or top <= 0.0:
        return hist
    cdf = np.concatenate([[0.0], np.cumsum(counts)])
    edges = np.arange(len(counts) + 1) * width
    new_edges = np.linspace(0.0, top, bins + 1)
    at = np.rint(np.interp(new_edges, edges, cdf))
    at[-1] = cdf[-1]
    new = np.diff(at).astype(np.int64)
    return Histogram.from_counts(new, top / bins, max_abs=top)


def smoothed(hist, window: int):
    from int8rt.calib import Histogram

    counts = np.asarray(hist.counts, np.float64)
    kernel = np.ones(window) / window
    sm = np.convolve(counts, kernel, mode="same")
    sm = np.rint(sm * counts.sum() / max(sm.sum(), 1.0)).astype(np.int64)
    return Histogram.from_counts(sm, float(hist.bin_width), max_abs=float(hist.max_abs))


def patch(variant: str, bins: list[int], window: int) -> None:
    import int8rt.accuracy.auto as auto
    import int8rt.accuracy.auto_choice as auto_choice

    base = auto.method_amax

    def method_amax(hist, label, options, *, exact=False):
        if label.split()[0] != "entropy" or variant == "base" or float(hist.max_abs) <= 0.0:
            return base(hist, label, options, exact=exact)
        if variant == "smooth":
            return base(smoothed(hist, window), label, options, exact=exact)
        ts = [base(hist, label, options, exact=exact)] + [base(rebinned(hist, b), label, options, exact=exact)
                                                          for b in bins]
        ts = np.asarray(ts, np.float64)
        out = float(np.median(ts)) if variant == "median" else float(np.exp(np.mean(np.log(ts))))
        return float(np.float32(out))

    auto.method_amax = method_amax
    auto_choice.method_amax = method_amax


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=("base", "median", "geomean", "smooth"), default="base")
    ap.add_argument("--bins", default="1024,2048,3072,4096")
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--net", choices=("silero", "flashvad", "single"), default="silero")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    patch(args.variant, [int(b) for b in args.bins.split(",") if b], args.window)
    rest = [a for a in args.rest if a != "--"]
    print(f"variant {args.variant}, bins {args.bins}, window {args.window}", flush=True)
    if args.net == "flashvad":
        import calib12_flashvad_loco as target
    elif args.net == "single":
        import acc45_single_fit_wide as target
    else:
        import silero_clips_loco as target
    sys.argv = [target.__file__] + rest
    return target.main()


if __name__ == "__main__":
    sys.exit(main())
