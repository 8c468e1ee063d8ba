"""The engines compared on one network, each as a ``run(x) -> output`` callable.

- int8rt FP32 and INT8 (entropy2, minmax) built with ``int8rt.build_engine``;
- ONNX Runtime FP32, and ONNX Runtime INT8 from ``quantize_static`` in QDQ
  format with per-channel weights and its defaults otherwise (uint8
  asymmetric activations, int8 symmetric weights), calibrated with MinMax
  (its default) and Entropy, on the same calibration samples int8rt sees.
  The model is converted to opset 13 when older (per-channel QDQ needs it)
  and goes through ``quant_pre_process`` as ORT's documentation asks.

ONNX Runtime sessions get ``intra_op_num_threads`` = the thread count and
spinning off (``session.intra_op.allow_spinning=0``), so that ORT's idle
workers do not busy-wait on the cores the next, alternated, int8rt run needs.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from typing import Callable, List, Optional, Union

import numpy as np

logger = logging.getLogger("realnets")

Runner = Callable[[np.ndarray], np.ndarray]


def int8rt_engine(model_bytes: bytes, precision: str, calib: Optional[np.ndarray], algorithm: Optional[str],
                  batch_size: int = 16):
    """Builds an int8rt engine (FP32 or INT8 with ``algorithm``); returns (engine, build seconds)."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    config = int8rt.BuilderConfig(precision=precision)
    if precision == "int8":
        config.calibrator = make_calibrator({_input_name(model_bytes): calib}, algorithm=algorithm,
                                            batch_size=batch_size)
    t0 = time.perf_counter()
    engine = int8rt.build_engine(model_bytes, config)
    return engine, time.perf_counter() - t0


def _input_name(model_bytes: bytes) -> str:
    import onnx

    return onnx.load_from_string(model_bytes).graph.input[0].name


def int8rt_runner(engine) -> Runner:
    ctx = engine.create_execution_context()
    name, out = engine.input_names[0], engine.output_names[0]
    return lambda x: ctx.run({name: x})[out]


def ort_session(model_bytes: bytes, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def ort_runner(session) -> Runner:
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


class _Reader:
    """ORT CalibrationDataReader over the calibration array, ``batch`` samples
    at a time; or over a list of batches (of different image sizes, say) as given."""

    def __init__(self, name: str, calib: Union[np.ndarray, List[np.ndarray]], batch: int) -> None:
        if isinstance(calib, list):
            self._it = iter([{name: b} for b in calib])
        else:
            self._it = iter([{name: calib[i:i + batch]} for i in range(0, len(calib), batch)])

    def get_next(self):
        return next(self._it, None)


def ort_quantize(model_bytes: bytes, calib: Union[np.ndarray, List[np.ndarray]], method: str, batch: int = 16,
                 extra_options: Optional[dict] = None) -> tuple[bytes, float]:
    """ONNX Runtime's static QDQ INT8 model (per-channel weights; ``extra_options``
    passed to quantize_static); returns (bytes, seconds)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    import onnx

    name = _input_name(model_bytes)
    t0 = time.perf_counter()
    model = onnx.load_from_string(model_bytes)
    if min(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 13:
        # per-channel QDQ needs DequantizeLinear's axis (opset 13); quantize_static
        # writes it regardless, and the session then refuses the model.
        model_bytes = onnx.version_converter.convert_version(model, 13).SerializeToString()
    with tempfile.TemporaryDirectory() as tmp:
        src, pre, dst = (os.path.join(tmp, f) for f in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        with open(src, "wb") as f:
            f.write(model_bytes)
        try:
            with _cwd(tmp):  # its symbolic shape inference writes a temporary file into the cwd
                quant_pre_process(src, pre)
        except Exception as e:  # noqa: BLE001
            # ORT's symbolic shape inference asserts axis == 0 on Paddle's 1-D
            # Concat(axis=-1) shape chains; the rest of the pre-processing
            # (ONNX shape inference, graph optimization) still runs without it.
            logger.warning("quant_pre_process failed (%r); retrying with skip_symbolic_shape=True", e)
            try:
                with _cwd(tmp):
                    quant_pre_process(src, pre, skip_symbolic_shape=True)
            except Exception as e2:  # noqa: BLE001 - optional step: quantize the raw model then
                logger.warning("quant_pre_process failed again (%r); quantizing the model as it is", e2)
                pre = src
        with contextlib.redirect_stdout(sys.stderr):  # ORT's calibrators print progress
            quantize_static(pre, dst, _Reader(name, calib, batch), quant_format=QuantFormat.QDQ,
                            per_channel=True, calibrate_method=methods[method], extra_options=extra_options)
        with open(dst, "rb") as f:
            data = f.read()
    return data, time.perf_counter() - t0


@contextlib.contextmanager
def _cwd(path: str):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_batched(run: Runner, x: np.ndarray, batch: int = 16) -> np.ndarray:
    """Runs ``x`` through ``run`` ``batch`` samples at a time and concatenates."""
    return np.concatenate([run(np.ascontiguousarray(x[i:i + batch])) for i in range(0, len(x), batch)])
