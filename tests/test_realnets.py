"""INT8 accuracy on real pretrained networks (PP-OCR models shipped in the
rapidocr-onnxruntime wheel) on rendered text lines: int8rt's INT8 engines
must stay within stated bounds of FP32. Slow (builds and runs real networks);
skipped when the packages are not installed.

Run: PYTHONPATH=python python3 -m pytest -m slow tests/test_realnets.py
"""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

_NEEDED = ("onnx", "onnxruntime", "PIL", "matplotlib", "rapidocr_onnxruntime")
_MISSING = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
if _MISSING:
    pytest.skip(f"real-network tests need {', '.join(_MISSING)} "
                "(pip install pillow matplotlib onnx onnxruntime; pip install --no-deps rapidocr-onnxruntime)",
                allow_module_level=True)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))

import int8rt  # noqa: E402
from realnets import engines as E  # noqa: E402
from realnets.ocr_models import cls_task, models_dir, rec_task, static_input_model  # noqa: E402
from realnets.text_images import text_lines  # noqa: E402


def _setup(task, calib_n: int, eval_n: int):
    model = static_input_model(task.onnx_file, task.chw).SerializeToString()
    xc, _ = task.make_inputs(text_lines(calib_n, seed=1), 101)
    xe, labels = task.make_inputs(text_lines(eval_n, seed=2), 102)
    return model, xc, xe, labels


@pytest.fixture(scope="module")
def cls_setup():
    if models_dir() is None:
        pytest.skip("rapidocr-onnxruntime has no models folder")
    task = cls_task(models_dir())
    return (task,) + _setup(task, 64, 200)


def test_cls_fp32_engine_matches_onnxruntime(cls_setup):
    task, model, _, xe, _ = cls_setup
    engine, _ = E.int8rt_engine(model, "fp32", None, None)
    ours = E.run_batched(E.int8rt_runner(engine), xe)
    ref = E.run_batched(E.ort_runner(E.ort_session(model, 1)), xe)
    # float32 softmax probabilities; the two runtimes sum convolutions in different orders
    np.testing.assert_allclose(ours, ref, atol=1e-4)


@pytest.mark.parametrize("algorithm", ["entropy", "minmax"])
def test_cls_int8_close_to_fp32(cls_setup, algorithm):
    task, model, xc, xe, labels = cls_setup
    fp32 = E.run_batched(E.ort_runner(E.ort_session(model, 1)), xe)
    engine, _ = E.int8rt_engine(model, "int8", xc, algorithm)
    int8 = E.run_batched(E.int8rt_runner(engine), xe)
    acc32, acc8 = task.score(fp32, labels)["top1"], task.score(int8, labels)["top1"]
    agree = task.agree(int8, fp32)["agree"]
    # 200 lines: ONNX Runtime's own QDQ INT8 model agrees with FP32 on 98% of them;
    # allow 10 flipped directions (5%) and 3 points of direction accuracy.
    assert agree >= 0.95, f"{algorithm}: INT8 agrees with FP32 on {agree:.3f} of lines"
    assert acc8 >= acc32 - 0.03, f"{algorithm}: INT8 top-1 {acc8:.3f} vs FP32 {acc32:.3f}"


def test_rec_int8_minmax_char_accuracy_close_to_fp32():
    if models_dir() is None:
        pytest.skip("rapidocr-onnxruntime has no models folder")
    task = rec_task(models_dir())
    model, xc, xe, labels = _setup(task, 32, 48)
    int8rt.set_num_threads(2)
    fp32 = E.run_batched(E.ort_runner(E.ort_session(model, 2)), xe)
    engine, _ = E.int8rt_engine(model, "int8", xc, "minmax")
    int8 = E.run_batched(E.int8rt_runner(engine), xe)
    c32, c8 = task.score(fp32, labels)["char_acc"], task.score(int8, labels)["char_acc"]
    # 48 lines (~600 characters): measured 0.970 vs 0.982; 3 points leave room for
    # a few more character errors, far below a broken engine (entropy gives 0.0 here).
    assert c8 >= c32 - 0.03, f"INT8 minmax char accuracy {c8:.3f} vs FP32 {c32:.3f}"


def _natural_width(line, height: int = 48) -> np.ndarray:
    """A line at height 48 and its own width (rapidocr's resize, no padding)."""
    from realnets.ocr_models import resize_norm

    h, w = line.image.shape[:2]
    width = int(np.ceil(height * w / h))
    return resize_norm(line.image, height, width)


def test_rec_dynamic_width_int8_close_to_fp32():
    # The recogniser as shipped (symbolic batch, height and width): one INT8
    # engine, calibrated on batches of several widths, runs each line at its
    # own width.
    if models_dir() is None:
        pytest.skip("rapidocr-onnxruntime has no models folder")
    task = rec_task(models_dir())
    calib = [_natural_width(line) for line in text_lines(32, seed=1)]
    batches = []
    for i in range(0, len(calib), 4):  # rapidocr pads a batch to its widest line
        group = calib[i:i + 4]
        width = max(x.shape[2] for x in group)
        batch = np.zeros((len(group), 3, 48, width), np.float32)
        for j, x in enumerate(group):
            batch[j, :, :, :x.shape[2]] = x
        batches.append({"x": batch})
    assert len({b["x"].shape[3] for b in batches}) > 1
    int8rt.set_num_threads(2)
    engine = int8rt.build_engine(task.onnx_file, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="minmax"), accuracy_check=False))
    lines = text_lines(48, seed=2)
    import onnxruntime as ort
    sess = ort.InferenceSession(task.onnx_file, providers=["CPUExecutionProvider"])
    ctx = engine.create_execution_context()
    fp32, int8, widths = [], [], set()
    for line in lines:
        x = _natural_width(line)[None]
        widths.add(x.shape[3])
        fp32.append(sess.run(None, {"x": x})[0][0])
        int8.append(ctx.run({"x": x})[engine.output_names[0]][0])
    assert len(widths) > 10
    texts = [line.text for line in lines]
    c32 = np.mean([task.score(a[None], [t])["char_acc"] for a, t in zip(fp32, texts)])
    c8 = np.mean([task.score(a[None], [t])["char_acc"] for a, t in zip(int8, texts)])
    # Same bound as the fixed-width test above: 3 points of character accuracy.
    assert c8 >= c32 - 0.03, f"dynamic-width INT8 char accuracy {c8:.3f} vs FP32 {c32:.3f}"
