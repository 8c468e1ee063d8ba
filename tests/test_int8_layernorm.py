"""LayerNormalization between int8 layers reads its int8 input and writes its
int8 output itself (engine/lower_int8_layernorm.cc, engine/ops/layernorm_f32.cc:
int8rt_input_scale / int8rt_output_scale): no Dequantize / Quantize layer around
it, and the result is == the engine where those layers stay (the same kernels,
the same order)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from onnx import helper  # noqa: E402

from np_kernels import first_mismatch  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

F32 = np.float32
node = helper.make_node
D = 24  # not a multiple of 16: the kernels' tails run
ROWS = 1000  # per batch item; a thread's rows span several 32 KB blocks of the layer's buffers


def ln_between_linears(keep_input: bool, keep_output: bool) -> onnx.ModelProto:
    """z = LayerNorm(x W1) W2: a BERT block's LayerNorm between its int8
    GEMMs (a bias Add before it would fuse into the LayerNorm, graph/passes).
    keep_input: another MatMul reads x W1 too (z1, so the
    LayerNorm reads it through a Dequantize layer); keep_output: the
    LayerNorm's output is a network output too (so a Quantize layer makes its
    int8 form)."""
    rng = np.random.default_rng(7)
    nodes = [node("MatMul", ["x", "w1"], ["m"], name="up"),
             node("LayerNormalization", ["m", "g", "beta"], ["y"], name="ln", axis=-1),
             node("MatMul", ["y", "w2"], ["z"], name="down")]
    inits = [init("w1", (rng.standard_normal((D, D)) / 3).astype(F32)), init("g", rng.standard_normal(D).astype(F32)), init("beta", rng.standard_normal(D).astype(F32)),
             init("w2", (rng.standard_normal((D, 5)) / 3).astype(F32))]
    outs = [fvi("z", [2, ROWS, 5])]
    if keep_input:
        nodes.append(node("MatMul", ["m", "w3"], ["z1"], name="side"))
        inits.append(init("w3", (rng.standard_normal((D, 3)) / 3).astype(F32)))
        outs.append(fvi("z1", [2, ROWS, 3]))
    if keep_output:
        outs.append(fvi("y", [2, ROWS, D]))
    return model(nodes, [fvi("x", [2, ROWS, D])], outs, inits, opset=17)


def build(keep_input: bool, keep_output: bool) -> int8rt.Engine:
    data = {"x": np.random.default_rng(8).standard_normal((8, ROWS, D)).astype(F32)}
    return int8rt.build_engine(ln_between_linears(keep_input, keep_output).SerializeToString(), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(data, algorithm="minmax", batch_size=2)))


def converts(engine: int8rt.Engine) -> set:
    return {(c.op, c.tensor) for c in engine.int8_plan().converts}


@pytest.mark.parametrize("keep_input,keep_output", [(True, True), (False, True), (True, False)])
def test_layernorm_between_int8_layers_is_the_chain_bit_for_bit(keep_input: bool, keep_output: bool) -> None:
    fused, kept = build(False, False), build(keep_input, keep_output)
    report = "\n".join(fused.report())
    assert "reads its input 'm' as int8" in report and "writes 'y' as int8" in report, report
    assert not {("int8rt.Dequantize", "m"), ("int8rt.Quantize", "y")} & converts(fused), converts(fused)
    # The reference engine keeps the layer the test names (it has another reader / is an output).
    assert (("int8rt.Dequantize", "m") in converts(kept)) == keep_input
    assert (("int8rt.Quantize", "y") in converts(kept)) == keep_output
    rng = np.random.default_rng(9)
    threads = int8rt.get_num_threads()
    try:
        # 1 thread: one call takes all rows, so the layer's blocks advance; 2: chunks of rows.
        for n, scale in ((1, 1.0), (1, 3.0), (2, 1.0)):  # 3: values past the calibrated range saturate
            int8rt.set_num_threads(n)
            feeds = {"x": (rng.standard_normal((2, ROWS, D)) * scale).astype(F32)}
            got, want = fused.run(feeds)["z"], kept.run(feeds)["z"]
            assert got.tobytes() == want.tobytes(), (n, first_mismatch(got, want))
            assert np.std(want) > 0
    finally:
        int8rt.set_num_threads(threads)


def test_layernorm_stays_float_where_a_reader_is_float_or_it_is_requested() -> None:
    """An output a float layer reads keeps its float form; fp32_layers keeps both boundaries."""
    rng = np.random.default_rng(10)
    proto = ln_between_linears(False, False)
    proto.graph.node.append(node("Sigmoid", ["y"], ["s"], name="float_reader"))
    proto.graph.output.append(fvi("s", [2, ROWS, D]))
    data = {"x": rng.standard_normal((4, ROWS, D)).astype(F32)}
    cal = int8rt.make_calibrator(data, algorithm="minmax", batch_size=2)
    engine = int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(calibrator=cal))
    assert not any("writes 'y' as int8" in line for line in engine.report())
    assert any("reads its input 'm' as int8" in line for line in engine.report())
    cal = int8rt.make_calibrator(data, algorithm="minmax", batch_size=2)
    kept = int8rt.build_engine(ln_between_linears(False, False).SerializeToString(),
                               int8rt.BuilderConfig(calibrator=cal, layer_precisions={"ln": "fp32"}))
    assert {("int8rt.Dequantize", "m"), ("int8rt.Quantize", "y")} <= converts(kept), converts(kept)
