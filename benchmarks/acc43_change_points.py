"""Can auto find the recordings of an unlabelled stream from its input? A
change-point probe on Silero VAD's leave-one-clip-out calibration streams
(issue 12, gap (b); benchmarks/RESULTS_accuracy.md, acc43).

acc29: auto counts recordings where they are named
(``BuilderConfig.calibration_groups``) or where the state is reset; in
acc27's protocol (the five calibration clips one after the other in every
stream, the state carried across) it sees one recording, keeps mse without
corrections (the prior) and streams the left-out clip at 0.759 mean centred
cosine against 0.937 with the clips named. Calibrated on one real recording
(ARCTIC alone) the same prior is right (0.948 against entropy's 0.717), and
acc27 measured that three contiguous blocks of one recording taken as
recordings lose there (0.760). So a detector must find the clip boundaries
of the five-clip stream and none inside one clip.

The detector tried: the classic BIC change detection of speaker
segmentation (Chen & Gopalakrishnan 1998), binary segmentation over one
feature vector per calibration batch, diagonal Gaussians, penalty
``lam * d * log n`` (d features, n batches), at least ``MIN_LEN`` batches a
segment. Features, per batch (the 8 rows' power spectra pooled): ``bands``,
the log energy in 12 log-spaced bands; ``shape``, the same less the log
total energy (the spectral shape, gain-free), on batches within 10 dB of the
loudest batch within 16 either side only (silence gated out). A boundary is
found where one lies within 8 batches (0.3 s) of it.

    PYTHONPATH=python:tests python benchmarks/acc43_change_points.py
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from silero_clips_loco import CLIPS, streams  # noqa: E402

BANDS = 12
MIN_LEN = 8
NEAR = 8
GATE_DB, GATE_SPAN = 10.0, 16


def features(x: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(features [batches, BANDS], the batches used) of chunks ``x`` [batches, rows, samples]."""
    spec = (np.abs(np.fft.rfft(x.astype(np.float64), axis=-1)) ** 2).mean(1)
    edges = np.unique(np.geomspace(1, spec.shape[-1], BANDS + 1).astype(int))
    bands = np.log(np.stack([spec[:, a:b].mean(-1) for a, b in zip(edges[:-1], edges[1:])], -1) + 1e-20)
    if kind == "bands":
        return bands, np.arange(len(x))
    total = spec.sum(-1)
    loud = [i for i in range(len(total))
            if total[i] >= 10 ** (-GATE_DB / 10) * total[max(0, i - GATE_SPAN):i + GATE_SPAN + 1].max()]
    return (bands - np.log(total + 1e-20)[:, None])[loud], np.array(loud)


def _cost(z: np.ndarray) -> float:
    return 0.5 * len(z) * float(np.log(z.var(0) + 1e-6).sum())


def boundaries(z: np.ndarray, at: np.ndarray, lam: float) -> list[int]:
    """BIC binary segmentation of ``z`` (one row per batch, ``at`` their
    batch indices): the batch indices where a segment starts."""
    n, d = z.shape
    if n < 2 * MIN_LEN:
        return []
    gain, t = max((_cost(z) - _cost(z[:t]) - _cost(z[t:]) - lam * d * np.log(n), t)
                  for t in range(MIN_LEN, n - MIN_LEN + 1))
    if gain <= 0:
        return []
    return sorted(boundaries(z[:t], at[:t], lam) + [int(at[t])] + boundaries(z[t:], at[t:], lam))


def main() -> int:
    parts = dict(zip(CLIPS, streams(list(CLIPS), 1, 15.0)))
    print("| features | lam | clip boundaries found (of 24) | splits elsewhere, five-clip streams | "
          "splits inside one clip (" + " / ".join(CLIPS) + ") |")
    print("|---|---|---|---|---|")
    for kind in ("bands", "shape"):
        for lam in (1.0, 2.0, 4.0):
            hit = extra = 0
            for held in CLIPS:
                ps = [parts[c] for c in CLIPS if c != held]
                truth = np.cumsum([len(p) for p in ps])[:-1]
                found = boundaries(*features(np.concatenate(ps), kind), lam)
                hit += sum(any(abs(f - t) <= NEAR for f in found) for t in truth)
                extra += sum(all(abs(f - t) > NEAR for t in truth) for f in found)
            inside = [len(boundaries(*features(parts[c], kind), lam)) for c in CLIPS]
            print(f"| {kind} | {lam:g} | {hit} | {extra} | {' / '.join(map(str, inside))} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
