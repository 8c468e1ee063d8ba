"""Strided 1x1 BF16 convs in a channel-blocked region (ResNet's projections;
engine/ops/bf16_blocked_ops.cc, strided_pointwise; RESULTS.md section 246):
off AMX, the pixels a 1x1 of strides > 1 without padding reads are copied
and the pointwise kernel runs on the copy. Its one tap's channel pairs are
summed in the dense kernel's order, so the same bits as before: the network
output == to_bf16 of the NCHW BF16 engine's (exact), at strides (2, 2),
(2, 3) and (3, 2) (a row / column mix-up in the copy fails), odd channel
counts and planes, with the fused residual and the clip, batch 1 and 3, 1 and
2 threads, and on the reference kernels (cap "ref": the same copy, the
reference pointwise kernel).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt
from test_bf16_blocked import F32, _blocked_ops, _build, to_bf16
from test_bf16_blocked_dense import _same_bits, _same_bits_1_and_2_threads
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401,E402  (autouse: the VDPBF16PS order where AMX-BF16 runs)


def _strided_model(strides: tuple, hw: tuple, pad: int = 0) -> bytes:
    """a = Relu(1x1 5 -> 21 (x)); p = 1x1 21 -> 19 of strides `strides`,
    pads `pad` (a); d = 3x3 21 -> 19 of the same strides, pads pad + 1 (a);
    y = 1x1 19 -> 7 (Clip(p + d, 0, 6)): the Add fused into one of the two
    as its residual."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(246)
    inits = {
        "w0": rng.standard_normal((21, 5, 1, 1)) * 0.5, "b0": rng.standard_normal(21) * 0.2,
        "wp": rng.standard_normal((19, 21, 1, 1)) * 0.3, "bp": rng.standard_normal(19) * 0.2,
        "wd": rng.standard_normal((19, 21, 3, 3)) * 0.1, "bd": rng.standard_normal(19) * 0.2,
        "w1": rng.standard_normal((7, 19, 1, 1)) * 0.3, "b1": rng.standard_normal(7) * 0.2,
        "lo": np.array(0.0), "hi": np.array(6.0),
    }
    s = list(strides)
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"]),
        helper.make_node("Relu", ["c0"], ["a"]),
        helper.make_node("Conv", ["a", "wd", "bd"], ["d"], strides=s, pads=[pad + 1] * 4),
        helper.make_node("Conv", ["a", "wp", "bp"], ["p"], strides=s, pads=[pad] * 4),
        helper.make_node("Add", ["p", "d"], ["sum"]),
        helper.make_node("Clip", ["sum", "lo", "hi"], ["t"]),
        helper.make_node("Conv", ["t", "w1", "b1"], ["y"]),
    ]
    h, w = hw
    graph = helper.make_graph(nodes, "strided_bf16", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                    [None, 5, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 7, None, None])],
                              [numpy_helper.from_array(v.astype(F32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("strides, hw", [((2, 2), (13, 11)), ((2, 3), (13, 11)), ((3, 2), (10, 17)),
                                         ((2, 2), (28, 28))])
@pytest.mark.parametrize("batch", [1, 3])
def test_strided_1x1_gives_the_nchw_bf16_bits(tmp_path, strides, hw, batch) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "strided.onnx"
    path.write_bytes(_strided_model(strides, hw))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    details = [la["detail"] for la in blocked.layers() if la["op"] == "int8rt.ConvBf16x16c"]
    assert len(details) == 4 and sum("strided 1x1" in d for d in details) == 1, details
    x = np.random.default_rng(247).standard_normal((batch, 5, *hw)).astype(F32)
    nchw = _build(path, False).run({"x": x})["y"]
    want = to_bf16(nchw)
    assert not np.array_equal(want, nchw), "the output was bf16 already: the test cannot tell"
    assert np.count_nonzero(want) > want.size // 4, "mostly zeros: the test would not see a wrong pixel"
    _same_bits_1_and_2_threads(blocked, {"x": x}, want)
    saved = tmp_path / "strided.i8rt"
    blocked.save(str(saved))
    with reference_kernels():
        ref = int8rt.Engine.load(str(saved))
        got_ref = ref.run({"x": x})["y"]
        assert any("strided 1x1" in la["detail"] and "nchw16c_bf16_ref" in la["detail"] for la in ref.layers())
    _same_bits(got_ref, want, "reference kernels")


def test_a_padded_1x1_stays_on_the_dense_kernel(tmp_path) -> None:
    """A strided 1x1 with padding reads pixels outside the image (+0): not
    the copy's case; it keeps the dense kernel and the NCHW bits."""
    pytest.importorskip("onnx")
    path = tmp_path / "padded.onnx"
    path.write_bytes(_strided_model((2, 2), (13, 11), pad=1))
    blocked = _build(path, True)
    if not _blocked_ops(blocked):
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    details = [la["detail"] for la in blocked.layers() if la["op"] == "int8rt.ConvBf16x16c"]
    assert not any("strided 1x1" in d for d in details) and sum("dense" in d for d in details) == 2, details
    x = np.random.default_rng(248).standard_normal((2, 5, 13, 11)).astype(F32)
    _same_bits(blocked.run({"x": x})["y"], to_bf16(_build(path, False).run({"x": x})["y"]), "padded 1x1")
