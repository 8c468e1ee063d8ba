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


def ln_between_linears(keep_input: bool, keep_output: bool, rows: int = ROWS, d: int = D) -> onnx.ModelProto:
    """z = LayerNorm(x W1) W2: a BERT block's LayerNorm between its int8
    GEMMs (a bias Add before it would fuse into the LayerNorm, graph/passes).
    keep_input: another MatMul reads x W1 too (z1, so the
    LayerNorm reads it through a Dequantize layer); keep_output: the
    LayerNorm's output is a network output too (so a Quantize layer makes its
    int8 form)."""
    rng, D, ROWS = np.random.default_rng(7), d, rows
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


def build(keep_input: bool, keep_output: bool, chain: bool = False, rows: int = ROWS, d: int = D) -> int8rt.Engine:
    """chain: the LayerNorm kept float32 (layer_precisions), so Dequantize and Quantize layers run around it."""
    data = {"x": np.random.default_rng(8).standard_normal((8, rows, d)).astype(F32)}
    return int8rt.build_engine(ln_between_linears(keep_input, keep_output, rows, d).SerializeToString(), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(data, algorithm="minmax", batch_size=2),
        layer_precisions={"ln": "fp32"} if chain else None))


def converts(engine: int8rt.Engine) -> set:
    return {(c.op, c.tensor) for c in engine.int8_plan().converts}


@pytest.mark.parametrize("keep_input,keep_output", [(False, False), (True, True), (False, True), (True, False)])
def test_layernorm_between_int8_layers_is_the_chain_bit_for_bit(keep_input: bool, keep_output: bool) -> None:
    """(False, False): int8 in and out; keep_output: float out and its int8 copy; keep_input: float in."""
    fused, chain = build(keep_input, keep_output), build(keep_input, keep_output, chain=True)
    report = "\n".join(fused.report())
    assert ("reads its input 'm' as int8" in report) != keep_input, report
    assert ("writes 'y' as int8 for its int8 readers" in report) != keep_output, report
    assert ("writes 'y' as float32 and, for its int8 readers, as int8" in report) == keep_output, report
    assert ("int8rt.Dequantize", "m") in converts(fused) if keep_input else ("int8rt.Dequantize", "m") not in converts(fused)
    assert ("int8rt.Quantize", "y") not in converts(fused), converts(fused)
    assert {("int8rt.Dequantize", "m"), ("int8rt.Quantize", "y")} <= converts(chain), converts(chain)
    rng = np.random.default_rng(9)
    threads = int8rt.get_num_threads()
    try:
        # 1 thread: one call takes all rows, so the layer's blocks advance; 2: chunks of rows.
        for n, scale in ((1, 1.0), (1, 3.0), (2, 1.0)):  # 3: values past the calibrated range saturate
            int8rt.set_num_threads(n)
            feeds = {"x": (rng.standard_normal((2, ROWS, D)) * scale).astype(F32)}
            got, want = fused.run(feeds), chain.run(feeds)
            for name in want:
                assert got[name].tobytes() == want[name].tobytes(), (n, name, first_mismatch(got[name], want[name]))
            assert np.std(want["z"]) > 0
    finally:
        int8rt.set_num_threads(threads)


@pytest.mark.parametrize("keep_output", [False, True])
def test_layernorm_int8_rows_are_the_chain_on_every_tier(keep_output: bool) -> None:
    """The int8 operands are read and written row by row inside the layernorm
    kernel (kernels/ref/layernorm_f32.h, LayerNormRows::x_s8 / y_s8): the
    reference, AVX2 and AVX-512 tiers (the AVX-512 quantize by intrinsics, the
    others by the scalar rule) each give the chain's bits (its Dequantize and
    Quantize layers on the default tier), on 997 rows per item (not a multiple
    of the 4-row step) of 40 values (a 16-lane tail of 8), with inputs past the
    calibrated range too."""
    rows, d = 997, 40
    chain = build(False, keep_output, chain=True, rows=rows, d=d)
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    rng = np.random.default_rng(13)
    feeds = [{"x": (rng.standard_normal((2, rows, d)) * scale).astype(F32)} for scale in (1.0, 4.0)]
    wants = [chain.run(f) for f in feeds]
    for isa in tiers:
        int8rt.set_max_isa(isa)  # the layer chooses its kernel when it is created
        try:
            fused = build(False, keep_output, rows=rows, d=d)
            assert any("as int8" in line for line in fused.report() if "'y'" in line), fused.report()
            for f, want in zip(feeds, wants):
                got = fused.run(f)
                for name in want:
                    assert got[name].tobytes() == want[name].tobytes(), (isa, name, first_mismatch(got[name], want[name]))
        finally:
            int8rt.set_max_isa(None)


