"""The two ends of PP-OCR rec's SVTR neck in int8 (engine/lower_int8.cc
lower_lut, engine/lower_int8_layernorm.cc; RESULTS.md sections 118, 124):

- entry: a swish x * Sigmoid(x * 1.0) on a conv's output, read through
  Reshape -> Transpose by a LayerNormalization, runs as one int8 table whose
  output the moves carry in int8 and the LayerNorm reads as int8 (no
  Dequantize before the swish, no Quantize anywhere in the neck);
- exit: a LayerNormalization read through Reshape to rank 4 ->
  Transpose(0, 3, 1, 2) by a Conv writes its int8 form itself and the moves
  carry it (no Quantize in front of the Conv); every output byte is the one
  the float island gave (the same scales, the same one rounding).

Also: a LayerNorm reading a float layer's output through a move gains no
Quantize in front of it (the entry rule counts a LayerNorm's x only behind a
table)."""
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
C, T, H = 24, 40, 10  # channels (not a multiple of 16), tokens, classes


def _ln_inits(rng: np.random.Generator) -> list:
    return [init("g", (rng.standard_normal(C) * 0.3 + 1).astype(F32)), init("b", (rng.standard_normal(C) * 0.2).astype(F32))]


def entry_net(float_source: bool = False, block: bool = False) -> onnx.ModelProto:
    """x [N, 3, 1, T] -> Conv 1x1 -> swish (Mul(c, 1.0), Sigmoid, Mul) -> Reshape [N, C, T] ->
    Transpose(0, 2, 1) -> LayerNorm -> MatMul + bias -> y [N, T, H]. float_source: a Softmax
    over the tokens (no int8 form) between the Reshape and the Transpose instead of the swish,
    so the LayerNorm reads a float layer's rank-3 output through the Transpose. block: an SVTR
    block after the Transpose, t read by two LayerNorms: ln(t) -> MatMul (the mixer) -> a;
    ln2(t + a) -> MatMul + bias (the Add fused into ln2, which also writes the sum s, an
    output too, as the SVTR block's residual stream)."""
    rng = np.random.default_rng(124)
    inits = [init("w", (rng.standard_normal((C, 3, 1, 1)) * 0.7).astype(F32)), init("one", np.array([1.0], F32)),
             init("shape", np.array([0, C, -1], np.int64)), init("fc_w", (rng.standard_normal((C, H)) * 0.3).astype(F32)),
             init("fc_b", (rng.standard_normal(H) * 0.1).astype(F32))] + _ln_inits(rng)
    if float_source:
        middle = [node("Reshape", ["c", "shape"], ["flat0"], name="flatten"),
                  node("Softmax", ["flat0"], ["flat"], name="softmax", axis=-1)]
    else:
        middle = [node("Mul", ["c", "one"], ["c1"], name="scale_one"), node("Sigmoid", ["c1"], ["sig"], name="sigmoid"),
                  node("Mul", ["c", "sig"], ["sw"], name="swish"), node("Reshape", ["sw", "shape"], ["flat"], name="flatten")]
    nodes = [node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1])] + middle + [
        node("Transpose", ["flat"], ["t"], name="to_tokens", perm=[0, 2, 1]),
        node("LayerNormalization", ["t", "g", "b"], ["ln"], name="ln", axis=-1, epsilon=1e-5)]
    if block:
        inits.append(init("mix_w", (rng.standard_normal((C, C)) * 0.2).astype(F32)))
        nodes += [node("MatMul", ["ln", "mix_w"], ["a"], name="mixer"), node("Add", ["t", "a"], ["s"], name="residual"),
                  node("LayerNormalization", ["s", "g", "b"], ["ln_out"], name="ln2", axis=-1, epsilon=1e-5)]
    nodes += [node("MatMul", ["ln_out" if block else "ln", "fc_w"], ["mm"], name="fc"),
              node("Add", ["mm", "fc_b"], ["y"], name="fc_bias")]
    outs = [fvi("y", ["N", T, H])] + ([fvi("s", ["N", T, C])] if block else [])
    return model(nodes, [fvi("x", ["N", 3, 1, T])], outs, inits, opset=17)


def exit_net() -> onnx.ModelProto:
    """x [N, T, 8] -> MatMul -> LayerNorm -> Reshape [N, 1, T, C] -> Transpose(0, 3, 1, 2) ->
    Conv 1x1 -> y [N, H, 1, T] (the neck's last LayerNorm back to the conv world)."""
    rng = np.random.default_rng(125)
    inits = [init("m_w", (rng.standard_normal((8, C)) * 0.5).astype(F32)), init("shape", np.array([0, 1, T, C], np.int64)),
             init("w", (rng.standard_normal((H, C, 1, 1)) * 0.3).astype(F32))] + _ln_inits(rng)
    nodes = [node("MatMul", ["x", "m_w"], ["m"], name="mix"),
             node("LayerNormalization", ["m", "g", "b"], ["ln"], name="ln", axis=-1, epsilon=1e-5),
             node("Reshape", ["ln", "shape"], ["r"], name="to_rank4"),
             node("Transpose", ["r"], ["t"], name="to_nchw", perm=[0, 3, 1, 2]),
             node("Conv", ["t", "w"], ["y"], name="conv", kernel_shape=[1, 1])]
    return model(nodes, [fvi("x", ["N", T, 8])], [fvi("y", ["N", H, 1, T])], inits, opset=17)


