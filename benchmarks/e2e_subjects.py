"""The networks e2e_bench.py times, as subjects: each one's ONNX file,
calibration batches (feeds) and timed inputs, made by ``subject(name, size,
folder)`` (e2e_bench.py's docstring lists the networks and how each is made):
the torchvision-shaped CNNs of e2e_models.py exported by torch.onnx, the
bundled digits CNN, PP-OCRv4 det / rec from the rapidocr wheel, torchvision's
segmentation networks (realnets/seg_models.py) and the BERT-class encoders
(e2e_feeds.encoder).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

import e2e_feeds as F

DATA = Path(__file__).resolve().parent.parent / "python" / "int8rt" / "data"
SEG_MODELS = ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "fcn_resnet50")


class Subject:
    """One network: its ONNX file, calibration batches, sample inputs and the
    implementations built from it (name -> model or engine, or the error).
    A network with several inputs gives its calibration as feeds and its
    timed feed per batch as `feed_fn`."""

    def __init__(self, name: str, onnx_path: Path, calib: list,
                 torch_model: object = None, test: Optional[tuple] = None,
                 input_name: str = "input", sample: Optional[np.ndarray] = None,
                 feed_fn: Optional[Callable[[int], F.Feed]] = None, nncf_options: Optional[dict] = None) -> None:
        self.name, self.onnx_path = name, onnx_path
        self.calib_feeds: List[F.Feed] = [c if isinstance(c, dict) else {input_name: c} for c in calib]
        self.torch_model, self.test = torch_model, test
        self.input_name = input_name
        self.sample = sample  # timed inputs (first `batch` rows); None: seeded Gaussian
        self.feed_fn, self.nncf_options = feed_fn, nncf_options or {}
        self.engines: Dict[str, object] = {}
        self.errors: Dict[str, str] = {}
        self.ort_int8: Optional[bytes] = None
        self.ov_models: Dict[str, object] = {}  # "fp32" / "int8" -> openvino.Model
        self.build_s: Dict[str, float] = {}
        self.ov_settings: Dict[str, str] = {}  # OV row -> the compiled model's settings
        self.torch_int8: object = None

    @property
    def calib(self) -> List[np.ndarray]:
        """The calibration batches of a one-input network, as arrays (other benchmarks read them)."""
        return [f[self.input_name] for f in self.calib_feeds]

    def inputs(self, batch: int) -> np.ndarray:
        """The timed input array of a one-input network at `batch`."""
        return self.feed(batch)[self.input_name]

    def feed(self, batch: int) -> F.Feed:
        """The timed inputs at `batch`."""
        if self.feed_fn is not None:
            return self.feed_fn(batch)
        if self.test is not None:
            x = np.ascontiguousarray(self.test[0][:batch])
        elif self.sample is not None:
            x = np.ascontiguousarray(self.sample[:batch])
        else:
            x = np.random.default_rng(1).standard_normal((batch,) + self.calib_feeds[0][self.input_name].shape[1:],
                                                         dtype=np.float32)
        return {self.input_name: x}


def export(name: str, size: int, tmp: Path) -> Subject:
    import torch
    from e2e_models import make_model
    model = make_model(name)
    path = tmp / f"{name}.onnx"
    # Written under a name of this process and renamed over the old file, so two
    # runs sharing a models folder never read each other's half-written export.
    partial = tmp / f"{name}.{os.getpid()}.partial.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, size, size), str(partial), dynamo=False,
                          input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    os.replace(partial, path)
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((8, 3, size, size), dtype=np.float32) for _ in range(4)]
    return Subject(name, path, calib, torch_model=model)


def digits() -> Subject:
    d = np.load(DATA / "digits.npz")
    calib = [d["calib"][i:i + 32] for i in range(0, len(d["calib"]), 32)]
    return Subject("digits_cnn", DATA / "digits_cnn.onnx", calib, test=(d["test_x"], d["test_y"]))


def ppocr(name: str, tmp: Path) -> Optional[Subject]:
    """PP-OCRv4 recogniser (3x48x320) or detector (3x320x320) from the
    rapidocr-onnxruntime wheel with a static image shape
    (realnets/ocr_models.static_input_model), calibrated on 4 batches of 8
    rendered text lines (rec) or text pages (det: two of accuracy_bench's
    160x320 three-line pages stacked), timed on other lines/pages (seed 2)."""
    from realnets.ocr_models import models_dir, rec_task, static_input_model
    from realnets.text_images import text_lines
    folder = models_dir()
    if folder is None:
        print(f"skipping {name}: rapidocr-onnxruntime is not installed "
              "(pip install --no-deps rapidocr-onnxruntime==1.4.4)")
        return None
    if name == "ppocr_rec":
        task = rec_task(folder)
        chw, onnx_file = task.chw, task.onnx_file
        calib, _ = task.make_inputs(text_lines(32, seed=1), 101)
        sample, _ = task.make_inputs(text_lines(8, seed=2), 102)
    else:
        from accuracy_bench import det_task
        chw, onnx_file = (3, 320, 320), str(Path(folder) / "ch_PP-OCRv4_det_infer.onnx")
        d = det_task(folder, 64, 16)
        calib, sample = (np.ascontiguousarray(np.concatenate([a[0::2], a[1::2]], axis=2))
                         for a in (d["calib"], d["eval"]))
    model = static_input_model(onnx_file, chw)
    path = tmp / f"{name}.onnx"
    partial = tmp / f"{name}.{os.getpid()}.partial.onnx"
    partial.write_bytes(model.SerializeToString())
    os.replace(partial, path)
    batches = [np.ascontiguousarray(calib[i:i + 8]) for i in range(0, len(calib), 8)]
    return Subject(name, path, batches, input_name=model.graph.input[0].name, sample=sample)


def segmentation(name: str, size: int, tmp: Path) -> Optional[Subject]:
    """A torchvision segmentation network (realnets/seg_models.py) with its
    dynamic height and width, calibrated on 4 x 8 photographs at size x size
    and timed on 8 others."""
    from realnets import seg_models
    reason = seg_models.missing()
    if reason is not None:
        print(f"skipping {name}: {reason}")
        return None
    path = seg_models.export(name, tmp / f"{name}.onnx")
    calib = [seg_models.images(8, (size, size), 10 + i) for i in range(4)]
    return Subject(name, path, calib, sample=seg_models.images(8, (size, size), 99))


def encoder(name: str, tmp: Path) -> Subject:
    import nncf
    path, calib, feed_fn = F.encoder(name, str(tmp))
    return Subject(name, Path(path), calib, feed_fn=feed_fn,
                   nncf_options={"model_type": nncf.ModelType.TRANSFORMER})


def subject(name: str, size: int, tmp: Path) -> Optional[Subject]:
    if name in F.ENCODERS:
        return encoder(name, tmp)
    if name == "digits":
        return digits()
    if name in SEG_MODELS:
        return segmentation(name, size, tmp)
    if name.startswith("ppocr_"):
        return ppocr(name, tmp)
    return export(name, size, tmp)
