"""Silero VAD leave one clip out judged on 4x the evaluation streams: does a
wider evaluation rank the engines where acc27's 8 streams cannot? (issue 12,
gap (b); benchmarks/RESULTS_accuracy.md, acc43, section 2.)

acc43's sweep: one threshold moved by 5 % moves amfm_down's streamed figure
(8 streams of a 34-step clip) by up to 0.16, so auto's 0.731 against
percentile's 0.842 is one draw each. Here the left-out clip is streamed 32
times: silero_clips_loco.py's 8 streams (gains 1.0 / 0.7 / 0.5 / 0.25, clean
and at 10 dB, noise seed 2) and 24 more (the same gains, two noise draws
each at 10, 15 and 20 dB, seeds 3-5), each group of 8 from a zero state; the
figures (centred cosine / relative L2 of p(speech) against FP32 streamed,
agreement at 0.5) over all 32. Engines: auto with the clips named
(``calibration_groups``), the entropy and percentile calibrators, and
entropy everywhere with the first encoder conv's output threshold set by hand
(acc43_silero_swap.py's ``--sweep``).

    PYTHONPATH=python:tests python benchmarks/acc43_silero_wide_eval.py --left-out amfm_down,synth2
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from acc43_silero_swap import SWEPT, _hold, _set  # noqa: E402
from bench_util import machine_line  # noqa: E402
from silero_clips_loco import CLIPS, GAINS, calibration, clip, metrics, streams  # noqa: E402
from silero_fixed import build, network, streamed  # noqa: E402

NOISE = [(3, 10.0), (4, 15.0), (5, 20.0)]  # (seed, SNR dB) of the 24 added streams


def evaluation(name: str) -> list[np.ndarray]:
    """The 4 groups of 8 streams of clip ``name`` ([steps, 8, 576] each; module docstring)."""
    from test_audio_models import noisy_streams

    return streams([name], 2, 10.0) + [noisy_streams(clip(name), seed, GAINS, [snr, snr]) for seed, snr in NOISE]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--left-out", default="amfm_down,synth2")
    ap.add_argument("--sweep", default="17,19,20,22,25")
    args = ap.parse_args()
    import int8rt
    from int8rt.accuracy import auto_choice
    from test_audio_models import silero_file

    print(machine_line(), flush=True)
    path = silero_file("silero_vad.onnx")
    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    plain = (auto_choice._Errors.clearly_below, auto_choice.apply_methods)
    print("| left out | engine | 8 streams: ccos | 32 streams: ccos / rel. L2 / agree |\n|---|---|---|---|")
    for held in args.left_out.split(","):
        names = [c for c in CLIPS if c != held]
        feeds, named = calibration(fp32, names, "given")
        ev = evaluation(held)
        want = [streamed(fp32, x)[0] for x in ev]
        runs = [("auto, clips named", "auto", named, None), ("entropy", "entropy", {}, None),
                ("percentile", "percentile", {}, None)]
        runs += [(f"entropy, encoder 0's conv output at {float(v):g}", "auto", {}, float(v))
                 for v in args.sweep.split(",") if v]
        for label, method, config, value in runs:
            auto_choice._Errors.clearly_below, auto_choice.apply_methods = plain
            if value is not None:
                _hold("entropy", "", "")
                _set(SWEPT, value)
                config = {"bias_correction": False, "unsigned_activations": False}
            engine, _ = build(path, feeds, method, True, **config)
            got = [streamed(engine, x)[0] for x in ev]
            first = metrics(got[0], want[0])
            m = metrics(np.concatenate(got), np.concatenate(want))
            print(f"| {held} | {label} | {first['ccos']:.5f} | {m['ccos']:.5f} / {m['rel_l2']:.4f} / {m['agree']:.4f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
