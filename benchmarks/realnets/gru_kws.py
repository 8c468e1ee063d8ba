"""A GRU network as a user exports one from PyTorch: a keyword-spotting-style
frame classifier (log-mel frames -> bias-free Linear -> ReLU -> 2-layer
torch.nn.GRU -> bias-free Linear head), random weights (torch's default
init, seed 0), exported with ``torch.onnx.export`` (time and batch
dynamic, default opset), fed log-mel features of real speech (the clips
realnets/vad.py reads: 'amfm' to calibrate, 'arctic' to evaluate, at
several gains and noise levels; 0.4 s windows), standardized per band with the
calibration clip's statistics as a front end does. Its int8 layers: the
two Linears (MatMul with no bias Add) and each GRU's input GEMM (int8rt
keeps GRU's recurrent GEMM in float32). For bias correction's GRU and
bias-free MatMul rows (RESULTS_accuracy.md, acc28).
"""
from __future__ import annotations

import os
from typing import Dict, List

import numpy as np

from realnets import vad as V

Feed = Dict[str, np.ndarray]
MELS, FRAMES, HOP, WIN, NFFT = 40, 40, 160, 400, 512


def _mel_bank(rate: int) -> np.ndarray:
    """[MELS, NFFT // 2 + 1] triangular filters, equally spaced in mel (HTK's formula)."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    points = hz(np.linspace(mel(20.0), mel(rate / 2), MELS + 2))
    bins = np.fft.rfftfreq(NFFT, 1.0 / rate)
    lo, mid, hi = points[:-2, None], points[1:-1, None], points[2:, None]
    return np.maximum(0.0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))


def log_mel(x: np.ndarray) -> np.ndarray:
    """[frames, MELS] log-mel energies of one clip."""
    n = 1 + (len(x) - WIN) // HOP
    frames = np.stack([x[i * HOP:i * HOP + WIN] for i in range(n)]) * np.hanning(WIN)
    power = np.abs(np.fft.rfft(frames, NFFT)) ** 2
    return np.log(power @ _mel_bank(V.RATE).T + 1e-6).astype(np.float32)


def _sequences(clips: np.ndarray) -> np.ndarray:
    """[FRAMES, n, MELS]: each clip's log-mel frames cut into FRAMES-frame windows (a quarter apart)."""
    out = []
    for clip in clips:
        f = log_mel(clip)
        out += [f[s:s + FRAMES] for s in range(0, len(f) - FRAMES + 1, FRAMES // 4)]
    return np.stack(out, axis=1)


def export(folder: str) -> str:
    path = os.path.join(folder, "gru_kws.onnx")
    if os.path.exists(path):
        return path
    import torch

    class Kws(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(MELS, 64, bias=False)
            self.gru = torch.nn.GRU(64, 96, num_layers=2)
            self.head = torch.nn.Linear(96, 12, bias=False)

        def forward(self, feats: torch.Tensor) -> torch.Tensor:
            y, _ = self.gru(torch.relu(self.proj(feats)))
            return self.head(y)

    torch.manual_seed(0)
    os.makedirs(folder, exist_ok=True)
    torch.onnx.export(Kws().eval(), (torch.randn(FRAMES, 2, MELS),), path, input_names=["feats"],
                      output_names=["scores"], dynamic_axes={"feats": {0: "T", 1: "B"}, "scores": {0: "T", 1: "B"}},
                      dynamo=False)
    return path


def feeds() -> tuple[List[Feed], List[Feed]]:
    """Calibration and evaluation batches of 8 sequences ([FRAMES, 8, MELS])."""
    calib = _sequences(V.variants(V.speech("amfm"), 1, [1.0, 0.7, 0.5, 0.35, 0.25], [None, 20.0, 15.0, 10.0]))
    evaluation = _sequences(V.variants(V.speech("arctic"), 2, [1.0, 0.4], [None, 10.0]))
    mean, std = calib.mean(axis=(0, 1)), calib.std(axis=(0, 1)) + 1e-3
    norm = lambda s: ((s - mean) / std).astype(np.float32)  # noqa: E731
    calib, evaluation = norm(calib), norm(evaluation)
    cut = lambda s: [{"feats": np.ascontiguousarray(s[:, i:i + 8])} for i in range(0, s.shape[1] - 7, 8)]  # noqa: E731
    return cut(calib), cut(evaluation)
