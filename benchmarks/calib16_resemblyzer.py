"""acc51: auto on a network nobody tuned it on - Resemblyzer's speaker encoder as
the Resemblyzer 0.1.4 wheel ships it (``resemblyzer/pretrained.pt``: the GE2E
voice encoder, a 3-layer LSTM 40 -> 256 over 160 mel frames, its last hidden
state -> Linear 256 -> ReLU -> L2 normalisation: a 256-dim speaker embedding).

Inputs as resemblyzer/audio.py computes them, in NumPy (librosa, which it
calls, is not installed here): the wav at 16 kHz in [-1, 1], its volume raised
to -30 dBFS (``normalize_volume(..., increase_only=True)``), then the power
mel spectrogram (not log) of ``librosa.feature.melspectrogram(n_fft=400,
hop_length=160, n_mels=40)``: periodic Hann window, centred frames zero-padded,
Slaney mel filters. Not done: webrtcvad's trimming of long silences (webrtcvad
is not installed; the clips are 0.5-4.0 s). Partial utterances of 160 frames (1.6 s,
Resemblyzer's) every 4 frames; clips shorter than 1.6 s zero-padded to it, as
``embed_utterance`` pads them. Speech: pysptk's CMU ARCTIC a0007 (4.0 s),
amfm_decompy's sample (0.9 s), IPython's test.wav (0.5 s). Evaluation: the odd
windows; calibration, two draws: the windows 0 mod 4 (``--draw 1``) or 2 mod 4
(``--draw 2``), 16 each. The windows overlap and are mostly one speaker's: this
measures the quantization of these voices' embeddings, not speaker
verification (the wheels carry too little speech for that).

Metrics on the [N, 256] embeddings against int8rt's FP32 engine: centred
cosine, relative L2, mean cosine per window (the figure a verification
threshold reads), nearest-neighbour agreement (wheel_nets.embedding_metrics).

The model: resemblyzer's VoiceEncoder re-declared here (its module imports
webrtcvad and librosa at import time; the three layers and the forward are
voice_encoder.py's), the wheel's pretrained.pt loaded into it, exported with
torch.onnx (opset 17; one ONNX LSTM node of 3 layers is not a thing, torch
writes one LSTM node per layer).

Usage: PYTHONPATH=python python benchmarks/calib16_resemblyzer.py --wheel /tmp/calib16/dl/Resemblyzer-0.1.4-py3-none-any.whl
       [--draw 1] [--groups int8rt,ort,nncf] [--json out.json] [--archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz ...]
(``pip download --no-deps resemblyzer==0.1.4``.)
"""
from __future__ import annotations

import io
import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wheel_nets as W  # noqa: E402

RATE, N_FFT, HOP, N_MELS, PARTIAL, STEP, TARGET_DBFS = 16000, 400, 160, 40, 160, 4, -30.0


def _slaney_mel(hz: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    hz = np.asarray(hz, np.float64)
    return np.where(hz >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp)


def _slaney_hz(mel: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) (Slaney scale and area norm): [40, 201]."""
    fft_freqs = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    mel_f = _slaney_hz(np.linspace(_slaney_mel(0.0), _slaney_mel(RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower, upper = -ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """[T, 40] power mel spectrogram as resemblyzer's wav_to_mel_spectrogram (librosa, centred, zero-padded)."""
    from scipy.signal import get_window

    x = np.pad(wav.astype(np.float64), N_FFT // 2)
    n = 1 + (len(x) - N_FFT) // HOP
    frames = np.stack([x[i * HOP:i * HOP + N_FFT] for i in range(n)]) * get_window("hann", N_FFT, fftbins=True)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return (power @ mel_filters().T).astype(np.float32)


def windows(archives=()) -> np.ndarray:
    """[N, 160, 40] partial utterances of every clip, in clip order."""
    out = []
    for package, rel in W.SPEECH:
        wav = W.clip(package, rel, RATE, archives) / 32768.0
        dbfs = 10 * np.log10(np.mean(wav ** 2))
        wav = wav * 10 ** (max(0.0, TARGET_DBFS - dbfs) / 20)  # normalize_volume(..., increase_only=True)
        wav = np.pad(wav, (0, max(0, PARTIAL * HOP - len(wav))))
        mel = mel_frames(wav)
        out += [mel[i:i + PARTIAL] for i in range(0, max(1, mel.shape[0] - PARTIAL + 1), STEP)]
    return np.stack(out).astype(np.float32)


def onnx_model(wheel: str) -> bytes:
    """Resemblyzer's VoiceEncoder with the wheel's weights: [N, 160, 40] -> [N, 256]."""
    import torch
    from torch import nn

    class VoiceEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)
            self.relu = nn.ReLU()

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            embeds_raw = self.relu(self.linear(hidden[-1]))
            return embeds_raw / torch.norm(embeds_raw, dim=1, keepdim=True)

    with zipfile.ZipFile(wheel) as z:
        state = torch.load(io.BytesIO(z.read("resemblyzer/pretrained.pt")), map_location="cpu")["model_state"]
    model = VoiceEncoder()
    missing, _ = model.load_state_dict(state, strict=False)  # the checkpoint also holds GE2E's similarity weight / bias
    if missing:
        raise RuntimeError(f"pretrained.pt lacks {missing}")
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(1, PARTIAL, N_MELS), buf, input_names=["mels"], output_names=["embedding"],
                      dynamic_axes={"mels": {0: "n"}, "embedding": {0: "n"}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def main() -> int:
    args = W.parser(__doc__, "Resemblyzer-0.1.4-py3-none-any.whl").parse_args()
    x = windows(tuple(args.archives))
    idx = np.arange(len(x))
    calib = idx[idx % 4 == (0 if args.draw == 1 else 2)]
    calib = calib[:len(calib) // 16 * 16]  # whole batches of 16 (ONNX Runtime's histogram calibrators)
    evaluation = idx[idx % 2 == 1]
    task = dict(name=f"resemblyzer voice encoder (Resemblyzer 0.1.4), draw {args.draw}", model=onnx_model(args.wheel),
                calib=x[calib], eval=x[evaluation], labels=None, kind="embedding")
    W.run_tasks([task], args, W.embedding_metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
