"""acc51: auto on a network nobody tuned it on - PESTO's pitch estimator as the
pesto-pitch 2.0.1 wheel ships it (``pesto/weights/mir-1k_g7.ckpt``, the
package's default model: a 1-D CNN over one CQT frame - LayerNorm, Conv1d 15 /
39 taps, two residual Conv1d + LeakyReLU(0.3) prefilter layers, four 1x1
Conv1d + LeakyReLU, and a "Toeplitz" Conv1d with one channel and 1040 taps as
its last layer: 219 CQT bins -> 384 pitch bins, 3 per semitone).

Inputs: the wheel's own preprocessing (its HarmonicCQT + log magnitude in
torch FP32, cropped as the wheel crops it; 10 ms hop at 16 kHz) over the real
audio other wheels and the Python install carry: pysptk's CMU ARCTIC a0007,
amfm_decompy's sample, IPython's test.wav (speech) and the standard library's
test/audiodata/pluck-pcm16.wav (a plucked string), each clip padded with
silence to 2.1 s (the CQT's longest kernel). Frames more than 40 dB below
their clip's loudest are dropped (silence). Evaluation: the odd frames;
calibration: the frames 0 mod 4 (``--draw 1``) or 2 mod 4 (``--draw 2``);
``--draw 3`` to ``8`` (acc63): as many of the even frames drawn at random
(seed = the draw); whole batches of 16. Adjacent frames overlap (10 ms hop), so
this measures the quantization of these voices, not a shift of data set.

Compared output: the 384 pitch logits (the final softmax taken off, as
acc49 did with MTCNN: the probabilities saturate). Metrics against int8rt's
FP32 engine: centred cosine, relative L2, and the task's figures: each frame's
pitch as the wheel reduces it (softmax, argmax-local weighted average,
``reduce_activations(..., "alwa")``) - the share of frames within 50 cents of
FP32's pitch (``pitch50``) and the mean absolute difference in cents
(``cents``).

The model: pesto/{data,model,utils}.py imported from the wheel file itself
(zipimport; torchaudio, which only its file-reading ``core`` needs, stubbed),
the checkpoint read from the wheel (its hyper-parameters are pickled omegaconf
containers, read here as plain dicts without omegaconf). Exported with
torch.onnx (opset 17).

Usage: PYTHONPATH=python python benchmarks/calib16_pesto.py --wheel /tmp/calib16/dl/pesto_pitch-2.0.1-py3-none-any.whl
       [--draw 1] [--groups int8rt,ort,nncf] [--json out.json] [--archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz ...]
(``pip download --no-deps pesto-pitch==2.0.1``.)
"""
from __future__ import annotations

import io
import os
import pickle
import sys
import types
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wheel_nets as W  # noqa: E402

CKPT = "pesto/weights/mir-1k_g7.ckpt"
PLUCK = ("test", "audiodata/pluck-pcm16.wav")
RATE, HOP_MS, MIN_SECONDS, QUIET_DB = 16000, 10.0, 2.1, 40.0
DRAWS = (1, 2, 3, 4, 5, 6, 7, 8)


class _Container:
    """Stands in for omegaconf's pickled classes: keeps their state as attributes."""

    def __setstate__(self, state) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {"_state": state})


def _plain(o):
    """An omegaconf container (as _Container) as plain dicts / lists / values."""
    if isinstance(o, _Container):
        d = o.__dict__
        return _plain(d["_content"]) if "_content" in d else _plain(d["_val"]) if "_val" in d else d
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return type(o)(_plain(v) for v in o)
    return o


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        return _Container if module.startswith("omegaconf") else super().find_class(module, name)


