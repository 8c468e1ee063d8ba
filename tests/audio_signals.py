"""A synthetic speech-like signal for the audio-model tests (no data set is
downloaded): voiced segments of harmonics over a gliding pitch, shaped by
three formant-like resonances and a syllable envelope, unvoiced noise bursts,
and silence with a low noise floor between them, at 16 kHz."""
from __future__ import annotations

import numpy as np

RATE = 16000


def speech_like(seconds: float, seed: int) -> np.ndarray:
    """float32 mono samples in [-1, 1], about 60 % voiced, 15 % noise, 25 % silence."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = rng.normal(0, 0.002, n)
    t0 = int(rng.uniform(0.1, 0.3) * RATE)
    while t0 < n:
        kind = rng.choice(["voiced", "noise", "silence"], p=[0.6, 0.15, 0.25])
        length = int(rng.uniform(0.12, 0.45) * RATE)
        seg = np.arange(min(length, n - t0))
        if kind == "voiced":
            f0 = rng.uniform(100, 230) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(2, 5) * seg / RATE))
            phase = 2 * np.pi * np.cumsum(f0) / RATE
            formants = rng.uniform([300, 900, 2200], [800, 2000, 3200])
            wave = np.zeros(len(seg))
            for k in range(1, 30):
                fk = k * f0
                gain = sum(1.0 / (1 + ((fk - f) / 120.0) ** 2) for f in formants) / k ** 0.5
                wave += gain * np.sin(k * phase)
            env = np.sin(np.pi * seg / max(len(seg), 1)) ** 0.6
            out[t0:t0 + len(seg)] += rng.uniform(0.1, 0.4) * env * wave / max(np.abs(wave).max(), 1e-9)
        elif kind == "noise":
            out[t0:t0 + len(seg)] += rng.uniform(0.02, 0.08) * rng.standard_normal(len(seg))
        t0 += len(seg) + int(rng.uniform(0.05, 0.3) * RATE)
    return np.clip(out, -1, 1).astype(np.float32)


def chunks(signal: np.ndarray, size: int = 512, context: int = 64) -> np.ndarray:
    """[n, context + size] windows as Silero VAD reads a stream: each chunk of
    ``size`` samples after the last ``context`` samples of the one before
    (zeros before the first)."""
    n = len(signal) // size
    padded = np.concatenate([np.zeros(context, np.float32), signal[:n * size]])
    return np.stack([padded[i * size:i * size + size + context] for i in range(n)]).astype(np.float32)
