"""The BF16 channel-blocked convs' batch partitions (engine/ops/bf16_blocked_ops.cc,
RESULTS.md section 221): at batch > 1 a strided dense window (3x3 / 2) and a
strided 1x1 projection run their block chunk over every image (images inner,
a chunk of up to 1152 KB of weights, rows split for more threads), and on AMX
a wide-weight expansion 1x1 (M >= 4 C) runs as one GEMM over runs of the
batch's pixels twice the usual input. Every blocked layer computes an image
from that image alone, and its partitions split blocks, rows and pixel runs,
never a sum, so a batch gives each image's own bits: batch N == each image
run alone, bit for bit, at 1 and 2 threads, on the CPU's own tier (AMX-BF16
where it runs: TDPBF16PS's order) and under the avx512bf16 cap (VDPBF16PS's).
"""
from __future__ import annotations

import numpy as np
import pytest

import int8rt

F32 = np.float32


def _model() -> bytes:
    """x [N, 32, 26, 26] -> 1x1 32 -> 64 + Relu (a) -> 3x3 / 2 pads 1 64 -> 256
    + Relu (b, 13 x 13); a strided 1x1 projection of a 64 -> 1024 (p); 1x1
    256 -> 1024 (512 KB of BF16 weights, an expansion) + p, Relu; 1x1
    1024 -> 16 -> y. Planes under 28 x 28, so no image chain takes them."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(221)
    inits, nodes = [], []

    def conv(x, y, c_in, c_out, k=1, s=1, relu=True):
        w = (rng.standard_normal((c_out, c_in, k, k)) * (1.5 / np.sqrt(c_in * k * k))).astype(F32)
        inits.append(numpy_helper.from_array(w, f"w_{y}"))
        inits.append(numpy_helper.from_array((rng.standard_normal(c_out) * 0.2).astype(F32), f"b_{y}"))
        out = f"{y}_c" if relu else y
        nodes.append(helper.make_node("Conv", [x, f"w_{y}", f"b_{y}"], [out], kernel_shape=[k, k], strides=[s, s],
                                      pads=[k // 2] * 4))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [y]))

    conv("x", "a", 32, 64)
    conv("a", "b", 64, 256, 3, 2)
    conv("a", "p", 64, 1024, 1, 2, relu=False)
    conv("b", "c0", 256, 1024, relu=False)
    nodes.append(helper.make_node("Add", ["c0", "p"], ["c_sum"]))
    nodes.append(helper.make_node("Relu", ["c_sum"], ["c"]))
    conv("c", "y", 1024, 16, relu=False)
    graph = helper.make_graph(nodes, "batch", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                             [None, 32, 26, 26])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 16, 13, 13])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture
def restore():
    yield
    int8rt.set_max_isa(None)
    int8rt.set_num_threads(1)


@pytest.mark.parametrize("cap", [None, "avx512bf16"], ids=["native", "avx512bf16"])
@pytest.mark.parametrize("batch", [3, 8])
def test_a_batch_gives_each_images_own_bits(tmp_path, restore, cap, batch) -> None:
    pytest.importorskip("onnx")
    int8rt.set_max_isa(cap)
    path = tmp_path / "batch.onnx"
    path.write_bytes(_model())
    engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    convs = [la for la in engine.layers() if la["op"] == "int8rt.ConvBf16x16c"]
    if len(convs) < 5:
        pytest.skip("no vector kernel for BF16 channel-blocked tensors here")
    x = np.random.default_rng(batch).standard_normal((batch, 32, 26, 26)).astype(F32)
    ctx = engine.create_execution_context()
    alone = np.concatenate([ctx.run({"x": x[n:n + 1]})["y"] for n in range(batch)])
    assert np.isfinite(alone).all() and np.abs(alone).max() > 0
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        got = ctx.run({"x": x})["y"]
        bad = np.argwhere(got.view(np.uint32) != alone.view(np.uint32))
        assert bad.size == 0, (f"{threads} thread(s), cap {cap}: {len(bad)} outputs differ, first {tuple(bad[0])}: "
                               f"{got[tuple(bad[0])]!r} vs {alone[tuple(bad[0])]!r}")
