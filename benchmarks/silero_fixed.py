"""Silero VAD of the silero-vad wheel imported with a fixed batch of streams
(``input`` [8, 576], ``state`` [2, 8, 128], ``sr`` bound to 16 kHz), so that
every calibration batch reaches the builder whole (holdout.py), and an INT8
build of it from recorded stream steps: the setup benchmarks/silero_auto_stream.py
(acc23) and benchmarks/silero_clips_loco.py (acc27) share."""
from __future__ import annotations

import time
from typing import Any

BATCH = 8


def network(path: str) -> Any:
    """The wheel's ONNX file at ``path`` as int8rt imports it, batch ``BATCH``."""
    import int8rt

    return int8rt.onnx.import_model(path, input_shapes={"input": [BATCH, 576], "state": [2, BATCH, 128]},
                                    input_values={"sr": 16000})


def build(path: str, feeds: list, method: str, check: bool, **config: Any) -> tuple[Any, float]:
    """The INT8 engine calibrated by ``method`` (a make_calibrator name) on
    ``feeds`` (stream steps, each with the state FP32 carried there), and
    the CPU seconds of the build (calibration included). ``config``: more
    BuilderConfig options."""
    import int8rt

    t0 = time.process_time()
    engine = int8rt.build_engine(network(path), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator([dict(f) for f in feeds], algorithm=method), accuracy_check=check,
        **config))
    return engine, time.process_time() - t0


def streamed(engine: Any, x: Any) -> tuple[Any, list]:
    """``engine`` over the chunks ``x`` [steps, BATCH, 576] from a zero state,
    carrying the state it returns (tests/test_audio_models.py's ``stream``):
    (p(speech) [steps, BATCH], the feeds of every step, each with the state it met)."""
    import numpy as np

    from test_audio_models import engine_step, stream

    return stream(engine_step(engine, ["output", "stateN"]), x, {"state": np.zeros((2, BATCH, 128), np.float32)},
                  ["state"])


def builds(path: str, feeds: list, methods: str, check: bool, x: Any, **config: Any) -> Any:
    """For each of ``methods`` (comma-separated make_calibrator names): the
    method, its engine (:func:`build`, with ``config``), the build's CPU
    seconds and the engine's p(speech) streamed over ``x`` (:func:`streamed`)."""
    for method in methods.split(","):
        engine, cpu = build(path, feeds, method, check, **config)
        yield method, engine, cpu, streamed(engine, x)[0]
