"""Which of Silero VAD's tensors make entropy generalise better than mse on
clips it was not calibrated on (issue 12, RESULTS_accuracy.md acc29): auto
held at mse (no correction) with the thresholds of one part of the network
(``stft``, ``encoder``, ``decoder``; all) from entropy's exact search
instead, evaluated streamed on the left-out clip as
benchmarks/silero_clips_loco.py does (its protocol: calibration on the other
clips one after the other, the state carried across).

    PYTHONPATH=python:tests python benchmarks/silero_tensor_swap.py --left-out amfm,synth1
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from silero_clips_loco import CLIPS, calibration, metrics, streams  # noqa: E402
from silero_fixed import build, network, streamed  # noqa: E402

PARTS = ("", "stft", "encoder", "decoder", "all")


def _hold(part: str) -> None:
    """auto's choice held at mse (no set clearly better), and the tensors
    whose names hold ``part`` (every tensor for ``all``) given entropy's thresholds."""
    from int8rt.accuracy import auto_choice

    auto_choice._Errors.clearly_below = lambda self, other: False
    plain = getattr(auto_choice, "_plain_apply", auto_choice.apply_methods)
    auto_choice._plain_apply = plain

    def apply_methods(collector, methods, names, amaxes):
        methods = {t: "entropy" if part and (part == "all" or part in t) else m for t, m in methods.items()}
        return plain(collector, methods, names, amaxes)

    auto_choice.apply_methods = apply_methods


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--left-out", default="amfm,synth1")
    ap.add_argument("--parts", default=",".join(PARTS[1:]), help="'' (none) is always run first")
    args = ap.parse_args()
    import int8rt
    from test_audio_models import silero_file

    print(machine_line(), flush=True)
    path = silero_file("silero_vad.onnx")
    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    for held in args.left_out.split(","):
        feeds, _ = calibration(fp32, [c for c in CLIPS if c != held], "none")
        ev = streams([held], 2, 10.0)[0]
        want, _ = streamed(fp32, ev)
        for part in ["", *args.parts.split(",")]:
            _hold(part)
            engine, _ = build(path, feeds, "auto", True, bias_correction=False, unsigned_activations=False)
            m = metrics(streamed(engine, ev)[0], want)
            print(f"left out {held}, entropy on {part or 'nothing'}: ccos {m['ccos']:.5f}, rel. L2 {m['rel_l2']:.4f}, "
                  f"agree {m['agree']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
