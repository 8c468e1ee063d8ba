"""Silero VAD's unlabelled five-clip stream (benchmarks/silero_clips_loco.py,
``--groups none``), each left-out clip streamed through engines of one method
calibrated on histograms of four binnings (bins x range policy: TensorRT's
2048 over the first batch's maximum grown as needed, "extend"; auto's 4096 over
a power-of-two range; and the two crossed): how far the binning alone, which
no method's definition fixes, moves a left-out clip and the mean, beside the
0.01 by which auto (4096, power of two) was behind the entropy calibrator
(2048, extend) there (RESULTS_accuracy.md acc45 / acc46).

    PYTHONPATH=python:tests python benchmarks/calib12_silero_binnings.py --methods entropy,auto
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from silero_clips_loco import CLIPS, calibration, metrics, streams  # noqa: E402
from silero_fixed import network, streamed  # noqa: E402

BINNINGS = ((2048, "extend"), (4096, "power_of_two"), (2048, "power_of_two"), (4096, "extend"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="entropy,auto")
    ap.add_argument("--left-out", default=",".join(CLIPS))
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    import int8rt
    from test_audio_models import silero_file

    print(machine_line(), flush=True)
    path = silero_file("silero_vad.onnx")
    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    rows = []
    for held in args.left_out.split(","):
        feeds, _ = calibration(fp32, [n for n in CLIPS if n != held], "none")
        ev = streams([held], 2, 10.0)[0]
        want, _ = streamed(fp32, ev)
        for method in args.methods.split(","):
            for bins, policy in BINNINGS:
                cal = int8rt.make_calibrator([dict(f) for f in feeds], algorithm=method, num_bins=bins, policy=policy)
                engine = int8rt.build_engine(network(path), int8rt.BuilderConfig(calibrator=cal))
                m = metrics(streamed(engine, ev)[0], want)
                choice = (engine.build_report().auto_choice or {}).get("thresholds")
                row = {"held": held, "method": method, "bins": bins, "policy": policy, "choice": choice,
                       **{k: round(v, 5) for k, v in m.items()}}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    print("mean centred cosine over the left-out clips, per method and binning:")
    for method in args.methods.split(","):
        for bins, policy in BINNINGS:
            mine = [r["ccos"] for r in rows if r["method"] == method and (r["bins"], r["policy"]) == (bins, policy)]
            print(f"  {method} {bins} {policy}: {np.mean(mine):.5f} ({len(mine)} clips)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
