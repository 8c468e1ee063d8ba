"""acc45 probe: Silero VAD's calibration stream cut into K contiguous blocks
of equal batch counts, each named as a recording
(``BuilderConfig.calibration_groups``), so that auto's recordings rule
(recordings.below: lower overall and on the worst block) judges the one
long unlabelled stream by blocks of it. Protocols as
benchmarks/silero_clips_loco.py: ``loco`` (five clips one after the other,
the state carried across, the sixth streamed; acc27 / acc29's unlabelled
stream) and ``arctic`` (the single fit: ARCTIC alone, amfm-decompy's
streamed). Prints one line per build: centred cosine of p(speech) against
FP32 streamed and auto's choice (benchmarks/RESULTS_accuracy.md, acc45).

    PYTHONPATH=python:tests python benchmarks/acc45_block_groups.py --blocks 3,5,8
    PYTHONPATH=python:tests python benchmarks/acc45_block_groups.py --blocks 3,5,8 --protocol arctic
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from silero_clips_loco import CLIPS, calibration, metrics, streams  # noqa: E402
from silero_fixed import builds, network, streamed  # noqa: E402


def block_labels(n: int, k: int) -> list[int]:
    """Batch ``i`` of ``n`` in block ``i * k // n``: ``k`` contiguous blocks of equal counts (+-1)."""
    return [i * k // n for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", default="3,5,8", help="block counts K (0: nothing named, auto infers)")
    ap.add_argument("--protocol", choices=("loco", "arctic"), default="loco")
    ap.add_argument("--left-out", default="", help="loco: only these clips left out (default: each in turn)")
    ap.add_argument("--methods", default="auto")
    args = ap.parse_args()
    import int8rt
    from test_audio_models import silero_file

    print(machine_line(), flush=True)
    path = silero_file("silero_vad.onnx")
    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    left = args.left_out.split(",") if args.left_out else list(CLIPS)
    folds = [(["arctic"], "amfm")] if args.protocol == "arctic" else [([n for n in CLIPS if n != c], c) for c in left]
    scores: dict[int, list[float]] = {}
    for calib_names, held in folds:
        feeds, _ = calibration(fp32, calib_names, "none")
        ev = streams([held], 2, 10.0)[0]
        want, _ = streamed(fp32, ev)
        for k in (int(b) for b in args.blocks.split(",")):
            config = {"calibration_groups": block_labels(len(feeds), k)} if k else {}
            for method, engine, cpu, got in builds(path, feeds, args.methods, True, ev, **config):
                m = metrics(got, want)
                choice = engine.build_report().auto_choice or {}
                scores.setdefault(k, []).append(m["ccos"])
                print(f"left out {held} ({len(feeds)} batches), K={k}, {method}: ccos {m['ccos']:.5f} rel. L2 "
                      f"{m['rel_l2']:.4f}; chose {choice.get('thresholds')}, bias corr. "
                      f"{choice.get('bias_correction')}, unsigned {str(choice.get('unsigned_activations'))[:30]}; "
                      f"per block {choice.get('recording_errors')}; CPU s {cpu:.0f}", flush=True)
    for k, v in scores.items():
        print(f"K={k}: mean ccos {np.mean(v):.5f} over {len(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
