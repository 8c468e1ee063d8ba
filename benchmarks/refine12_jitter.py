"""acc61: how rough an engine's error is in its thresholds, and whether the
calibration samples can see that roughness.

For each draw of PESTO or an MTCNN stage (refine12_probe.draws: the
harnesses' data), each calibrator of ``--methods`` on its default grid; then
``--seeds`` engines with that calibrator's thresholds each multiplied by
``1 + U(-amp, amp)`` (a fresh draw per tensor and seed; read back through
the calibration cache). Printed per method: the exact engine's relative L2
to float32 on the evaluation samples, the jittered engines' median and
range and how many are below the exact one; and, over the exact and
jittered engines, Spearman's rank correlation between their relative L2 on
every ``--every``-th calibration sample (auto's held-out slice at its
default holdout_every 4) and on the evaluation samples, with the
evaluation error of the engine lowest on that slice: whether a search
among thresholds this close, judged on calibration samples, could pick the
engines that are better on the evaluation samples.

Usage: PYTHONPATH=python:benchmarks:tests python benchmarks/refine12_jitter.py --net pesto --methods mse,entropy
       PYTHONPATH=python:benchmarks:tests python benchmarks/refine12_jitter.py --net rnet --methods mse,percentile
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from refine12_probe import draws  # noqa: E402


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (no ties expected among float errors)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="pesto", help="pnet, rnet, onet or pesto")
    ap.add_argument("--draws", default="")
    ap.add_argument("--methods", default="mse")
    ap.add_argument("--amp", type=float, default=0.005)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--every", type=int, default=4)
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy import metrics as M
    from int8rt.calib.cache import read_cache, write_cache
    from int8rt.data_calibrator import make_calibrator
    from realnets import engines as E

    int8rt.set_num_threads(1)
    wanted = [int(d) for d in args.draws.split(",")] if args.draws else ([1, 2] if args.net == "pesto" else [1, 2, 3, 4])
    for d, onnx, xc, xe in draws(args.net, wanted):
        name = E._input_name(onnx)
        fp32 = E.int8rt_runner(E.int8rt_engine(onnx, "fp32", None, None)[0])
        held = xc[::args.every]
        ref, ref_held = E.run_batched(fp32, xe), E.run_batched(fp32, held)
        for alg in args.methods.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "cache")

                def build() -> tuple[float, float]:
                    cal = make_calibrator({name: xc}, algorithm=alg, batch_size=16, cache_file=path)
                    run = E.int8rt_runner(int8rt.build_engine(onnx, int8rt.BuilderConfig(calibrator=cal,
                                                                                          accuracy_check=False)))
                    return (M.relative_l2(ref_held, E.run_batched(run, held)),
                            M.relative_l2(ref, E.run_batched(run, xe)))

                errs = [build()]  # computes the cache; the jittered engines read theirs from it
                header, _, scales = read_cache(open(path, "rb").read())
                for seed in range(args.seeds):
                    rng = np.random.default_rng(seed)
                    jittered = {n: float(s * (1.0 + rng.uniform(-args.amp, args.amp))) for n, s in scales.items()}
                    with open(path, "wb") as f:
                        f.write(write_cache(jittered, header))
                    errs.append(build())
            h, e = np.array(errs).T
            print(f"{args.net} draw {d} {alg}: exact {e[0]:.4f}; thresholds x (1 +- {args.amp}), {args.seeds} seeds: "
                  f"median {np.median(e[1:]):.4f}, range {e[1:].min():.4f}-{e[1:].max():.4f}, "
                  f"{int((e[1:] < e[0]).sum())} below exact; every {args.every}th calibration sample ({len(held)}) "
                  f"against evaluation, all {len(e)} engines: Spearman {spearman(h, e):.2f}, the engine lowest there "
                  f"{e[int(np.argmin(h))]:.4f} on evaluation", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
