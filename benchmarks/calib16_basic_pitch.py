"""acc51: auto on a network nobody tuned it on - Spotify's Basic Pitch (ICASSP
2022 "NMP") as the basic-pitch 0.4.0 wheel ships it (``basic_pitch/
saved_models/icassp_2022/nmp.onnx``, tf2onnx): the whole model in one graph -
its CQT front end (strided convolutions over the waveform), log magnitude with
a per-window normalisation (ReduceMax / ReduceMin), harmonic stacking (Slice /
Pad / Concat), BatchNorm, then a small 2-D CNN with three sigmoid heads: note
and onset posteriors [172 frames, 88 keys] and pitch contours [172, 264]. In:
43844 samples at 22.05 kHz (2 s windows).

Inputs: the real audio other wheels and the Python install carry, pysptk's CMU
ARCTIC a0007, amfm_decompy's sample, IPython's test.wav (speech) and the
standard library's test/audiodata/pluck-pcm16.wav (a plucked string), at
22.05 kHz in [-1, 1], one after the other as one stream (basic-pitch's own
half-overlap of zeros in front, as its get_audio_input pads), cut into
windows every 1024 samples (46 ms). Evaluation: the odd windows; calibration,
two draws: the windows 0 mod 4 (``--draw 1``) or 2 mod 4 (``--draw 2``),
whole batches of 16. Windows overlap by 95 %: this measures the quantization
of these clips, not a shift of data set.

Compared output: the three heads flattened and concatenated (note, onset,
contour: [N, 172 * 440]; the graph's three outputs joined by a Concat added
after them). Metrics against int8rt's FP32 engine: centred cosine and relative
L2 of the whole, and the task's masks as basic-pitch thresholds them
(defaults of its predict: frame threshold 0.3 on the note posteriors, onset
threshold 0.5): intersection over union with FP32's masks (``note_iou``,
``onset_iou``).

Usage: PYTHONPATH=python python benchmarks/calib16_basic_pitch.py --wheel /tmp/calib16/dl/basic_pitch-0.4.0-py2.py3-none-any.whl
       [--draw 1] [--groups int8rt,ort,nncf] [--json out.json] [--archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz ...]
(``pip download --no-deps basic-pitch==0.4.0``.)
"""
from __future__ import annotations

import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wheel_nets as W  # noqa: E402

MODEL = "basic_pitch/saved_models/icassp_2022/nmp.onnx"
PLUCK = ("test", "audiodata/pluck-pcm16.wav")
RATE, FFT_HOP, N_SAMPLES, FRAMES, STEP = 22050, 256, 43844, 172, 1024
HEADS = (("StatefulPartitionedCall:1", 88), ("StatefulPartitionedCall:2", 88), ("StatefulPartitionedCall:0", 264))
FRAME_THRESHOLD, ONSET_THRESHOLD = 0.3, 0.5


def windows(archives=()) -> np.ndarray:
    """[N, 43844, 1] windows of the clips' stream."""
    clips = [W.clip(p, r, RATE, archives) / 32768.0 for p, r in W.SPEECH + (PLUCK,)]
    overlap = 30 * FFT_HOP  # basic-pitch's n_overlapping_frames * FFT_HOP; half of it in front
    stream = np.concatenate([np.zeros(overlap // 2, np.float32)] + clips)
    starts = range(0, len(stream) - N_SAMPLES + 1, STEP)
    return np.stack([stream[s:s + N_SAMPLES] for s in starts])[..., None].astype(np.float32)


def wheel_model(wheel: str) -> bytes:
    """The wheel's ONNX model, joined to one output (``joined``)."""
    with zipfile.ZipFile(wheel) as z:
        return joined(z.read(MODEL))


def joined(model: bytes) -> bytes:
    """The model with one output: its three heads flattened and concatenated (note, onset, contour)."""
    import onnx
    from onnx import helper

    m = onnx.load_from_string(model)
    outs = {o.name: o for o in m.graph.output}
    flat = []
    for name, _ in HEADS:
        m.graph.node.append(helper.make_node("Flatten", [name], [name + "_flat"], axis=1))
        flat.append(name + "_flat")
    m.graph.node.append(helper.make_node("Concat", flat, ["heads"], axis=1))
    for o in list(outs.values()):
        m.graph.output.remove(o)
    m.graph.output.append(helper.make_tensor_value_info("heads", onnx.TensorProto.FLOAT,
                                                        ["n", FRAMES * sum(k for _, k in HEADS)]))
    return m.SerializeToString()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a & b) / max(1, np.sum(a | b)))


def mask_metrics(task, out: np.ndarray, ref: np.ndarray) -> dict:
    """Centred cosine, relative L2 of the joined heads; note / onset mask IoU against FP32."""
    r = W.embedding_metrics(task, out, ref)
    note, onset = slice(0, FRAMES * 88), slice(FRAMES * 88, FRAMES * 176)
    return {"centred_cos": r["centred_cos"], "rel_l2": r["rel_l2"],
            "note_iou": _iou(out[:, note] > FRAME_THRESHOLD, ref[:, note] > FRAME_THRESHOLD),
            "onset_iou": _iou(out[:, onset] > ONSET_THRESHOLD, ref[:, onset] > ONSET_THRESHOLD)}


def main() -> int:
    args = W.parser(__doc__, "basic_pitch-0.4.0-py2.py3-none-any.whl").parse_args()
    model = wheel_model(args.wheel)
    x = windows(tuple(args.archives))
    idx = np.arange(len(x))
    calib = idx[idx % 4 == (0 if args.draw == 1 else 2)]
    calib = calib[:len(calib) // 16 * 16]  # whole batches of 16 (ONNX Runtime's histogram calibrators)
    evaluation = idx[idx % 2 == 1]
    task = dict(name=f"basic_pitch nmp (basic-pitch 0.4.0), draw {args.draw}", model=model,
                calib=x[calib], eval=x[evaluation], labels=None, kind="embedding")
    W.run_tasks([task], args, mask_metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