def load(wheel: str):
    """(PESTO model in eval mode, its encoder, the wheel's reduce_activations)."""
    import torch

    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # only pesto.core reads files with it
    if wheel not in sys.path:
        sys.path.insert(0, wheel)
    from pesto.data import Preprocessor
    from pesto.model import PESTO, Resnet1d
    from pesto.utils import reduce_activations

    pm = types.ModuleType("omegaconf_free_pickle")
    pm.__dict__.update(pickle.__dict__)
    pm.Unpickler = _Unpickler
    with zipfile.ZipFile(wheel) as z:
        ck = torch.load(io.BytesIO(z.read(CKPT)), map_location="cpu", weights_only=False, pickle_module=pm)
    hp, hcqt = _plain(ck["hparams"]), _plain(ck["hcqt_params"])
    model = PESTO(Resnet1d(**hp["encoder"]), preprocessor=Preprocessor(hop_size=HOP_MS, sampling_rate=RATE, **hcqt),
                  crop_kwargs=hp["pitch_shift"], reduction=hp["reduction"])
    missing, unexpected = model.load_state_dict(ck["state_dict"], strict=False)
    if unexpected or [k for k in missing if k.startswith("encoder.")]:
        raise RuntimeError(f"checkpoint does not fit the model: missing {missing}, unexpected {unexpected}")
    model.eval()
    return model, model.encoder, reduce_activations


def frames(model, archives=()) -> np.ndarray:
    """[N, 1, 219] cropped log-CQT frames of every clip (silence dropped), in clip order."""
    import torch

    out = []
    for package, rel in W.SPEECH + (PLUCK,):
        x = W.clip(package, rel, RATE, archives) / 32768.0
        x = np.pad(x, (0, max(0, int(MIN_SECONDS * RATE) - len(x))))
        with torch.no_grad():
            cqt = model.preprocessor(torch.from_numpy(x[None].astype(np.float32))).flatten(0, 1)  # [T, 1, bins] dB
            energy = torch.exp(cqt * (np.log(10) / 10)).sum(-1).squeeze(1)  # as PESTO.forward computes its volume
            keep = 10 * torch.log10(energy / energy.max()) > -QUIET_DB
            out.append(model.crop_cqt(cqt)[keep].numpy())
    return np.concatenate(out).astype(np.float32)


def onnx_model(encoder) -> bytes:
    """The encoder with its softmax replaced by the identity (pitch logits out)."""
    import torch

    encoder.final_norm = torch.nn.Identity()
    buf = io.BytesIO()
    n_bins = encoder.layernorm.normalized_shape[-1]
    torch.onnx.export(encoder, torch.zeros(1, 1, n_bins), buf, input_names=["cqt"], output_names=["logits"],
                      dynamic_axes={"cqt": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def pitch_metrics(reduce, shift_bins: int):
    """The metric row: accuracy_bench's (centred cosine, relative L2) and the pitch figures."""
    import torch

    def pitch(logits: np.ndarray) -> np.ndarray:
        act = torch.softmax(torch.from_numpy(np.asarray(logits, np.float32)), -1).roll(-shift_bins, -1)
        return reduce(act, reduction="alwa").numpy()

    def row(task, out: np.ndarray, ref: np.ndarray) -> dict:
        r = W.embedding_metrics(task, out, ref)
        cents = 100 * np.abs(pitch(out) - pitch(ref))
        return {"centred_cos": r["centred_cos"], "rel_l2": r["rel_l2"], "pitch50": float(np.mean(cents < 50)),
                "cents": float(np.mean(cents))}
    return row


def split(n: int, draw: int) -> tuple[np.ndarray, np.ndarray]:
    """(calibration indices, evaluation indices) of ``draw`` (1 to 8) over ``n`` frames."""
    idx = np.arange(n)
    calib = idx[idx % 4 == 0]
    if draw == 2:
        calib = idx[idx % 4 == 2]
    elif draw > 2:
        even = idx[idx % 2 == 0]
        calib = np.sort(np.random.default_rng(draw).choice(even, len(calib), replace=False))
    calib = calib[:len(calib) // 16 * 16]  # whole batches of 16 (ONNX Runtime's histogram calibrators)
    return calib, idx[idx % 2 == 1]


def main() -> int:
    args = W.parser(__doc__, "pesto_pitch-2.0.1-py3-none-any.whl", draws=DRAWS).parse_args()
    model, encoder, reduce = load(args.wheel)
    x = frames(model, tuple(args.archives))
    calib, evaluation = split(len(x), args.draw)
    shift = round(float(model.shift) * model.bins_per_semitone)
    task = dict(name=f"pesto mir-1k_g7 (pesto-pitch 2.0.1), draw {args.draw}", model=onnx_model(encoder),
                calib=x[calib], eval=x[evaluation], labels=None, kind="embedding")
    W.run_tasks([task], args, pitch_metrics(reduce, shift))
    return 0


if __name__ == "__main__":
    sys.exit(main())
