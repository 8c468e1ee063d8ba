"""``int8rt quickstart``: the whole INT8 workflow on the bundled example.

The package ships a small CNN trained by this project on scikit-learn's
handwritten digits (``int8rt/data``, see its README). The quickstart builds an
FP32 and an INT8 engine from the ONNX file, calibrating with
``IInt8AutoCalibrator`` (int8rt's recommended calibrator) on 256 training
images, prints the build's accuracy check, then reports held-out top-1
accuracy and latency of both, and which layers run in INT8.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_PATH = DATA_DIR / "digits_cnn.onnx"
DATA_PATH = DATA_DIR / "digits.npz"

__all__ = ["QuickstartResult", "run_quickstart", "MODEL_PATH", "DATA_PATH"]


@dataclass
class QuickstartResult:
    fp32_top1: float
    int8_top1: float
    fp32_batch1_ms: float
    int8_batch1_ms: float
    fp32_batch64_ms: float
    int8_batch64_ms: float
    int8_layers: int
    total_layers: int


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def run_quickstart(*, out_dir: Optional[Path] = None, echo: Callable[[str], None] = print) -> QuickstartResult:
    """Runs the quickstart; writes the INT8 engine and cache, and the example's
    model and data (``digits_cnn.onnx``, ``digits_calib.npz``,
    ``digits_test.npz``, keyed by the input name), into ``out_dir`` when given."""
    import int8rt

    data = np.load(DATA_PATH)
    calib, test_x, test_y = data["calib"], data["test_x"], data["test_y"]
    echo(f"model: {MODEL_PATH.name} ({MODEL_PATH.stat().st_size // 1024} KiB), "
         f"calibration: {len(calib)} images, held-out: {len(test_x)} images")

    class DigitsCalibrator(int8rt.IInt8AutoCalibrator):
        """A TensorRT-style calibrator over the bundled calibration images."""

        def __init__(self) -> None:
            super().__init__()
            self.offset = 0
            self.cache: Optional[bytes] = None

        def get_batch_size(self) -> int:
            return 32

        def get_batch(self, names: list[str]) -> Optional[list[np.ndarray]]:
            if self.offset >= len(calib):
                return None
            batch = calib[self.offset:self.offset + 32]
            self.offset += 32
            return [batch]

        def read_calibration_cache(self) -> Optional[bytes]:
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            self.cache = cache

    t0 = time.perf_counter()
    fp32 = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="fp32"))
    calibrator = DigitsCalibrator()
    int8 = int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(precision="int8", calibrator=calibrator))
    echo(f"built FP32 and INT8 engines in {time.perf_counter() - t0:.2f} s "
         f"(calibration cache: {len(calibrator.cache or b'')} bytes, TensorRT's text format, header AutoCalibration)")
    echo(int8.build_report().format())

    results = {}
    for label, engine in (("fp32", fp32), ("int8", int8)):
        ctx = engine.create_execution_context()
        logits = ctx.run({"input": test_x})["logits"]
        top1 = float(np.mean(np.argmax(logits, axis=1) == test_y) * 100.0)
        one = test_x[:1]
        batch = test_x[:64]
        ctx.run({"input": one})
        b1 = _median_ms(lambda: ctx.run({"input": one}), 50)
        b64 = _median_ms(lambda: ctx.run({"input": batch}), 20)
        results[label] = (top1, b1, b64)

    layers = int8.layers()
    n_int8 = sum(1 for layer in layers if layer["precision"] == "int8")
    echo("")
    echo(f"{'':8}{'top-1 (held-out)':>18}{'batch 1 (ms)':>14}{'batch 64 (ms)':>15}")
    for label in ("fp32", "int8"):
        top1, b1, b64 = results[label]
        echo(f"{label.upper():8}{top1:>17.2f}%{b1:>14.3f}{b64:>15.3f}")
    echo("")
    echo(f"INT8 engine: {n_int8} of {len(layers)} layers run in int8 "
         f"(kernels: {', '.join(sorted({l['detail'] for l in layers if l['precision'] == 'int8'}))})")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        int8.save(out_dir / "digits_int8.i8rt")
        (out_dir / "digits.cache").write_bytes(calibrator.cache or b"")
        # The example's model and data too, so every command of docs/ can start from them.
        shutil.copyfile(MODEL_PATH, out_dir / "digits_cnn.onnx")
        np.savez(out_dir / "digits_calib.npz", input=calib)
        np.savez(out_dir / "digits_test.npz", input=test_x[:8])
        echo(f"wrote {out_dir}: digits_int8.i8rt, digits.cache, and the example's digits_cnn.onnx, "
             "digits_calib.npz (calibration images), digits_test.npz (8 held-out images)")
    return QuickstartResult(results["fp32"][0], results["int8"][0], results["fp32"][1], results["int8"][1],
                            results["fp32"][2], results["int8"][2], n_int8, len(layers))
