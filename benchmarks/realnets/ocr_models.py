"""The PP-OCR networks shipped in the ``rapidocr-onnxruntime`` wheel, as
benchmark tasks: where the ONNX file is, how an image becomes the input
tensor, and how outputs are scored.

Preprocessing follows rapidocr_onnxruntime 1.4.4 (``ch_ppocr_cls/text_cls.py``,
``ch_ppocr_rec/text_recognize.py``): BGR channel order, resize to height 48
keeping the aspect ratio (width capped at the model width), ``(x/255-0.5)/0.5``,
zero padding on the right. Pillow's bilinear resize stands in for OpenCV's.
The recogniser's CTC decoding follows ``ch_ppocr_rec/utils.py``
(``CTCLabelDecode``): argmax per step, repeats merged, blank (index 0)
dropped, the alphabet read from the model's ``character`` metadata with a
space appended.
"""
from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .text_images import TextLine

PACKAGE = "rapidocr_onnxruntime"


def models_dir() -> Optional[str]:
    """The models folder of the installed rapidocr-onnxruntime, or None.

    Found without importing the package (its ``__init__`` needs OpenCV,
    which the benchmark does not)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return None
    folder = os.path.join(os.path.dirname(spec.origin), "models")
    return folder if os.path.isdir(folder) else None


def static_input_model(path: str, chw: tuple[int, int, int]):
    """The ONNX model at ``path`` with its image input fixed to (N, C, H, W)
    (batch kept symbolic), like a TensorRT optimization profile of one shape;
    stale intermediate shape annotations are dropped."""
    import onnx

    model = onnx.load(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].Clear()
    dims[0].dim_param = "N"
    for d, v in zip(list(dims)[1:], chw):
        d.Clear()
        d.dim_value = int(v)
    del model.graph.value_info[:]
    return annotate_shapes(model)


def annotate_shapes(model):
    """Adds ONNX Runtime's symbolic shape inference results as value_info.

    int8rt's importer takes intermediate shapes from ONNX shape inference,
    which does not propagate values through ``Cast``; Paddle exports compute
    every Reshape target as Shape -> Cast -> Slice -> Cast -> Concat, so
    without these annotations the importer stops at the first consumer that
    needs a rank (Softmax) or a static shape (Shape). ORT's symbolic
    inference follows Cast. It asserts ``axis == 0`` on the 1-D Concat of
    such chains, which Paddle writes as ``axis=-1``: a copy with those axes
    made non-negative (same meaning) is inferred, and only the inferred
    value_info is copied back; the model's nodes are untouched.
    """
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    inferred = onnx.shape_inference.infer_shapes(copy, strict_mode=False, data_prop=True)
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in inferred.graph.value_info
             if vi.type.tensor_type.HasField("shape")}
    for node in copy.graph.node:
        if node.op_type == "Concat" and node.input[0] in ranks:
            for a in node.attribute:
                if a.name == "axis" and a.i < 0:
                    a.i += ranks[node.input[0]]
    symbolic = SymbolicShapeInference.infer_shapes(copy, auto_merge=True)
    del model.graph.value_info[:]
    model.graph.value_info.extend(symbolic.graph.value_info)
    return model


def resize_norm(image_rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """rapidocr's ``resize_norm_img``: (3, height, width) float32, BGR, padded right."""
    from PIL import Image

    h, w = image_rgb.shape[:2]
    resized_w = min(width, int(math.ceil(height * w / float(h))))
    img = Image.fromarray(image_rgb).resize((resized_w, height), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32)[:, :, ::-1].transpose(2, 0, 1) / 255.0
    out = np.zeros((3, height, width), dtype=np.float32)
    out[:, :, :resized_w] = (a - 0.5) / 0.5
    return out


def ctc_decode(probs: np.ndarray, alphabet: list[str]) -> list[str]:
    """Greedy CTC decoding of (N, T, C) probabilities."""
    idx = probs.argmax(axis=2)
    texts = []
    for row in idx:
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        keep &= row != 0
        texts.append("".join(alphabet[i] for i in row[keep]))
    return texts


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass
class Task:
    """One network: its file, fixed input shape, data and scoring.

    ``make_inputs(lines, seed)`` returns (N,C,H,W) inputs and the labels;
    ``score(outputs, labels)`` returns {metric: value} against the labels;
    ``agree(outputs, reference_outputs)`` returns {metric: value} of one
    engine's outputs against the FP32 reference's."""

    name: str
    onnx_file: str
    chw: tuple[int, int, int]
    make_inputs: Callable[[list[TextLine], int], tuple[np.ndarray, list]]
    score: Callable[[np.ndarray, list], dict[str, float]]
    agree: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    notes: str = ""


def _cls_inputs(lines: list[TextLine], seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    xs, labels = [], []
    for line in lines:
        flip = int(rng.integers(0, 2))  # label 1: the line is upside down ('180')
        img = line.image[::-1, ::-1] if flip else line.image
        xs.append(resize_norm(np.ascontiguousarray(img), 48, 192))
        labels.append(flip)
    return np.stack(xs), labels


def _cls_score(out: np.ndarray, labels: list[int]) -> dict[str, float]:
    return {"top1": float(np.mean(out.argmax(1) == np.asarray(labels)))}


def _cls_agree(out: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    return {"agree": float(np.mean(out.argmax(1) == ref.argmax(1))),
            "max|dp|": float(np.abs(out - ref).max())}


def cls_task(folder: str) -> Task:
    """PP-OCR mobile v2.0 text-direction classifier (0 vs 180 degrees)."""
    return Task("ppocr_cls_mobile_v2", os.path.join(folder, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), (3, 48, 192),
                _cls_inputs, _cls_score, _cls_agree,
                notes="text lines, half rotated 180 degrees; top1 = direction accuracy")


def rec_task(folder: str) -> Task:
    """PP-OCRv4 mobile text recogniser (CTC over 6625 classes)."""
    import onnx

    path = os.path.join(folder, "ch_PP-OCRv4_rec_infer.onnx")
    meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    alphabet = ["blank"] + meta["character"].splitlines() + [" "]

    def inputs(lines: list[TextLine], seed: int) -> tuple[np.ndarray, list[str]]:
        return np.stack([resize_norm(line.image, 48, 320) for line in lines]), [line.text for line in lines]

    def score(out: np.ndarray, texts: list[str]) -> dict[str, float]:
        pred = ctc_decode(out, alphabet)
        errors = sum(edit_distance(p, t) for p, t in zip(pred, texts))
        return {"line_acc": float(np.mean([p == t for p, t in zip(pred, texts)])),
                "char_acc": 1.0 - errors / max(1, sum(len(t) for t in texts))}

    def agree(out: np.ndarray, ref: np.ndarray) -> dict[str, float]:
        a, b = ctc_decode(out, alphabet), ctc_decode(ref, alphabet)
        return {"agree": float(np.mean([x == y for x, y in zip(a, b)]))}

    return Task("ppocrv4_rec_mobile", path, (3, 48, 320), inputs, score, agree,
                notes="text lines; line_acc = exact text, char_acc = 1 - edit distance / chars")
