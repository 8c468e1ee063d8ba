"""One calibration method at a time on a network of benchmarks/realnets/new_models.py:
int8rt INT8 (and ONNX Runtime INT8: method "ort") against ONNX Runtime FP32 on the evaluation inputs of newnets_bench.py
(centred cosine, top-1 on the varying inputs), each method's engine built from the same
32 calibration inputs in batches of 8; ``auto`` logs its held-out choice (INFO).
Also how far the evaluation inputs reach past the calibration inputs' range.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/newnets_methods.py googlenet \
    --methods auto,minmax,mse,ort --eval-seeds 1,3,4 [--dir /tmp/newnets/models] [--unsigned on]
(``auto_heldout``: auto without its folds, accuracy/crossval.py: its choice before 2026-12-03 late night.)
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from typing import Iterator

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


@contextlib.contextmanager
def _without_folds(on: bool) -> Iterator[None]:
    """While on, auto's folds (int8rt.accuracy.crossval) find no samples to fold."""
    from int8rt.accuracy import crossval

    pool = crossval.pool
    if on:
        crossval.pool = lambda kept, held: None
    try:
        yield
    finally:
        crossval.pool = pool


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--methods", default="auto,minmax,mse,entropy,percentile")
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--layers", action="store_true",
                    help="also int8rt's per-layer comparison (int8rt compare) of each engine on 16 evaluation inputs")
    ap.add_argument("--calib-seed", type=int, default=2, help="calibration set (newnets_bench uses 2)")
    ap.add_argument("--eval-seeds", default="1", help="evaluation sets (new_models feeds seeds; newnets_bench uses 1)")
    ap.add_argument("--unsigned", choices=("default", "on", "off"), default="default",
                    help="BuilderConfig.unsigned_activations for int8rt's engines: default None (auto decides, "
                         "other methods off), on True, off False")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="  log: %(message)s")
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print(machine_line())
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(args.calib, args.calib_seed)
    seeds = [int(s) for s in args.eval_seeds.split(",")]
    sets = {s: net.feeds(args.eval, s) for s in seeds}
    for k in calib:
        top = float(np.abs(calib[k]).max())
        share = ", ".join(f"seed {s} {np.mean(np.abs(e[k]) > 0.87 * top):.4f}" for s, e in sets.items())
        print(f"input {k}: calibration max |x| {top:.3g}; share of values above 0.87 of it: "
              f"calibration {np.mean(np.abs(calib[k]) > 0.87 * top):.4f}, evaluation {share}")
    sess = M.ort_session(str(path))
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in sets.items()}
    for algo in args.methods.split(","):
        if algo in ("ort", "ort_rr", "ort_rr_sym"):  # ONNX Runtime INT8 as newnets_bench.py builds it (MinMax, QDQ,
            # per channel); ort_rr with 7-bit weights (reduce_range), which ORT's u8 x s8 kernels
            # need on x86 without VNNI to keep their int16 pair sums from saturating; ort_rr_sym also
            # with symmetric int8 activations (zero point 0, int8rt's activation grid)
            from wheelnets_bench import ort_int8
            q, build_s, _ = ort_int8(str(path), calib, 8, reduce_range=algo != "ort",
                                     symmetric_activations=algo == "ort_rr_sym")
            qs = M.ort_session(q)
            for s, e in sets.items():
                m = B.metrics(net, B.run_all(lambda f: qs.run(None, f)[0], e, 4), refs[s])
                print(f"{args.name} ONNX Runtime INT8{dict(ort='', ort_rr=' reduce_range', ort_rr_sym=' reduce_range symmetric')[algo]} (build {build_s:.1f} s) evaluation seed {s}: "
                      + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
            continue
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False,
                                      unsigned_activations=dict(default=None, on=True, off=False)[args.unsigned])
        # auto_heldout: auto choosing on its held-out slice alone, without the
        # folds of accuracy/crossval.py (the choice before 2026-12-03 late night)
        config.calibrator = make_calibrator(calib, algorithm="auto" if algo == "auto_heldout" else algo, batch_size=8)
        t0 = time.perf_counter()
        with _without_folds(algo == "auto_heldout"):
            engine = int8rt.build_engine(str(path), config)
        ctx = engine.create_execution_context()
        build_s = time.perf_counter() - t0
        for s, e in sets.items():
            m = B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], e, 4), refs[s])
            print(f"{args.name} {algo} (unsigned {args.unsigned}, build {build_s:.1f} s) evaluation seed {s}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
        if args.layers:
            from int8rt.accuracy.compare import compare, format_comparison

            first = sets[seeds[0]]
            print(format_comparison(compare(str(path), engine, {k: v[:16] for k, v in first.items()}, batch_size=8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