def _build(proto: onnx.ModelProto, data: dict, precision: str = "int8", fp32_layers=None) -> int8rt.Engine:
    return int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(
        precision=precision, calibrator=int8rt.make_calibrator(data, algorithm="minmax", batch_size=4)
        if precision == "int8" else None, layer_precisions={n: "fp32" for n in fp32_layers or ()} or None))


def _converts(engine: int8rt.Engine) -> list:
    return sorted((c.op.split(".")[-1], c.tensor) for c in engine.int8_plan().converts)


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("block", [False, True])
def test_swish_before_a_layernorm_is_a_table_and_the_neck_stays_int8(block: bool) -> None:
    rng = np.random.default_rng(1)
    data = {"x": rng.standard_normal((16, 3, 1, T)).astype(F32)}
    engine = _build(entry_net(block=block), data)
    # The LayerNorm(s) float: the swish stays float too.
    island = _build(entry_net(block=block), data, fp32_layers=["ln", "ln2"] if block else ["ln"])
    report = "\n".join(engine.report())
    assert "runs as one int8 table" in report and "Mul+Sigmoid+Mul" in report, report
    assert report.count("reads its input 't' as int8") == (2 if block else 1), report
    # Only the network input's Quantize is left: the MatMul writes the float output itself.
    assert _converts(engine) == [("Quantize", "x")], _converts(engine)
    assert ("Dequantize", "c") in _converts(island), _converts(island)
    feeds = {"x": np.random.default_rng(2).standard_normal((4, 3, 1, T)).astype(F32)}
    want = _build(entry_net(block=block), data, precision="fp32").run(feeds)["y"]
    got, old = engine.run(feeds)["y"], island.run(feeds)["y"]
    # Bound: the island rounds x, c, ln and the MatMul's input; the table adds
    # one rounding, of the swish's output at its own step. Near 0 (most of
    # the values) the swish halves the conv output's rounding error (slope
    # 1/2) but not its own output's, so the added error is about twice the
    # conv output's share: at most 2.5x the island's error (measured 1.9x),
    # and within 6 % (relative L2) of FP32.
    err, err_old = _rel_l2(got, want), _rel_l2(old, want)
    assert err < 0.06, (err, err_old)
    assert err < 2.5 * err_old, (err, err_old)
    if block:  # the sum ln2 writes from its int8 x and the mixer's int8 output: the same bound (measured 0.043, 0.024)
        s_err = _rel_l2(engine.run(feeds)["s"], _build(entry_net(block=True), data, "fp32").run(feeds)["s"])
        s_old = _rel_l2(island.run(feeds)["s"], _build(entry_net(block=True), data, "fp32").run(feeds)["s"])
        assert s_err < 0.06 and s_err < 2.5 * s_old, (s_err, s_old)


def test_layernorm_behind_a_float_layer_gains_no_quantize() -> None:
    """Softmax (no int8 form) writes float; the LayerNorm reads it through the
    Transpose as float (no Quantize before the move, quantize_before_move:
    a rounding the float path does not have)."""
    rng = np.random.default_rng(3)
    data = {"x": rng.standard_normal((8, 3, 1, T)).astype(F32)}
    engine = _build(entry_net(float_source=True), data)
    assert not any(t in ("flat", "t") for _, t in _converts(engine)), _converts(engine)
    assert not any("reads its input 't' as int8" in line for line in engine.report()), engine.report()


def test_layernorm_to_a_conv_through_rank4_moves_writes_int8_bit_for_bit() -> None:
    rng = np.random.default_rng(4)
    data = {"x": rng.standard_normal((16, T, 8)).astype(F32)}
    engine = _build(exit_net(), data)
    island = _build(exit_net(), data, fp32_layers=["ln"])
    report = "\n".join(engine.report())
    assert "writes 'ln' as int8 for its int8 readers" in report, report
    assert not any(t in ("ln", "r", "t") for _, t in _converts(engine)), _converts(engine)
    assert ("Quantize", "t") in _converts(island), _converts(island)
    threads = int8rt.get_num_threads()
    try:
        for n, scale in ((1, 1.0), (2, 1.0), (1, 4.0)):  # 4: past the calibrated range, saturating
            int8rt.set_num_threads(n)
            feeds = {"x": (np.random.default_rng(5 + n).standard_normal((3, T, 8)) * scale).astype(F32)}
            got, want = engine.run(feeds)["y"], island.run(feeds)["y"]
            # The island quantized the Transpose's output at its scale, which
            # minmax calibrated from the same values as the LayerNorm's output:
            # the same scale, the same rounding, the same bytes into the Conv.
            assert got.tobytes() == want.tobytes(), (n, scale, first_mismatch(got, want))
        # Within the calibrated range the INT8 output is within 5 % (relative L2) of FP32's:
        # four roundings (x, m, ln, the Conv's output) of a few 0.1 % each.
        feeds = {"x": np.random.default_rng(9).standard_normal((3, T, 8)).astype(F32)}
        want = _build(exit_net(), data, precision="fp32").run(feeds)["y"]
        assert _rel_l2(engine.run(feeds)["y"], want) < 0.05
    finally:
        int8rt.set_num_threads(threads)
