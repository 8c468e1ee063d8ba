"""Silero VAD leave one clip out (benchmarks/silero_clips_loco.py) repeated
over the seeds of the calibration streams' noise: how far auto and each single
method move when only the calibration noise draw changes, so that a 0.01 gap
between two engines' six-clip means can be read against that spread
(RESULTS_accuracy.md acc46: the entropy calibrator's own mean moves
0.881-0.926 with its histogram's bins alone; acc47 here).

Each seed ``s`` of ``--seeds`` replaces the calibration streams' noise seed
(silero_clips_loco.calibration: seed 1, 15 dB) by ``s``; ``--variant`` patches
auto's entropy thresholds as benchmarks/calib13_entropy_binnings.py does; the evaluation
streams (seed 2, 10 dB) and everything else are silero_clips_loco's. Prints
per seed and method the mean over the left-out clips, then over the seeds
the mean, the spread and the paired difference of each method to auto.

    PYTHONPATH=python:tests python benchmarks/calib13_silero_seeds.py --seeds 1,3,5,7 --methods auto,entropy -- --groups none
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from contextlib import redirect_stdout

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import silero_clips_loco as loco  # noqa: E402
from bench_util import machine_line  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,3,5,7")
    ap.add_argument("--methods", default="auto,entropy")
    ap.add_argument("--out", default="", help="the per-build JSON lines of every seed, appended here")
    ap.add_argument("--variant", default="base", help="auto's entropy thresholds: calib13_entropy_binnings.py's")
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="silero_clips_loco.py's other options (after --)")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    if args.variant != "base":
        from calib13_entropy_binnings import patch

        patch(args.variant, [1024, 2048, 3072, 4096], 5)
    streams = loco.streams
    methods = args.methods.split(",")
    means: dict[str, list[float]] = {m: [] for m in methods}
    for seed in [int(s) for s in args.seeds.split(",")]:
        def seeded(names, s, snr_db, _seed=seed):
            return streams(names, _seed if snr_db == 15.0 else s, snr_db)

        loco.streams = seeded
        out = f"/tmp/calib13_seeds_{os.getpid()}_{seed}.jsonl"
        if os.path.exists(out):
            os.remove(out)
        sys.argv = [loco.__file__, "--methods", args.methods, "--out", out] + [a for a in args.rest if a != "--"]
        with redirect_stdout(io.StringIO()):
            loco.main()
        rows = [json.loads(line) for line in open(out)]
        if args.out:
            with open(args.out, "a") as f:
                f.writelines(json.dumps({**r, "calib_seed": seed}) + "\n" for r in rows)
        os.remove(out)
        line = []
        for m in methods:
            mine = [r for r in rows if r["method"] == m]
            means[m].append(float(np.mean([r["ccos"] for r in mine])))
            per = " ".join(f"{r['held']} {r['ccos']:.4f}" + (f" ({r['choice']})" if r.get("choice") else "")
                           for r in mine)
            line.append(f"{m} {means[m][-1]:.5f} [{per}]")
        print(f"seed {seed}: " + "; ".join(line), flush=True)
    print("over the seeds, mean centred cosine over the left-out clips: mean (min-max); paired difference to "
          f"{methods[0]}: mean (min-max)")
    for m in methods:
        v = np.array(means[m])
        d = v - np.array(means[methods[0]])
        print(f"  {m}: {v.mean():.5f} ({v.min():.5f}-{v.max():.5f}); {d.mean():+.5f} ({d.min():+.5f}-{d.max():+.5f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
