"""Element-wise layers cut long rows into chunks for the thread pool
(engine/ops/element_chunks.h): the results are those of one pass, exactly,
at every thread count and across chunk boundaries."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import int8rt  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

SHAPE = [2, 3, 101, 203]  # 61,509 elements per image: rows longer than one chunk (32,768)


def _binary_model() -> onnx.ModelProto:
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="same_shape"),
             helper.make_node("Mul", ["s", "g"], ["m"], name="per_channel"),
             helper.make_node("Sub", ["m", "row"], ["y"], name="per_row")]
    inits = [init("g", np.array([0.5, -2.0, 3.0], np.float32).reshape(1, 3, 1, 1)),
             init("row", np.linspace(-1, 1, SHAPE[3], dtype=np.float32))]
    return model(nodes, [fvi("a", SHAPE), fvi("b", SHAPE)], [fvi("y", SHAPE)], inits)


@pytest.mark.parametrize("threads", [1, 2])
def test_fp32_broadcast_over_chunked_rows(threads):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(SHAPE).astype(np.float32) for _ in range(2))
    engine = int8rt.build_engine(_binary_model(), int8rt.BuilderConfig(precision="fp32", optimize=False))
    old = int8rt.get_num_threads()
    try:
        int8rt.set_num_threads(threads)
        y = engine.run({"a": a, "b": b})["y"]
    finally:
        int8rt.set_num_threads(old)
    g = np.array([0.5, -2.0, 3.0], np.float32).reshape(1, 3, 1, 1)
    want = (a + b) * g - np.linspace(-1, 1, SHAPE[3], dtype=np.float32)
    np.testing.assert_array_equal(y, want)


def test_int8_quantize_lookup_dequantize_same_at_every_thread_count():
    # Conv -> hardswish (an int8 table) -> output: Quantize, QLut and
    # Dequantize each run over several chunks of a 2 x 8 x 101 x 203 tensor.
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("HardSwish", ["c"], ["h"], name="hswish"),
             helper.make_node("Conv", ["h", "w2"], ["y"], name="conv2")]
    inits = [init("w", rng.standard_normal((8, 3, 1, 1)).astype(np.float32)),
             init("w2", rng.standard_normal((8, 8, 1, 1)).astype(np.float32))]
    m = model(nodes, [fvi("x", ["N", 3, 101, 203])], [fvi("y", ["N", 8, 101, 203])], inits)
    calib = [{"x": rng.standard_normal((2, 3, 101, 203)).astype(np.float32)}]
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(calibrator=calib, accuracy_check=False))
    assert "int8rt.QLut" in {layer["op"] for layer in engine.layers()}
    x = rng.standard_normal((3, 3, 101, 203)).astype(np.float32)
    old = int8rt.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            outs.append(engine.run({"x": x})["y"])
    finally:
        int8rt.set_num_threads(old)
    np.testing.assert_array_equal(outs[0], outs[1])
    # A chunk written at the wrong offset would not be caught by the equality
    # above (both runs cut alike); against FP32 it is garbage.
    ref = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    rel = np.linalg.norm(outs[0] - ref) / np.linalg.norm(ref)
    assert rel < 0.05, f"INT8 vs FP32 relative L2 {rel:.3f}"
