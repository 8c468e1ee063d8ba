"""acc45: the single fit (Silero VAD calibrated on ARCTIC alone, acc23 /
acc26 / acc29's protocol) streamed on every other clip of
benchmarks/silero_clips_loco.py, not on amfm-decompy's alone: does the
prior (mse where one recording is seen) hold beyond the one clip it was
read on? Per engine (auto as is; auto with the calibration stream cut into
K contiguous blocks named as recordings, acc45_block_groups.py; single
methods), the centred cosine of p(speech) against FP32 streamed on each
left-out clip (8 streams, 10 dB noise seed 2, as silero_clips_loco.py) and
the mean (benchmarks/RESULTS_accuracy.md, acc45). ``auto-prior``: auto with
recordings.py's blocks of one stream switched off (the rule before acc45:
one recording seen, the prior). ``--fit`` takes several clips: each a
single fit of its own, streamed on the five others.

    PYTHONPATH=python:tests python benchmarks/acc45_single_fit_wide.py --engines auto,auto:3,auto:5,auto:8,mse,entropy,percentile
    PYTHONPATH=python:tests python benchmarks/acc45_single_fit_wide.py --engines auto,auto-prior --fit arctic,arctic_up,synth1,synth2
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from acc45_block_groups import block_labels  # noqa: E402
from bench_util import machine_line  # noqa: E402
from silero_clips_loco import CLIPS, calibration, metrics, streams  # noqa: E402
from silero_fixed import build, network, streamed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="auto,auto:3,auto:5,auto:8,mse,entropy,percentile",
                    help="make_calibrator names; auto:K = auto with K contiguous blocks named")
    ap.add_argument("--fit", default="arctic", help="the clips calibrated on, each a fit of its own")
    args = ap.parse_args()
    import int8rt
    from test_audio_models import silero_file

    print(machine_line(), flush=True)
    path = silero_file("silero_vad.onnx")
    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    from int8rt.accuracy import recordings

    blocks = recordings.Recordings.blocks
    for fit in args.fit.split(","):
        feeds, _ = calibration(fp32, [fit], "none")
        others = [c for c in CLIPS if c != fit]
        evals = {c: streams([c], 2, 10.0)[0] for c in others}
        wants = {c: streamed(fp32, x)[0] for c, x in evals.items()}
        print(f"calibration {fit}: {len(feeds)} batches; evaluation {', '.join(others)}", flush=True)
        for spec in args.engines.split(","):
            method, _, k = spec.partition(":")
            config = {"calibration_groups": block_labels(len(feeds), int(k))} if k else {}
            recordings.Recordings.blocks = ((lambda self, held, total: False) if method == "auto-prior" else blocks)
            engine, _ = build(path, feeds, "auto" if method == "auto-prior" else method, True, **config)
            choice = engine.build_report().auto_choice or {}
            got = {c: metrics(streamed(engine, x)[0], wants[c])["ccos"] for c, x in evals.items()}
            print(f"fit {fit}, {spec}: " + " ".join(f"{c} {v:.5f}" for c, v in got.items())
                  + f"; mean {np.mean(list(got.values())):.5f}"
                  + (f"; chose {choice.get('thresholds')}, bias corr. {choice.get('bias_correction')}, unsigned "
                     f"{str(choice.get('unsigned_activations'))[:24]}" if choice else ""), flush=True)
    recordings.Recordings.blocks = blocks
    return 0


if __name__ == "__main__":
    sys.exit(main())
