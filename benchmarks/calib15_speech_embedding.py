"""acc49: auto on a network nobody tuned it on - Google's speech_embedding CNN as
openWakeWord 0.4.0's wheel ships it (``openwakeword/resources/models/
embedding_model.onnx``: 20 Conv + LeakyReLU + Max, 76 x 32 log-mel frames ->
a 96-dim embedding; the wake-word heads read it), on the real speech the
wheels installed here carry (pysptk's CMU ARCTIC a0007, 4.0 s; amfm_decompy's
sample, 0.9 s; IPython's test.wav, 0.5 s at 44.1 kHz, resampled to 16 kHz).

Features as openWakeWord computes them: the wheel's melspectrogram.onnx run
in ONNX Runtime FP32 (not quantized: it is the pre-processing), then
``x / 10 + 2``; windows of 76 frames every 4 frames (openWakeWord steps 8).
Evaluation: the odd windows; calibration, two draws to measure the noise: the
windows 0 mod 4 (``--draw 1``) or 2 mod 4 (``--draw 2``). The windows overlap
(76 frames, 4 apart), so this measures the quantization of one voice's
features, not a shift of speaker (the wheels carry too little speech for that).

Every int8rt single method (entropy, entropy_legacy, minmax, percentile, mse),
auto, ONNX Runtime's quantize_static (quant_pre_process; MinMax / Entropy /
Percentile) and NNCF through benchmarks/accuracy_bench.py's ``evaluate``;
metrics on the [N, 96] embeddings (the model's output flattened): centred
cosine, relative L2, mean cosine per window, and nearest-neighbour agreement
(each window's most similar other window, INT8 against FP32).

Usage: PYTHONPATH=python python benchmarks/calib15_speech_embedding.py --wheel /tmp/calib15/dl/openwakeword-0.4.0-py3-none-any.whl
       [--draw 1] [--groups int8rt,ort,nncf] [--json out.json]
(``pip download --no-deps openwakeword==0.4.0``: 0.5+ download their models at run time.)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accuracy_bench as AB  # noqa: E402

MODELS = "openwakeword/resources/models/"
METHODS = ("entropy", "entropy_legacy", "minmax", "percentile", "mse", "auto")
CLIPS = (("pysptk", "example_audio_data/arctic_a0007.wav"), ("amfm_decompy", "sample.wav"),
         ("IPython", "lib/tests/test.wav"))


def _clip(package: str, rel: str) -> np.ndarray:
    """The clip as int16-scaled float32 at 16 kHz (openWakeWord's input)."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        raise RuntimeError(f"{package} is not installed (its {rel} is data here)")
    sr, x = wavfile.read(os.path.join(list(spec.submodule_search_locations)[0], rel))
    x = x.astype(np.float32)
    if x.ndim > 1:
        x = x.mean(1)
    if sr != 16000:
        g = np.gcd(sr, 16000)
        x = resample_poly(x, 16000 // g, sr // g).astype(np.float32)
    return x


def windows(mel_model: bytes, step: int = 4, size: int = 76) -> np.ndarray:
    """[N, 76, 32, 1] log-mel windows of every clip, in clip order."""
    import onnxruntime as ort

    s = ort.InferenceSession(mel_model, providers=["CPUExecutionProvider"])
    out = []
    for package, rel in CLIPS:
        spec = np.squeeze(s.run(None, {"input": _clip(package, rel)[None]})[0]) / 10 + 2  # [T, 32]
        out += [spec[i:i + size] for i in range(0, spec.shape[0] - size + 1, step)]
    return np.stack(out)[..., None].astype(np.float32)


def flattened(model: bytes) -> bytes:
    """The embedding model with its [N, 1, 1, 96] output flattened to [N, 96]."""
    import onnx
    from onnx import helper

    m = onnx.load_from_string(model)
    out = m.graph.output[0]
    flat = helper.make_node("Flatten", [out.name], [out.name + "_flat"], axis=1)
    m.graph.node.append(flat)
    m.graph.output.remove(out)
    m.graph.output.append(helper.make_tensor_value_info(out.name + "_flat", onnx.TensorProto.FLOAT, ["n", 96]))
    return m.SerializeToString()


def _nearest(e: np.ndarray) -> np.ndarray:
    n = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-30)
    sim = n @ n.T
    np.fill_diagonal(sim, -np.inf)
    return sim.argmax(1)


def embedding_metrics(task, out: np.ndarray, ref: np.ndarray) -> dict:
    """accuracy_bench.metrics_row for kind "embedding"; the other kinds as it has them."""
    if task["kind"] != "embedding":
        return _rows(task, out, ref)
    from int8rt.accuracy import metrics as M

    cos = np.sum(out * ref, 1) / np.maximum(np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1), 1e-30)
    return {"centred_cos": M.centred_cosine(ref, out), "rel_l2": M.relative_l2(ref, out),
            "mean_cos": float(np.mean(cos)), "nn_agree": float(np.mean(_nearest(out) == _nearest(ref)))}


_rows = AB.metrics_row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True, help="openwakeword-0.4.0-py3-none-any.whl")
    ap.add_argument("--draw", type=int, default=1, choices=(1, 2))
    ap.add_argument("--groups", default="int8rt,ort,nncf")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--ort", default="minmax,entropy,percentile")
    ap.add_argument("--json")
    args = ap.parse_args()
    with zipfile.ZipFile(args.wheel) as z:
        model, mel = z.read(MODELS + "embedding_model.onnx"), z.read(MODELS + "melspectrogram.onnx")
    x = windows(mel)
    idx = np.arange(len(x))
    calib = idx[idx % 4 == (0 if args.draw == 1 else 2)]
    calib = calib[:len(calib) // 16 * 16]  # whole batches of 16 (ONNX Runtime's histogram calibrators)
    evaluation = idx[idx % 2 == 1]
    AB.metrics_row = embedding_metrics
    task = dict(name=f"speech_embedding (openwakeword 0.4.0), draw {args.draw}", model=flattened(model),
                calib=x[calib], eval=x[evaluation], labels=None, kind="embedding")
    result = AB.evaluate(task, tuple(args.ort.split(",")), set(args.groups.split(",")),
                         lambda s: print(s, file=sys.stderr, flush=True), methods=tuple(args.methods.split(",")))
    AB.print_report(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
