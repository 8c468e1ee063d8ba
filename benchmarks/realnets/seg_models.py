"""torchvision's semantic-segmentation networks exported as users export them,
and natural images to feed them.

- ``lraspp_mobilenet_v3_large``, ``deeplabv3_mobilenet_v3_large``,
  ``fcn_resnet50`` from ``torchvision.models.segmentation`` with random
  weights (``weights=None, weights_backbone=None``, aux heads off), seeded;
  BatchNorm running statistics set from natural images (one pass in training
  mode with a cumulative average), so activations are not degenerate.
- Exported with ``torch.onnx.export`` and its default opset, the ``"out"``
  map only, with a dynamic batch, height and width: the final bilinear
  Resize's output size then comes from the input's run-time Shape, as in
  every user's export. ``dynamo=False`` is the TorchScript exporter
  (Shape -> Gather -> Unsqueeze -> Concat -> Cast size chains); the default
  (``dynamo=True``) computes the sizes with Shape(start, end) / Div / Reshape.
- Images: the photographs in scikit-image's wheel (``skimage/data/*.png``,
  read with Pillow, no skimage import needed), cropped and resized to the
  sizes asked for, ImageNet-normalised (torchvision's convention).

torchvision's PyPI wheel is built against a CUDA torch; on torch's CPU build
its C extension does not load and ``import torchvision`` then fails
registering fake kernels for ``torchvision::nms``/``qnms``.
:func:`import_torchvision` defines those two op schemas first (the
segmentation models use neither), so the Python model definitions load.
"""
from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

NAMES = ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "fcn_resnet50")
MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
# Colour photographs bundled in scikit-image's wheel (grey ones are replicated to RGB).
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg", "retina.jpg",
          "hubble_deep_field.jpg", "ihc.png", "camera.png", "moon.png", "coins.png", "page.png", "brick.png",
          "grass.png", "gravel.png", "cell.png", "text.png", "horse.png", "clock_motion.png",
          "microaneurysms.png")


def missing() -> Optional[str]:
    """Why the segmentation networks cannot be made here, or None."""
    for mod, how in (("torch", "pip install torch==2.13.0"), ("onnx", "pip install onnx"),
                     ("torchvision", "pip install --no-deps torchvision==0.28.0"),
                     ("PIL", "pip install pillow"), ("skimage", "pip install --no-deps scikit-image")):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed ({how})"
    if photo_dir() is None:
        return "scikit-image's data folder has no photographs"
    try:
        import_torchvision()
    except Exception as e:  # noqa: BLE001 - the reason is what the caller reports
        return f"torchvision does not import: {type(e).__name__}: {e}"
    return None


def import_torchvision():
    """``torchvision``, importable on torch's CPU build (module docstring)."""
    import torch

    if not hasattr(import_torchvision, "lib"):
        import sys
        try:
            import torchvision  # noqa: F401 - a build whose C extension loads needs nothing more
        except RuntimeError:  # "operator torchvision::nms does not exist": start again with the ops defined
            for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
                del sys.modules[name]
            lib = torch.library.Library("torchvision", "FRAGMENT")
            for op in ("nms", "qnms"):
                try:
                    getattr(torch.ops.torchvision, op)
                except (AttributeError, RuntimeError):
                    lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            import_torchvision.lib = lib  # the definitions live as long as the library object
    import torchvision
    return torchvision


def photo_dir() -> Optional[Path]:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "data"
    return d if (d / "astronaut.png").exists() else None


def photos() -> List[np.ndarray]:
    """The bundled photographs as HxWx3 uint8 arrays (those present)."""
    from PIL import Image

    d = photo_dir()
    out = []
    for name in PHOTOS:
        p = d / name
        if p.exists():
            with Image.open(io.BytesIO(p.read_bytes())) as im:
                out.append(np.asarray(im.convert("RGB")))
    return out


def images(n: int, size: Tuple[int, int], seed: int) -> np.ndarray:
    """``n`` ImageNet-normalised NCHW float32 images of ``size`` (H, W): random
    crops (a quarter to all of each side) of the bundled photographs, resized
    bilinearly, randomly mirrored; photo order and crops from ``seed``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    src = photos()
    h, w = size
    out = np.empty((n, 3, h, w), np.float32)
    for i in range(n):
        im = src[int(rng.integers(len(src)))]
        H, W = im.shape[:2]
        ch, cw = int(H * rng.uniform(0.25, 1.0)), int(W * rng.uniform(0.25, 1.0))
        y0, x0 = int(rng.integers(H - ch + 1)), int(rng.integers(W - cw + 1))
        crop = Image.fromarray(im[y0:y0 + ch, x0:x0 + cw]).resize((w, h), Image.BILINEAR)
        a = np.asarray(crop, np.float32).transpose(2, 0, 1) / 255.0
        if rng.integers(2):
            a = a[:, :, ::-1]
        out[i] = (a - MEAN) / STD
    return out


def make_model(name: str, seed: int = 0, bn_images: int = 8, bn_size: int = 224):
    """The named torchvision segmentation network (``NAMES``), seeded random
    weights, BatchNorm statistics from ``bn_images`` photographs, eval mode,
    wrapped to return the ``"out"`` map as a tensor."""
    import torch

    seg = import_torchvision().models.segmentation
    torch.manual_seed(seed)
    kwargs = dict(weights=None, weights_backbone=None)
    if name != "lraspp_mobilenet_v3_large":
        kwargs["aux_loss"] = False
    net = getattr(seg, name)(**kwargs)

    class Out(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.m(x)["out"]

    model = Out(net)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(images(bn_images, (bn_size, bn_size), seed + 100)))
    return model.eval()


def export(name: str, path: Path, dynamo: bool = False, seed: int = 0, example: int = 224) -> Path:
    """Writes ``name`` (make_model) to ``path`` as ONNX with input ``input``
    [N, 3, H, W] and output ``out`` [N, classes, H, W], all of N, H, W
    dynamic, the exporter's default opset."""
    import torch

    model = make_model(name, seed)
    x = torch.from_numpy(images(1, (example, example), seed + 200))
    axes = {"input": {0: "N", 2: "H", 3: "W"}, "out": {0: "N", 2: "H", 3: "W"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["out"],
                              dynamic_axes=axes)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["input"], output_names=["out"],
                              dynamic_axes=axes)
    return path


def varying_pixels(ref: np.ndarray) -> np.ndarray:
    """Mask [N, H, W] of the pixel positions whose FP32 argmax (``ref``:
    [N, classes, H, W]) is not the same in all N images: where the prediction
    depends on the image rather than on the (random) weights alone."""
    arg = ref.argmax(1)
    return np.broadcast_to((arg != arg[:1]).any(0), arg.shape)


def centred_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the per-pixel logits after removing each one's class mean
    over all pixels (so a constant per-class bias does not count)."""
    c = a.shape[1]
    x = np.moveaxis(a, 1, -1).reshape(-1, c).astype(np.float64)
    y = np.moveaxis(b, 1, -1).reshape(-1, c).astype(np.float64)
    x -= x.mean(0)
    y -= y.mean(0)
    return float((x * y).sum() / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-30))


def seg_sizes() -> Sequence[Tuple[int, int]]:
    """Input sizes the checks use: two shapes, neither square."""
    return ((224, 288), (320, 256))