def test_layernorm_read_by_a_float_layer_keeps_its_float_output() -> None:
    """A float reader (Sigmoid) reads y itself; the int8 GEMM reads the layer's int8 copy."""
    proto = ln_between_linears(False, False)
    proto.graph.node.append(node("Sigmoid", ["y"], ["s"], name="float_reader"))
    proto.graph.output.append(fvi("s", [2, ROWS, D]))
    data = {"x": np.random.default_rng(10).standard_normal((4, ROWS, D)).astype(F32)}
    engines = [int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(data, algorithm="minmax", batch_size=2),
        layer_precisions={"ln": "fp32"} if chain else None)) for chain in (False, True)]
    report = "\n".join(engines[0].report())
    assert "writes 'y' as float32 and, for its int8 readers, as int8" in report, report
    feeds = {"x": np.random.default_rng(11).standard_normal((2, ROWS, D)).astype(F32)}
    got, want = engines[0].run(feeds), engines[1].run(feeds)
    for name in ("z", "s"):
        assert got[name].tobytes() == want[name].tobytes(), (name, first_mismatch(got[name], want[name]))


def test_layernorm_output_added_into_the_next_layernorm_stays_float() -> None:
    """BERT's residual stream: y1 = LN1(x W1), y2 = LN2(y1 W2 + y1) (the Add fused into LN2), z = y2 W3.
    LN1 writes y1 as float for LN2's residual and as int8 for the GEMM; the
    residual is never y1's int8 form (that lost accuracy: RESULTS.md section 96),
    so z is == the engine where both LayerNorms stay float32."""
    rng = np.random.default_rng(12)
    nodes = [node("MatMul", ["x", "w1"], ["m1"], name="up"),
             node("LayerNormalization", ["m1", "g", "beta"], ["y1"], name="ln1", axis=-1),
             node("MatMul", ["y1", "w2"], ["m2"], name="mid"), node("Add", ["m2", "y1"], ["s"], name="residual"),
             node("LayerNormalization", ["s", "g", "beta"], ["y2"], name="ln2", axis=-1),
             node("MatMul", ["y2", "w3"], ["z"], name="down")]
    inits = [init("w1", (rng.standard_normal((D, D)) / 3).astype(F32)), init("g", rng.standard_normal(D).astype(F32)),
             init("beta", rng.standard_normal(D).astype(F32)), init("w2", (rng.standard_normal((D, D)) / 3).astype(F32)),
             init("w3", (rng.standard_normal((D, 5)) / 3).astype(F32))]
    proto = model(nodes, [fvi("x", [2, ROWS, D])], [fvi("z", [2, ROWS, 5])], inits, opset=17)
    data = {"x": rng.standard_normal((4, ROWS, D)).astype(F32)}
    fused, chain = (int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(data, algorithm="minmax", batch_size=2),
        layer_precisions={"ln1": "fp32", "ln2": "fp32"} if keep else None)) for keep in (False, True))
    report = "\n".join(fused.report())
    assert "writes 'y1' as float32 and, for its int8 readers, as int8" in report, report
    assert "reads its residual 'y1' as int8" not in report, report
    feeds = {"x": rng.standard_normal((2, ROWS, D)).astype(F32)}
    got, want = fused.run(feeds)["z"], chain.run(feeds)["z"]
    assert got.tobytes() == want.tobytes(), first_mismatch(got, want)
