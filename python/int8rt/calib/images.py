"""Calibration images from a folder: decoded with Pillow, resized, put in the
model's channel order and layout, and normalised as the model was trained.

The preprocessing is torchvision's convention: pixels scaled to [0, 1], then
``(x - mean) / std`` per channel (ImageNet models: ``mean 0.485 0.456 0.406``,
``std 0.229 0.224 0.225``). Nothing is guessed silently: the defaults (mean 0,
std 1, the model's own height and width, NCHW, RGB or GRAY by the channel
count) are written out by :meth:`ImageOptions.describe`, and the model's input
shape is checked against the options, each error naming the option that fixes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

__all__ = ["ImageBatches", "ImageOptions", "load_images"]

_CHANNELS = {"RGB": 3, "BGR": 3, "GRAY": 1}


@dataclass(frozen=True)
class ImageOptions:
    """How images become a model input.

    Attributes:
        mean, std: per-channel (or one value for all), applied after scaling
            pixels to [0, 1]: ``(x / 255 - mean) / std``.
        size: ``(height, width)`` to resize to (bilinear, the aspect ratio is
            not kept); None: the model input's static height and width.
        layout: ``"NCHW"`` or ``"NHWC"``.
        color: ``"RGB"``, ``"BGR"`` or ``"GRAY"``; None: GRAY for a
            one-channel input, RGB otherwise.
    """

    mean: Sequence[float] = (0.0,)
    std: Sequence[float] = (1.0,)
    size: Optional[tuple[int, int]] = None
    layout: str = "NCHW"
    color: Optional[str] = None

    def resolve(self, input_name: str, shape: Sequence[int]) -> "ImageOptions":
        """These options completed from the model input's shape, or a
        ValueError naming the option (and CLI flag) that fixes a mismatch."""
        layout = self.layout.upper()
        if layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be NCHW or NHWC (--layout), got {self.layout!r}")
        if len(shape) != 4:
            raise ValueError(f"images need a 4-D input; '{input_name}' has shape {list(shape)}")
        c_axis, hw_axes = (1, (2, 3)) if layout == "NCHW" else (3, (1, 2))
        channels = shape[c_axis]
        color = (self.color or ("GRAY" if channels == 1 else "RGB")).upper()
        if color not in _CHANNELS:
            raise ValueError(f"color must be RGB, BGR or GRAY (--color), got {self.color!r}")
        if channels > 0 and channels != _CHANNELS[color]:
            other = shape[3] if layout == "NCHW" else shape[1]
            hint = (f"; the input looks {'NHWC' if layout == 'NCHW' else 'NCHW'}: pass --layout "
                    f"{'NHWC' if layout == 'NCHW' else 'NCHW'}" if other == _CHANNELS[color] else
                    f"; pass --color {'GRAY' if channels == 1 else 'RGB'}" if channels in (1, 3) else "")
            raise ValueError(f"input '{input_name}' has shape {list(shape)}: {channels} channels on axis "
                             f"{c_axis} ({layout}), but color {color} has {_CHANNELS[color]}{hint}")
        model_hw = tuple(int(shape[a]) for a in hw_axes)
        if self.size is None:
            if min(model_hw) <= 0:
                raise ValueError(f"input '{input_name}' has shape {list(shape)} with a symbolic height or "
                                 "width: give the image size (--size H W)")
            size = model_hw
        else:
            size = (int(self.size[0]), int(self.size[1]))
            for got, want, what in zip(size, model_hw, ("height", "width")):
                if want > 0 and got != want:
                    raise ValueError(f"--size {size[0]} {size[1]} does not match input '{input_name}' "
                                     f"{list(shape)} ({layout}): its {what} is {want}")
        n = _CHANNELS[color]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, n):
                raise ValueError(f"--{name} takes 1 or {n} values for {color}, got {len(values)}")
        if any(float(s) == 0.0 for s in self.std):
            raise ValueError("--std values must be non-zero")
        return ImageOptions(mean=tuple(map(float, self.mean)), std=tuple(map(float, self.std)), size=size,
                            layout=layout, color=color)

    def describe(self) -> str:
        """One line saying exactly what is done to each image."""
        h, w = self.size or ("model", "model")
        return (f"resized to {h}x{w}, {self.color}, {self.layout}, (pixel/255 - mean {list(self.mean)}) "
                f"/ std {list(self.std)}")


class ImageBatches:
    """The images as ``{input_name: batch}`` dicts of ``batch_size`` images,
    decoded only when iterated, so memory holds one batch whatever the
    number of files (a batch source for :func:`int8rt.make_calibrator`).
    ``options`` must be resolved (:meth:`ImageOptions.resolve`)."""

    def __init__(self, files: Sequence[Path], input_name: str, options: ImageOptions, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.files, self.input_name, self.options, self.batch_size = list(files), input_name, options, batch_size

    def __len__(self) -> int:
        return (len(self.files) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, len(self.files), self.batch_size):
            yield {self.input_name: load_images(self.files[start:start + self.batch_size], self.input_name,
                                                self.options)}


def load_images(files: Sequence[Path], input_name: str, options: ImageOptions) -> np.ndarray:
    """The images as one float32 batch, preprocessed by resolved ``options``."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading a folder of images needs Pillow (pip install pillow); "
                          "or pass an .npz file of arrays") from None
    assert options.size is not None and options.color is not None, "resolve() the options first"
    height, width = options.size
    mean = np.asarray(options.mean, np.float32)
    std = np.asarray(options.std, np.float32)
    images = []
    for f in files:
        with Image.open(f) as im:
            im = im.convert("L" if options.color == "GRAY" else "RGB").resize((width, height), Image.BILINEAR)
            a = np.asarray(im, dtype=np.float32) / np.float32(255)
        a = a[:, :, None] if a.ndim == 2 else (a[:, :, ::-1] if options.color == "BGR" else a)
        a = (a - mean) / std
        images.append(a if options.layout == "NHWC" else a.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(images), dtype=np.float32)
