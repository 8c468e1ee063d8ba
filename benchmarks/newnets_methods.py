"""One calibration method at a time on a network of benchmarks/realnets/new_models.py:
int8rt INT8 (and ONNX Runtime INT8: method "ort") against ONNX Runtime FP32 on the evaluation inputs of newnets_bench.py
(centred cosine, top-1 on the varying inputs), each method's engine built from the same
32 calibration inputs in batches of 8; ``auto`` logs its held-out choice (INFO).
Also how far the evaluation inputs reach past the calibration inputs' range.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/newnets_methods.py googlenet \
    --methods auto,minmax,mse,ort --eval-seeds 1,3,4 [--dir /tmp/newnets/models] [--unsigned on] \
    [--families realnets.new_families2] [--json out.jsonl]
(``auto_heldout``: auto without its folds, accuracy/crossval.py: its choice before 2026-12-03 late night;
``auto_input``: auto with every float32 network input held at its calibration range, acc22_input_rule.py's ``input``;
``fp32``: int8rt's FP32 engine, its max |diff| / max |ref| to ONNX Runtime FP32 as well. A method that raises is
printed and recorded as the finding, and the next method runs.)
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
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


@contextlib.contextmanager
def _at_range_rule(name: str) -> Iterator[None]:
    """While in, auto holds the tensors acc22_input_rule.py's rule ``name`` names at their range."""
    from acc22_input_rule import rule
    from int8rt.accuracy import run

    before = run.input_image
    run.input_image = rule(name, before)
    try:
        yield
    finally:
        run.input_image = before


def _families(argv: list) -> None:
    """Imports the modules named by ``--families`` (they add nets to M.NETS) before the parser lists the names."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--families", default="")
    for mod in filter(None, pre.parse_known_args(argv)[0].families.split(",")):
        importlib.import_module(mod)


def main() -> int:
    _families(sys.argv[1:])
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
    ap.add_argument("--families", default="",
                    help="comma-separated modules that add nets to new_models.NETS when imported "
                         "(e.g. realnets.new_families2)")
    ap.add_argument("--json", help="append one JSON line per method and evaluation set here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="  log: %(message)s")
    import int8rt

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

    def record(algo: str, build_s: float, s: int, m: dict) -> None:
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(dict(name=args.name, method=algo, calib=args.calib, calib_seed=args.calib_seed,
                                        eval=args.eval, eval_seed=s, build_s=round(build_s, 2), **m),
                                   default=float) + "\n")

    for algo in args.methods.split(","):
        try:
            _method(args, algo, net, path, calib, sets, refs, record)
        except Exception as e:  # noqa: BLE001 - a refusal or a crash is the finding; the other methods still run
            msg = f"{type(e).__name__}: {str(e)[:400]}"
            print(f"{args.name} {algo}: FAILED {msg}", flush=True)
            for s in sets:
                record(algo, float("nan"), s, {"error": msg})
    return 0


def _method(args, algo: str, net, path, calib, sets, refs, record) -> None:
    """Builds one method's engine (``ort``*: ONNX Runtime's), prints and records its metrics on every evaluation set."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    if algo == "fp32":  # int8rt's float engine: the import check of newnets_bench's import phase
        t0 = time.perf_counter()
        ctx = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32")).create_execution_context()
        build_s = time.perf_counter() - t0
        for s, e in sets.items():
            out = B.run_all(lambda f: ctx.run(f)["out"], e, 4)
            m = dict(B.metrics(net, out, refs[s]),
                     max_rel=float(np.max(np.abs(out - refs[s])) / max(float(np.max(np.abs(refs[s]))), 1e-30)))
            print(f"{args.name} int8rt FP32 (build {build_s:.1f} s) evaluation seed {s}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
            record(algo, build_s, s, m)
        return
    if algo in ("ort", "ort_rr", "ort_rr_sym"):  # ONNX Runtime INT8 as newnets_bench.py builds it (MinMax, QDQ,
        # per channel); ort_rr with 7-bit weights (reduce_range), which ORT's u8 x s8 kernels
        # need on x86 without VNNI to keep their int16 pair sums from saturating; ort_rr_sym also
        # with symmetric int8 activations (zero point 0, int8rt's activation grid)
        from wheelnets_bench import ort_int8
        q, build_s, _ = ort_int8(str(B.one_file(path)), calib, 8, reduce_range=algo != "ort",
                                 symmetric_activations=algo == "ort_rr_sym")
        qs = M.ort_session(q)
        for s, e in sets.items():
            m = B.metrics(net, B.run_all(lambda f: qs.run(None, f)[0], e, 4), refs[s])
            print(f"{args.name} ONNX Runtime INT8{dict(ort='', ort_rr=' reduce_range', ort_rr_sym=' reduce_range symmetric')[algo]} (build {build_s:.1f} s) evaluation seed {s}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
            record(algo, build_s, s, m)
        return
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False,
                                  unsigned_activations=dict(default=None, on=True, off=False)[args.unsigned])
    # auto_heldout: auto choosing on its held-out slice alone, without the
    # folds of accuracy/crossval.py (the choice before 2026-12-03 late night)
    config.calibrator = make_calibrator(calib, algorithm="auto" if algo.startswith("auto_") else algo, batch_size=8)
    t0 = time.perf_counter()
    with _without_folds(algo == "auto_heldout"), _at_range_rule("input" if algo == "auto_input" else "library"):
        engine = int8rt.build_engine(str(path), config)
    ctx = engine.create_execution_context()
    build_s = time.perf_counter() - t0
    for s, e in sets.items():
        m = B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], e, 4), refs[s])
        print(f"{args.name} {algo} (unsigned {args.unsigned}, build {build_s:.1f} s) evaluation seed {s}: "
              + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
        record(algo, build_s, s, m)
    if args.layers:
        from int8rt.accuracy.compare import compare, format_comparison

        first = next(iter(sets.values()))
        print(format_comparison(compare(str(path), engine, {k: v[:16] for k, v in first.items()}, batch_size=8)))


if __name__ == "__main__":
    sys.exit(main())
