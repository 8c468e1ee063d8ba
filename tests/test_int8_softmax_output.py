"""A network output's Softmax read from int8 (csrc/engine/lower_int8_softmax.cc,
issue 14 §2; PP-OCR rec's classifier head): int8rt.QSoftmaxFloat computes
the float Softmax of the dequantized codes bit for bit
(kernels/ref/softmax_s8.h), so the engine has no Dequantize left and its
output is the same bytes as the engine that keeps the Softmax in float32
(Dequantize + Softmax), on every tier, at batch > 1, on 1 and 2 threads,
rows not a multiple of 8 or 16 long. Where the Softmax is read by a layer,
runs over a non-last axis, or reads a float input, it stays as before."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32
TIERS = (None, "avx2", "ref")


class Cal(int8rt.IInt8MinMaxCalibrator):
    def __init__(self, shape) -> None:
        super().__init__()
        self.shape, self.left = shape, 2

    def get_batch_size(self) -> int:
        return self.shape[0]

    def get_batch(self, names):
        self.left -= 1
        return None if self.left < 0 else [np.random.default_rng(self.left).uniform(-1, 1, self.shape).astype(F32)]


def head(classes: int, axis: int = -1, also_read: bool = False, opset: int = 17):
    """x [N, T, 24] -> Relu -> MatMul [24, classes] -> Add bias -> Softmax -> p
    (a recogniser's classifier); also_read: p feeds a MatMul too."""
    rng = np.random.default_rng(31)
    inits = [init("w", (rng.standard_normal((24, classes)) * 0.9).astype(F32)),
             init("b", (rng.standard_normal(classes) * 0.5).astype(F32)),
             init("w2", (rng.standard_normal((classes, 3)) * 0.1).astype(F32))]
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w"], ["m"], name="fc"),
        helper.make_node("Add", ["m", "b"], ["l"], name="fc_bias"),
        helper.make_node("Softmax", ["l"], ["p"], name="sm", axis=axis),
    ]
    outputs = [fvi("p", ["N", 7, classes])]
    if also_read:
        nodes.append(helper.make_node("MatMul", ["p", "w2"], ["z"], name="fc2"))
        outputs.append(fvi("z", ["N", 7, 3]))
    return model(nodes, [fvi("x", ["N", 7, 24])], outputs, inits, opset=opset)


def build(m, **kw) -> int8rt.Engine:
    return int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=Cal((4, 7, 24)), **kw))


def ops_of(engine: int8rt.Engine) -> dict[str, str]:
    return {layer["name"]: layer["op"] for layer in engine.layers()}


def dequantized(engine: int8rt.Engine) -> list[str]:
    return sorted(c.tensor for c in engine.int8_plan().converts if c.op.endswith("Dequantize"))


@pytest.mark.parametrize("classes", [37, 256, 6625])
def test_output_softmax_reads_int8_with_the_float_softmax_bytes(classes: int) -> None:
    m = head(classes)
    engine = build(m)
    assert ops_of(engine)["sm"] == "int8rt.QSoftmaxFloat"
    assert dequantized(engine) == []
    assert any("Softmax 'sm'" in line and "no Dequantize" in line for line in engine.report())
    kept = build(m, layer_precisions={"sm": "fp32"})
    assert ops_of(kept)["sm"] == "Softmax" and dequantized(kept) == ["l"]
    x = np.random.default_rng(32).uniform(-1, 1, (5, 7, 24)).astype(F32)
    want = kept.run({"x": x})["p"]
    try:
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            for isa in TIERS:
                int8rt.set_max_isa(isa)
                try:
                    e = int8rt.Engine.deserialize(engine.serialize())
                finally:
                    int8rt.set_max_isa(None)
                got = e.run({"x": x})["p"]
                assert got.tobytes() == want.tobytes(), (threads, isa)
    finally:
        int8rt.set_num_threads(0)
    # The float path's own bound (int8 logits): rows sum to 1 and the argmax is the float model's where it is clear.
    assert np.allclose(want.sum(-1), 1.0, atol=1e-5)


def test_coerce_2d_softmax_over_the_flattened_axes() -> None:
    """opset 11, axis=1 on [N, T, C]: rows of T * C values (coerce_2d), contiguous: it lowers too."""
    m = head(37, axis=1, opset=11)
    engine = build(m)
    assert ops_of(engine)["sm"] == "int8rt.QSoftmaxFloat"
    kept = build(m, layer_precisions={"sm": "fp32"})
    x = np.random.default_rng(33).uniform(-1, 1, (3, 7, 24)).astype(F32)
    assert engine.run({"x": x})["p"].tobytes() == kept.run({"x": x})["p"].tobytes()


@pytest.mark.parametrize("case", ["also_read", "middle_axis"])
def test_softmax_stays_float(case: str) -> None:
    """Read by a layer too (its readers would see float values the Softmax
    computed), or over a middle axis (rows not contiguous): unchanged."""
    engine = build(head(37, also_read=True) if case == "also_read" else head(37, axis=1))
    assert ops_of(engine)["sm"] == "Softmax"
