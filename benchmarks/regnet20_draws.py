"""auto against every single int8rt method and ONNX Runtime INT8 over several
calibration draws, on nets17's networks (benchmarks/realnets/new_families2.py;
issue 12, RESULTS_accuracy.md acc66). Follows newnets_methods.py (same feeds,
engines, metrics: centred cosine against ONNX Runtime FP32, top-1 on the
varying inputs) and acc41_probe.py's ``swap`` (one engine per method and
calibration seed, accuracy check off), and adds:

- ONNX Runtime quantize_static (QDQ, per channel, MinMax: newnets_bench's
  peer) calibrated on each draw too;
- the evaluation images of every seed pooled (centred over all of them: a
  figure on 32 x seeds images, not 32);
- which bundled photographs each calibration draw holds (seg_models.images
  crops them; acc41 found the horse silhouette missing from seed 2);
- auto's own judgement (its INFO log: each set's held-out relative L2, the
  worst fold, the choice);
- variants of a method, ``METHOD/opt/opt``: ``noeq`` / ``nobc`` / ``nous``
  (BuilderConfig equalize / bias_correction / unsigned_activations False),
  ``us`` (unsigned_activations True), ``nocg`` (channel_activations
  False: no per-channel activation grids), ``set=LABEL`` (auto with its
  threshold set forced to LABEL, e.g. minmax; its corrections still decided
  by auto), ``nofolds`` (auto's held-out choice alone).

Usage (from /tmp):
    PYTHONPATH=<wt>/python python3 <wt>/benchmarks/regnet20_draws.py regnet_x_400mf \
        --dir /tmp/regnet20/models --calib-seeds 2,3,5 --eval-seeds 1,4 \
        [--methods auto,minmax,mse,entropy,percentile,ort]
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import logging
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
import realnets.new_families2  # noqa: E402,F401  (registers nets17's networks)
from acc41_probe import photo_of_each  # noqa: E402
from bench_util import machine_line  # noqa: E402
from newnets_methods import _without_folds  # noqa: E402
from realnets import new_models as M  # noqa: E402
from realnets import seg_models as S  # noqa: E402


class _Lines(logging.Handler):
    """Keeps auto's choice lines (held-out errors, folds, corrections)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith(("auto calibration", "bias correction")):
            self.lines.append(msg)


def _run(fn, feeds) -> np.ndarray:
    return B.run_all(fn, feeds, 4)


@contextlib.contextmanager
def _forced(label: str):
    """auto_choice.choose returning set ``label`` whatever it judged ("": unchanged)."""
    from int8rt.accuracy import auto_choice

    choose = auto_choice.choose

    def forced(build, sets, *a, **k):
        c = choose(build, sets, *a, **k)
        return dataclasses.replace(c, label=label, amaxes=dict(sets[label][0]), methods=dict(sets[label][1]),
                                   held_label=label) if label else c
    auto_choice.choose = forced
    try:
        yield
    finally:
        auto_choice.choose = choose


def _outputs(spec: str, path, calib, evals):
    """``spec``'s INT8 outputs on each evaluation set, and auto's log lines."""
    algo, *opts = spec.split("/")
    if algo == "ort":
        from wheelnets_bench import ort_int8

        q, _, _ = ort_int8(str(path), calib, 8)
        qs = M.ort_session(q)
        return {s: _run(lambda f: qs.run(None, f)[0], e) for s, e in evals.items()}, []
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    handler = _Lines()
    log = logging.getLogger("int8rt")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.equalize = False if "noeq" in opts else None
        config.bias_correction = False if "nobc" in opts else None
        config.unsigned_activations = False if "nous" in opts else True if "us" in opts else None
        config.channel_activations = "nocg" not in opts
        config.calibrator = make_calibrator(calib, algorithm=algo, batch_size=8)
        label = next((o.split("=", 1)[1] for o in opts if o.startswith("set=")), "")
        with _forced(label), _without_folds("nofolds" in opts):
            ctx = int8rt.build_engine(str(path), config).create_execution_context()
    finally:
        log.removeHandler(handler)
    return {s: _run(lambda f: ctx.run(f)["out"], e) for s, e in evals.items()}, handler.lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--methods", default="auto,minmax,mse,entropy,percentile,ort")
    ap.add_argument("--dir", default="/tmp/regnet20/models")
    ap.add_argument("--n", type=int, default=32, help="images per calibration / evaluation seed")
    ap.add_argument("--calib-seeds", default="2,3")
    ap.add_argument("--eval-seeds", default="1,4")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    print(machine_line(), flush=True)
    net, path = M.exported(args.name, args.dir)
    eval_seeds = [int(s) for s in args.eval_seeds.split(",")]
    evals = {s: net.feeds(args.n, s) for s in eval_seeds}
    sess = M.ort_session(str(path))
    refs = {s: _run(lambda f: sess.run(None, f)[0], e) for s, e in evals.items()}
    pooled_ref = np.concatenate([refs[s] for s in eval_seeds])
    for s in eval_seeds:
        print(f"evaluation seed {s}: photographs {_photos(args.n, s)}")
    methods = args.methods.split(",")
    table: dict[int, dict[str, tuple[float, ...]]] = {}
    for cs in (int(s) for s in args.calib_seeds.split(",")):
        calib = net.feeds(args.n, cs)
        top = float(np.abs(calib["x"]).max())
        print(f"\ncalibration seed {cs}: photographs {_photos(args.n, cs)}; absent "
              f"{[p for k, p in enumerate(S.PHOTOS) if k not in photo_of_each(args.n, cs)]}")
        print("  share of values above 0.87 of its max |x| " f"{top:.3g}: calibration "
              f"{np.mean(np.abs(calib['x']) > 0.87 * top):.4f}, "
              + ", ".join(f"eval {s} {np.mean(np.abs(e['x']) > 0.87 * top):.4f}" for s, e in evals.items()))
        table[cs] = {}
        for algo in methods:
            outs, lines = _outputs(algo, path, calib, evals)
            per = [B.metrics(net, outs[s], refs[s]) for s in eval_seeds]
            pooled = B.metrics(net, np.concatenate([outs[s] for s in eval_seeds]), pooled_ref)
            table[cs][algo] = tuple(m["ccos"] for m in per) + (pooled["ccos"],)
            top1 = f", pooled top-1 var {pooled['top1_var']:.3f} ({pooled['n_var']})" if "top1_var" in pooled else ""
            print(f"  calib {cs} {algo:12s} " + "  ".join(f"eval {s} {m['ccos']:.4f}" for s, m in zip(eval_seeds, per))
                  + f"  pooled {pooled['ccos']:.4f}{top1}", flush=True)
            for line in lines:
                print(f"      log: {line}")
    print(f"\n{args.name}: centred cosine, eval seeds {eval_seeds} then pooled; auto minus the best other row")
    for cs, rows in table.items():
        if "auto" not in rows or len(rows) < 2:
            continue
        best = [max(v[i] for k, v in rows.items() if k != "auto") for i in range(len(eval_seeds) + 1)]
        print(f"  calib {cs}: auto - best " + "  ".join(f"{a - b:+.4f}" for a, b in zip(rows["auto"], best)))
    return 0


def _photos(n: int, seed: int) -> dict[str, int]:
    return dict(collections.Counter(S.PHOTOS[k].split(".")[0] for k in photo_of_each(n, seed)).most_common())


if __name__ == "__main__":
    sys.exit(main())
