"""Real text-line images for the OCR benchmarks, rendered with Pillow.

Each sample is one line of English words (from the Zen of Python, which
ships with every Python) or digits/punctuation, drawn in one of matplotlib's
bundled TrueType fonts (DejaVu, STIX, Computer Modern), at a random size,
with random ink/paper colours, a little Gaussian blur and sensor noise. A
seed fixes everything, so calibration and evaluation splits are disjoint and
reproducible (different seeds). Nothing is downloaded: the fonts come from
the matplotlib wheel, the words from the standard library.
"""
from __future__ import annotations

import codecs
import importlib.util
import os
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

# Text fonts only (STIX size/symbol variants and cmex/cmsy/cmmi are symbol fonts).
_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansMono.ttf",
          "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-Bold.ttf",
          "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf",
          "cmtt10.ttf")


def font_paths() -> list[str]:
    """The bundled fonts that exist in the installed matplotlib (ImportError without it)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise ImportError("the text images need matplotlib's bundled fonts: pip install matplotlib")
    folder = os.path.join(os.path.dirname(spec.origin), "mpl-data", "fonts", "ttf")
    paths = [os.path.join(folder, f) for f in _FONTS if os.path.exists(os.path.join(folder, f))]
    if not paths:
        raise ImportError(f"no TrueType fonts found in {folder}")
    return paths


def _words() -> list[str]:
    # The Zen of Python, ROT13-encoded in the standard library's ``this`` module;
    # read from its source because importing it prints the text.
    import ast

    spec = importlib.util.find_spec("this")
    tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    encoded = next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "s")
    text = codecs.decode(encoded, "rot13")
    return sorted(set(re.findall(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]", text)))


@dataclass
class TextLine:
    """One rendered line: the image (H x W x 3 uint8, RGB) and its text."""

    image: np.ndarray
    text: str


def _line_text(rng: np.random.Generator, words: list[str]) -> str:
    kind = rng.random()
    if kind < 0.15:  # numbers, dates, prices
        parts = [str(rng.integers(0, 10 ** int(rng.integers(1, 6)))) for _ in range(int(rng.integers(1, 4)))]
        return rng.choice(["-", ".", ":", " ", "/"]).join(parts)
    n = int(rng.integers(1, 5))
    picked = [words[int(i)] for i in rng.integers(0, len(words), n)]
    if rng.random() < 0.3:
        picked[0] = picked[0].capitalize()
    text = " ".join(picked)
    if rng.random() < 0.3:
        text += str(rng.choice([".", ",", "!", "?", ":"]))
    return text


def render_line(rng: np.random.Generator, text: str, font_path: str, *, height: Optional[int] = None) -> np.ndarray:
    """Renders ``text`` tightly (a few pixels of margin) in ``font_path``; RGB uint8."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    size = int(height or rng.integers(20, 44))
    font = ImageFont.truetype(font_path, size)
    left, top, right, bottom = font.getbbox(text)
    pad_x, pad_y = int(rng.integers(2, 10)), int(rng.integers(2, 8))
    w, h = right - left + 2 * pad_x, bottom - top + 2 * pad_y
    paper = rng.integers(150, 256, 3)
    ink = rng.integers(0, 90, 3)
    img = Image.new("RGB", (int(w), int(h)), tuple(int(c) for c in paper))
    ImageDraw.Draw(img).text((pad_x - left, pad_y - top), text, font=font, fill=tuple(int(c) for c in ink))
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    a = np.asarray(img, dtype=np.float32)
    a = a + rng.normal(0.0, float(rng.uniform(0.0, 8.0)), a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


def text_lines(count: int, seed: int) -> list[TextLine]:
    """``count`` rendered lines; the same seed gives the same lines."""
    rng = np.random.default_rng(seed)
    fonts, words = font_paths(), _words()
    out = []
    for _ in range(count):
        text = _line_text(rng, words)
        font = fonts[int(rng.integers(0, len(fonts)))]
        out.append(TextLine(render_line(rng, text, font), text))
    return out
