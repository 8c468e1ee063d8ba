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

Shared pieces (the clips, the metrics, the command line): benchmarks/wheel_nets.py.

Usage: PYTHONPATH=python python benchmarks/calib15_speech_embedding.py --wheel /tmp/calib15/dl/openwakeword-0.4.0-py3-none-any.whl
       [--draw 1] [--groups int8rt,ort,nncf] [--json out.json]
(``pip download --no-deps openwakeword==0.4.0``: 0.5+ download their models at run time.)
"""
from __future__ import annotations

import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wheel_nets as W  # noqa: E402

MODELS = "openwakeword/resources/models/"


def windows(mel_model: bytes, step: int = 4, size: int = 76, archives: tuple[str, ...] = ()) -> np.ndarray:
    """[N, 76, 32, 1] log-mel windows of every clip, in clip order."""
    import onnxruntime as ort

    s = ort.InferenceSession(mel_model, providers=["CPUExecutionProvider"])
    out = []
    for package, rel in W.SPEECH:
        spec = np.squeeze(s.run(None, {"input": W.clip(package, rel, archives=archives)[None]})[0]) / 10 + 2  # [T, 32]
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


def main() -> int:
    args = W.parser(__doc__, "openwakeword-0.4.0-py3-none-any.whl").parse_args()
    with zipfile.ZipFile(args.wheel) as z:
        model, mel = z.read(MODELS + "embedding_model.onnx"), z.read(MODELS + "melspectrogram.onnx")
    x = windows(mel, archives=tuple(args.archives))
    idx = np.arange(len(x))
    calib = idx[idx % 4 == (0 if args.draw == 1 else 2)]
    calib = calib[:len(calib) // 16 * 16]  # whole batches of 16 (ONNX Runtime's histogram calibrators)
    evaluation = idx[idx % 2 == 1]
    task = dict(name=f"speech_embedding (openwakeword 0.4.0), draw {args.draw}", model=flattened(model),
                calib=x[calib], eval=x[evaluation], labels=None, kind="embedding")
    W.run_tasks([task], args, W.embedding_metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
