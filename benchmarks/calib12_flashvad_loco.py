"""FlashVAD streamed on clips it was not calibrated on, leave one clip out:
the second network that carries a state on which auto's rule for one long
unlabelled stream (accuracy/recordings.py, "Blocks of one stream") is
measured (issue 12; benchmarks/RESULTS_accuracy.md, acc46).

Model: flashvad-stream.onnx of the flashvad wheel (PyPI, CC-BY-4.0 weights):
a causal dilated-conv + GRU voice-activity detector, one 10 ms frame of 43
features (40 log-mels, log RMS, spectral flatness, zero crossings: the
wheel's own NumPy frontend) per call, its GRU state (``recurrent``) and
four conv caches (``cache_0..3``) returned as ``next_*`` and fed back.
Imported with a fixed batch of 8 streams (the Silero setup,
benchmarks/silero_fixed.py: every calibration batch reaches the builder
whole). The clips and streams are benchmarks/silero_clips_loco.py's (CMU
ARCTIC of pysptk, amfm-decompy's sample, both resampled, two synthetic
signals; 8 streams per clip: 4 gains, clean and noised, 15 dB in
calibration, 10 dB in evaluation).

Per left-out clip: calibration on the five others one after the other in
each stream (one long recording of several speakers, the state carried
across: ``--groups none``, acc27's protocol) or the same feeds with each
batch's clip named (``--groups given``); evaluation streamed on the
left-out clip from a zero state, each engine carrying its own state, against
float32 streamed: relative L2 and centred cosine of p(speech) =
sigmoid(speech_logits) (a constant output scores 0 there), agreement of the
decisions at 0.5.

    PYTHONPATH=python:tests python benchmarks/calib12_flashvad_loco.py --methods auto,mse,entropy,percentile,minmax
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from silero_clips_loco import CLIPS, GAINS, clip, metrics, print_means, save_row  # noqa: E402

BATCH = 8
STATES = {"recurrent": (1, BATCH, 64), **{f"cache_{i}": (BATCH, 64, 2 << i) for i in range(4)}}


def model_path() -> str:
    """The wheel's ONNX file (skips nothing: the benchmark needs flashvad installed)."""
    import flashvad

    return os.path.join(os.path.dirname(flashvad.__file__), "_models", "flashvad-stream.onnx")


def network(path: str):
    import int8rt

    return int8rt.onnx.import_model(path, input_shapes={"feature": [BATCH, 1, 43],
                                                        **{k: list(v) for k, v in STATES.items()}})


def features(signal: np.ndarray) -> np.ndarray:
    """[frames, 43]: the wheel's causal NumPy frontend over ``signal`` from its start."""
    from flashvad.numpy_features import NumpyCausalFeatureExtractor, NumpyStreamingFeatureExtractor

    return NumpyStreamingFeatureExtractor(NumpyCausalFeatureExtractor()).push(signal)


def signals(names: list[str], seed: int, snr_db: float) -> list[np.ndarray]:
    """The 8 signals of each clip in ``names`` concatenated clip after clip
    (gains x clean / noised; clip ``i`` noised with seed ``seed + i``)."""
    out = [[] for _ in range(2 * len(GAINS))]
    for i, name in enumerate(names):
        x = clip(name).astype(np.float64)
        rng = np.random.default_rng(seed + i)
        noise = rng.standard_normal(len(x)) * np.sqrt(np.mean(x ** 2) / 10 ** (snr_db / 10))
        for j, (g, noisy) in enumerate((g, n) for g in GAINS for n in (False, True)):
            out[j].append(np.clip(g * (x + (noise if noisy else 0.0)), -1, 1).astype(np.float32))
    return [np.concatenate(s) for s in out]


def frames(names: list[str], seed: int, snr_db: float) -> tuple[np.ndarray, list[int]]:
    """[steps, BATCH, 1, 43] features of the streams, and each step's clip index."""
    feats = np.stack([features(s) for s in signals(names, seed, snr_db)], axis=1)[:, :, None, :]
    lengths = [len(features(clip(n))) for n in names]
    owner = [i for i, n in enumerate(lengths) for _ in range(n)][:len(feats)]
    owner += [len(names) - 1] * (len(feats) - len(owner))
    return np.ascontiguousarray(feats, np.float32), owner


def streamed(engine, x: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """``engine`` over ``x`` from a zero state, carrying its own: (p(speech) [steps, BATCH], each step's feeds)."""
    ctx = engine.create_execution_context()
    state = {k: np.zeros(v, np.float32) for k, v in STATES.items()}
    probs, feeds = [], []
    for step in x:
        feed = {"feature": step, **state}
        feeds.append(feed)
        out = ctx.run(feed)
        probs.append(1.0 / (1.0 + np.exp(-np.asarray(out["speech_logits"], np.float64).reshape(-1))))
        state = {k: out["next_" + k] for k in STATES}
    return np.array(probs), feeds


def build(path: str, feeds: list, method: str, **config):
    import int8rt

    t0 = time.process_time()
    engine = int8rt.build_engine(network(path), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator([dict(f) for f in feeds], algorithm=method), **config))
    return engine, time.process_time() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="auto,mse,entropy,percentile,minmax")
    ap.add_argument("--left-out", default="", help="only these clips left out (default: each in turn)")
    ap.add_argument("--groups", choices=("none", "given"), default="none")
    ap.add_argument("--out", default="", help="append one JSON line per build here")
    args = ap.parse_args()
    import int8rt

    print(machine_line(), flush=True)
    path = model_path()
    fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
    rows = []
    for held in (args.left_out.split(",") if args.left_out else CLIPS):
        names = [n for n in CLIPS if n != held]
        x, owner = frames(names, 1, 15.0)
        _, feeds = streamed(fp32, x)
        config = {"calibration_groups": [names[i] for i in owner]} if args.groups == "given" else {}
        ev, _ = frames([held], 2, 10.0)
        want, _ = streamed(fp32, ev)
        print(f"left out {held}: calibration {len(feeds)} batches of {BATCH}, evaluation {len(ev)} steps; "
              f"groups {args.groups}", flush=True)
        for method in args.methods.split(","):
            engine, cpu = build(path, feeds, method, **config)
            m = metrics(streamed(engine, ev)[0], want)
            choice = engine.build_report().auto_choice or {}
            row = {"held": held, "method": method, "groups": args.groups, **{k: round(v, 5) for k, v in m.items()},
                   "choice": choice.get("thresholds"), "bias_correction": choice.get("bias_correction"),
                   "unsigned": choice.get("unsigned_activations"), "errors": choice.get("errors"),
                   "recordings": choice.get("recordings"), "recording_errors": choice.get("recording_errors"),
                   "cpu_s": round(cpu, 1)}
            rows.append(row)
            print(f"  {method}: rel. L2 {m['rel_l2']:.4f}, ccos {m['ccos']:.5f}, agree {m['agree']:.4f}"
                  + (f"; chose {row['choice']}, bias corr. {row['bias_correction']}, unsigned "
                     f"{str(row['unsigned'])[:40]}; errors {row['errors']}" if choice else ""), flush=True)
            save_row(row, args.out)
    print_means(rows, args.methods.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
