"""Why ``auto`` picks other thresholds than its own ``minmax`` on a new
network, and whose images disagree (RESULTS_accuracy.md, acc41). Three
probes on newnets_bench.py's networks, feeds and metrics (centred cosine
against ONNX Runtime FP32):

- ``choice``: builds with each algorithm, accuracy check on; prints the
  evaluation score, the build report's ``auto_choice`` (each set's held-out
  error, the fold scores) and its warnings (is ``entropy`` silent where it
  collapses the output?).
- ``swap``: one engine per method and calibration seed (accuracy check off,
  as newnets4_algorithms.py), each scored on the images of every
  evaluation seed (``*``: the calibration images themselves).
- ``photo``: per bundled photograph the images were cropped from
  (seg_models.images' draws replayed), the two methods' summed squared
  error of the centred class scores (each side less its mean over all the
  images) and the FP32 centred energy.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc41_probe.py choice shufflenet_v2 --dir D
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402  (registers newnets4_families' nets)
from realnets import new_models as M  # noqa: E402
from realnets import seg_models as S  # noqa: E402


def _engine(path, calib, algorithm: str, check: bool):
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    config = int8rt.BuilderConfig(precision="int8", accuracy_check=check)
    config.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=8)
    return int8rt.build_engine(str(path), config)


def _outputs(ctx, feeds) -> np.ndarray:
    return B.run_all(lambda f: ctx.run(f)["out"], feeds, 4)


def choice(net, path, sess, args) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    evals = net.feeds(args.n, 1)
    ref = B.run_all(lambda f: sess.run(None, f)[0], evals, 4)
    for algorithm in args.algorithms.split(","):
        engine = _engine(path, net.feeds(args.n, args.calib_seeds[0]), algorithm, True)
        report = engine.build_report()
        print(f"== {algorithm}: evaluation", B.metrics(net, _outputs(engine.create_execution_context(), evals), ref))
        if report.auto_choice:
            print("auto_choice", json.dumps(report.auto_choice, indent=1, default=str))
        print("outputs", [o.__dict__ for o in report.outputs])
        print(f"warnings ({len(report.warnings)}):")
        for w in report.warnings:
            print("  ", w[:300])
        sys.stdout.flush()


def swap(net, path, sess, args) -> None:
    evals = {s: net.feeds(args.n, s) for s in args.eval_seeds}
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in evals.items()}
    for cs in args.calib_seeds:
        for algorithm in args.algorithms.split(","):
            ctx = _engine(path, net.feeds(args.n, cs), algorithm, False).create_execution_context()
            row = (f"eval {s}{'*' if s == cs else ''} {B.metrics(net, _outputs(ctx, e), refs[s])['ccos']:.4f}"
                   for s, e in evals.items())
            print(f"calib {cs} {algorithm:8s}", "  ".join(row), flush=True)


def photo_of_each(n: int, seed: int) -> list[int]:
    """The photograph index of each of seg_models.images(n, ., seed)'s images
    (its draws replayed in order)."""
    rng, src, out = np.random.default_rng(seed), S.photos(), []
    for _ in range(n):
        k = int(rng.integers(len(src)))
        H, W = src[k].shape[:2]
        ch, cw = int(H * rng.uniform(0.25, 1.0)), int(W * rng.uniform(0.25, 1.0))
        rng.integers(H - ch + 1), rng.integers(W - cw + 1), rng.integers(2)
        out.append(k)
    return out


def photo(net, path, sess, args) -> None:
    seeds = args.eval_seeds
    feeds = [net.feeds(args.n, s) for s in seeds]
    which = np.concatenate([photo_of_each(args.n, s) for s in seeds])
    seed_of = np.repeat(seeds, args.n)
    ref = np.concatenate([B.run_all(lambda f: sess.run(None, f)[0], e, 4) for e in feeds])
    ref = ref - ref.mean(0)
    energy = np.square(ref).reshape(len(ref), -1).sum(1)
    a, b = args.algorithms.split(",")[:2]
    err = {}
    for algorithm in (a, b):
        ctx = _engine(path, net.feeds(args.n, args.calib_seeds[0]), algorithm, False).create_execution_context()
        got = np.concatenate([_outputs(ctx, e) for e in feeds])
        err[algorithm] = np.square(got - got.mean(0) - ref).reshape(len(ref), -1).sum(1)
    print(f"per photograph (images over seeds {seeds}; calibrated on seed {args.calib_seeds[0]}): "
          f"summed centred squared error {a} / {b}, and the FP32 centred energy")
    for k in sorted(set(which.tolist()), key=lambda k: err[b][which == k].sum() - err[a][which == k].sum()):
        m = which == k
        counts = dict(sorted(collections.Counter(seed_of[m].tolist()).items()))
        print(f"  {S.PHOTOS[k]:24s} images {int(m.sum()):3d} (per seed {counts}) "
              f"{a} {err[a][m].sum():9.1f}  {b} {err[b][m].sum():9.1f}  energy {energy[m].sum():9.1f}")
    for s in seeds:
        print(f"seed {s}: absent {[S.PHOTOS[k] for k in range(len(S.PHOTOS)) if k not in which[seed_of == s]]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probe", choices=("choice", "swap", "photo"))
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--algorithms", default="auto,minmax,mse,entropy")
    ap.add_argument("--calib-seeds", default="2", help="choice / photo: the first only")
    ap.add_argument("--eval-seeds", default="1,2,3,4", help="swap / photo (choice: seed 1)")
    ap.add_argument("--n", type=int, default=32, help="images per seed")
    args = ap.parse_args()
    args.calib_seeds = [int(s) for s in args.calib_seeds.split(",")]
    args.eval_seeds = [int(s) for s in args.eval_seeds.split(",")]
    import int8rt

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    {"choice": choice, "swap": swap, "photo": photo}[args.probe](net, path, M.ort_session(str(path)), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
