"""The BF16 image chain through squeeze-and-excitation blocks
(engine/bf16_blocked_chain.h, RESULTS.md section 262): the SE gate's layers
(the region's global mean, the two FC convs, their activations) write one
value per image and channel, so they join the chain beside the
ChannelScaleBf16x16c that applies the gate, and the chain goes on past the
block (MobileNetV3's and EfficientNet's 28 x 28 and larger stages).

The twin without a chain is the same network with the SE block's input t
also a network output: then no cut of the run leaves one tensor read after
it with at least 4 convs before t, so nothing is chained; its layers are
otherwise the same (both uncapped), so the two give the same bits, ==, at
batch 1, 3 and 8, 1 and 2 threads. Runs only where a vector kernel runs the
region (a hardware reason: no region, so no chain, on the reference tier).
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")

import int8rt  # noqa: E402

from test_bf16_blocked import _build  # noqa: E402
from test_bf16_blocked_chain import CHAIN, _ops, assert_chain_bits  # noqa: E402

F32 = np.float32
HW = (30, 30)  # 900 pixels per plane: every layer of the model on a chained plane


def _se_chain_model(gate: str, fc_act: str, t_output: bool, c_in: int = 5, mid: int = 37,
                    c_out: int = 19) -> bytes:
    """x -> Relu(1x1) -> t = HardSwish(depthwise 3x3); SE: s = gate(1x1
    (fc_act(1x1 (GlobalAveragePool(t))))) with gate HardSigmoid or Sigmoid
    and fc_act Relu or Swish; m = Mul(t, s); then 1x1 -> HardSwish(1x1) ->
    Relu(depthwise 3x3) -> y = 1x1, all on HW planes. Output y (and t with
    `t_output`: the unchained twin)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(262)
    inits = {
        "w0": rng.standard_normal((mid, c_in, 1, 1)) * 0.5, "b0": rng.standard_normal(mid),
        "w1": rng.standard_normal((mid, 1, 3, 3)) * 0.5, "b1": rng.standard_normal(mid),
        "f1": rng.standard_normal((8, mid, 1, 1)) * 0.3, "g1": rng.standard_normal(8),
        "f2": rng.standard_normal((mid, 8, 1, 1)) * 0.5, "g2": rng.standard_normal(mid),
        "w2": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b2": rng.standard_normal(c_out),
        "w3": rng.standard_normal((mid, c_out, 1, 1)) * 0.3, "b3": rng.standard_normal(mid),
        "w4": rng.standard_normal((mid, 1, 3, 3)) * 0.5, "b4": rng.standard_normal(mid),
        "w5": rng.standard_normal((c_out, mid, 1, 1)) * 0.2, "b5": rng.standard_normal(c_out),
    }
    fc = [helper.make_node("Relu", ["q1"], ["q2"])] if fc_act == "relu" else [
        helper.make_node("Sigmoid", ["q1"], ["q1s"]), helper.make_node("Mul", ["q1", "q1s"], ["q2"])]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"]), helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], group=mid, pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["t"]),
        helper.make_node("GlobalAveragePool", ["t"], ["p"]),
        helper.make_node("Conv", ["p", "f1", "g1"], ["q1"]), *fc,
        helper.make_node("Conv", ["q2", "f2", "g2"], ["q3"]),
        helper.make_node("HardSigmoid" if gate == "hardsigmoid" else "Sigmoid", ["q3"], ["s"]),
        helper.make_node("Mul", ["t", "s"], ["m"]),
        helper.make_node("Conv", ["m", "w2", "b2"], ["c2"]),
        helper.make_node("Conv", ["c2", "w3", "b3"], ["c3"]), helper.make_node("HardSwish", ["c3"], ["t3"]),
        helper.make_node("Conv", ["t3", "w4", "b4"], ["c4"], group=mid, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c4"], ["t4"]),
        helper.make_node("Conv", ["t4", "w5", "b5"], ["y"]),
    ]
    h, w = HW
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, c_out, h, w])]
    if t_output:
        outs.append(helper.make_tensor_value_info("t", TensorProto.FLOAT, [None, mid, h, w]))
    graph = helper.make_graph(
        nodes, "bf16_chain_se", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c_in, h, w])], outs,
        [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture(params=[("hardsigmoid", "relu"), ("sigmoid", "swish")], ids=["mobilenetv3-se", "efficientnet-se"])
def engines(tmp_path, request):
    int8rt.set_max_isa(None)  # both engines uncapped (where AMX-BF16 runs, both in its order)
    gate, fc_act = request.param
    chained, plain = tmp_path / "chained.onnx", tmp_path / "plain.onnx"
    chained.write_bytes(_se_chain_model(gate, fc_act, t_output=False))
    plain.write_bytes(_se_chain_model(gate, fc_act, t_output=True))
    built = _build(chained, True), _build(plain, True)
    if not any("Bf16x16c" in la["op"] for la in built[1].layers()):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here: no region, no chain")
    return built


def test_the_chain_runs_through_the_se_block(engines) -> None:
    chained, plain = engines
    ops = _ops(chained)
    # The input's conversion, one chain of every other layer, the output's conversion.
    assert ops.count(CHAIN) == 1 and len(ops) == 3, ops
    assert CHAIN not in _ops(plain), _ops(plain)
    plain_ops = _ops(plain)
    assert "int8rt.ChannelScaleBf16x16c" in plain_ops and "int8rt.GlobalAveragePoolBf16x16c" in plain_ops, plain_ops
    # 6 region convs, the mean, the 2 FC convs, the gate, the scale: 11 layers (fc_act fused into its conv).
    detail = next(la["detail"] for la in chained.layers() if la["op"] == CHAIN)
    assert "chain of 11 NCHW16c layers" in detail, detail


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_the_chain_through_se_gives_the_unchained_bits(engines, batch) -> None:
    chained, plain = engines
    x = np.random.default_rng(2620 + batch).standard_normal((batch, 5, *HW)).astype(F32)
    x[-1] *= 4.0  # the last image's gate differs from the others'
    want = plain.run({"x": x})["y"]
    assert_chain_bits(chained, x, want)


def test_each_image_gets_its_own_gate(engines) -> None:
    """An image alone == its row of a batch whose images' gates differ."""
    chained, _ = engines
    x = np.random.default_rng(2629).standard_normal((4, 5, *HW)).astype(F32)
    x[1] *= 8.0
    x[2] = -x[2]
    whole = chained.run({"x": x})["y"]
    for n in range(4):
        alone = chained.run({"x": x[n:n + 1].copy()})["y"]
        np.testing.assert_array_equal(alone.view(np.uint32), whole[n:n + 1].view(np.uint32))
