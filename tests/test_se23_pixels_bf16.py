"""The BF16 1x1 conv over one-pixel images as one GEMM over the batch
(engine/ops/conv_f32_pixels_bf16.cc, RESULTS.md section 268): a
squeeze-and-excitation block's FC convs, [N, C, 1, 1], whose weights are
packed as the BF16 GEMM's right-hand operand, the batch's pixels its rows.

The claim is the per-image product's bits: the same model with the FC convs'
input declared [N, C, H, W] with H, W dynamic runs the per-image (left
weights) path; fed 1 x 1 images, both give the same bytes, batch 1 / 3 / 8,
1 and 2 threads, channel counts off the tile widths, with and without a
bfloat16 tensor between the two convs, each activation the BF16 conv takes,
on the CPU's tier and the reference kernels, after a save / load. An
independent oracle in NumPy (the VDPBF16PS contract of kernels/abi/gemm_bf16.h:
BF16 operands, one FP32 chain per output from zero, odd element of each pair
first, the products exact, then the bias add) checks the bits too. A full SE
block (GlobalAveragePool, the two FC convs, HardSigmoid, the channel scale):
a batch gives each image's own bits.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

import int8rt
from bf16_order import reference_kernels, vdpbf16ps_order  # noqa: F401  (the autouse fixture)

F32 = np.float32
BATCH_GEMM = "one GEMM over the batch"


def _fc_model(c: int, r: int, act: Optional[str], hidden_out: bool, spatial: list, seed: int) -> bytes:
    """p [N, c, *spatial] -> 1x1 conv c -> r (+ bias, + act) = h -> 1x1 conv r -> c = y; h an output too
    when hidden_out (then float32; else the builder may keep it bfloat16 between the two BF16 convs)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((r, c, 1, 1)) / np.sqrt(c)).astype(F32)
    w2 = (rng.standard_normal((c, r, 1, 1)) / np.sqrt(r)).astype(F32)
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
             numpy_helper.from_array((rng.standard_normal(r) * 0.3).astype(F32), "b1"),
             numpy_helper.from_array((rng.standard_normal(c) * 0.3).astype(F32), "b2")]
    nodes = [helper.make_node("Conv", ["p", "w1", "b1"], ["h0" if act else "h"], kernel_shape=[1, 1])]
    if act == "Clip":
        inits += [numpy_helper.from_array(np.array(0.0, F32), "lo"), numpy_helper.from_array(np.array(1.5, F32), "hi")]
        nodes.append(helper.make_node("Clip", ["h0", "lo", "hi"], ["h"]))
    elif act:
        nodes.append(helper.make_node(act, ["h0"], ["h"]))
    nodes.append(helper.make_node("Conv", ["h", "w2", "b2"], ["y"], kernel_shape=[1, 1]))
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, c, *spatial])]
    if hidden_out:
        outs.append(helper.make_tensor_value_info("h", TensorProto.FLOAT, [None, r, *spatial]))
    graph = helper.make_graph(nodes, "se_fc", [helper.make_tensor_value_info("p", TensorProto.FLOAT,
                                                                             [None, c, *spatial])], outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _build(tmp_path, onnx_bytes: bytes, name: str) -> int8rt.Engine:
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(onnx_bytes)
    return int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32", bf16=True))


def _fc_details(engine: int8rt.Engine) -> list:
    return [la["detail"] for la in engine.layers() if la["op"] == "Conv"]


@pytest.fixture
def threads_back():
    yield
    int8rt.set_num_threads(1)


@pytest.mark.parametrize("act", [None, "Relu", "Clip", "HardSwish"])
@pytest.mark.parametrize("hidden_out", [False, True], ids=["h_internal", "h_output"])
@pytest.mark.parametrize("c,r", [(37, 10), (64, 16), (960, 240)])
def test_batch_gemm_gives_the_per_image_paths_bits(tmp_path, threads_back, c, r, act, hidden_out) -> None:
    pytest.importorskip("onnx")
    seed = c * 7 + r
    batched = _build(tmp_path, _fc_model(c, r, act, hidden_out, [1, 1], seed), "batched")
    per_image = _build(tmp_path, _fc_model(c, r, act, hidden_out, [None, None], seed), "per_image")
    got_d, want_d = _fc_details(batched), _fc_details(per_image)
    assert len(got_d) == 2 and all(BATCH_GEMM in d for d in got_d), got_d
    assert len(want_d) == 2 and not any(BATCH_GEMM in d for d in want_d), want_d
    if not hidden_out and act != "HardSwish":  # h between the two BF16 convs is bfloat16 on both sides
        assert "out=bfloat16" in got_d[0] and "out=bfloat16" in want_d[0], (got_d, want_d)
    saved = tmp_path / "batched.i8rt"
    batched.save(str(saved))
    loaded = int8rt.Engine.load(str(saved))
    assert _fc_details(loaded) == got_d
    rng = np.random.default_rng(seed + 1)
    for batch in (1, 3, 8):
        p = rng.standard_normal((batch, c, 1, 1)).astype(F32)
        p[0, : min(c, 5)] = 0.0  # zeros in the pairs, as after a Relu
        for threads in (1, 2):
            int8rt.set_num_threads(threads)
            want = per_image.run({"p": p})
            assert np.isfinite(want["y"]).all() and np.abs(want["y"]).max() > 0
            for engine, what in ((batched, "built"), (loaded, "loaded")):
                got = engine.run({"p": p})
                for name in want:
                    bad = np.argwhere(got[name].view(np.uint32) != want[name].view(np.uint32))
                    assert bad.size == 0, (f"{what} {name} c={c} r={r} act={act} batch={batch} threads={threads}: "
                                           f"first at {bad[0]}: {got[name][tuple(bad[0])]} != "
                                           f"{want[name][tuple(bad[0])]}")


@pytest.mark.parametrize("c,r", [(37, 10), (96, 24)])
def test_reference_kernels_batch_gemm_gives_the_per_image_bits(tmp_path, c, r) -> None:
    pytest.importorskip("onnx")
    with reference_kernels():
        batched = _build(tmp_path, _fc_model(c, r, "Relu", False, [1, 1], c), "batched")
        per_image = _build(tmp_path, _fc_model(c, r, "Relu", False, [None, None], c), "per_image")
        assert all(BATCH_GEMM in d and "ref" in d for d in _fc_details(batched)), _fc_details(batched)
        p = np.random.default_rng(r).standard_normal((5, c, 1, 1)).astype(F32)
        got, want = batched.run({"p": p})["y"], per_image.run({"p": p})["y"]
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def _bf16(a: np.ndarray) -> np.ndarray:
    """bf16::from_f32 (round to nearest even; the data here has no NaN, inf or denormal) as float32."""
    u = a.astype(F32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return u.astype(np.uint32).view(F32)


def _contract(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """y[n][m] per kernels/abi/gemm_bf16.h: acc = 0; per pair p, odd element then even, acc = fl(acc + a b)
    (a b exact: two 8-bit significands); then + bias[m]. x [N, K], w [M, K]."""
    xb, wb = _bf16(x), _bf16(w)
    k = x.shape[1]
    acc = np.zeros((x.shape[0], w.shape[0]), F32)
    for p in range((k + 1) // 2):
        for kk in (2 * p + 1, 2 * p):
            if kk < k:
                acc = (acc + np.outer(xb[:, kk], wb[:, kk]).astype(F32)).astype(F32)
                assert not (np.abs(acc)[acc != 0] < np.finfo(F32).tiny).any()  # no FTZ case here
    return (acc + bias[None, :]).astype(F32)


@pytest.mark.parametrize("c,r", [(37, 10), (960, 240)])
def test_batch_gemm_matches_the_contract_in_numpy(tmp_path, threads_back, c, r) -> None:
    pytest.importorskip("onnx")
    from onnx import numpy_helper
    import onnx

    model = _fc_model(c, r, "Relu", True, [1, 1], 268 + c)
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(model).graph.initializer}
    engine = _build(tmp_path, model, "batched")
    p = np.random.default_rng(c).standard_normal((8, c, 1, 1)).astype(F32)
    want = np.maximum(_contract(p[:, :, 0, 0], weights["w1"][:, :, 0, 0], weights["b1"]), F32(0))
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        got = engine.run({"p": p})["h"][:, :, 0, 0]
        bad = np.argwhere(got.view(np.uint32) != want.view(np.uint32))
        assert bad.size == 0, f"threads {threads}: first at {bad[0]}: {got[tuple(bad[0])]} != {want[tuple(bad[0])]}"


def _se_model(c: int, r: int) -> bytes:
    """x [N, c, 9, 9] -> GlobalAveragePool -> 1x1 c -> r + Relu -> 1x1 r -> c -> HardSigmoid -> x * gate."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(c + r)
    inits = [numpy_helper.from_array((rng.standard_normal((r, c, 1, 1)) / np.sqrt(c)).astype(F32), "w1"),
             numpy_helper.from_array((rng.standard_normal(r) * 0.3).astype(F32), "b1"),
             numpy_helper.from_array((rng.standard_normal((c, r, 1, 1)) / np.sqrt(r)).astype(F32), "w2"),
             numpy_helper.from_array((rng.standard_normal(c) * 0.3).astype(F32), "b2")]
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["s"]),
             helper.make_node("Conv", ["s", "w1", "b1"], ["h0"], kernel_shape=[1, 1]),
             helper.make_node("Relu", ["h0"], ["h"]),
             helper.make_node("Conv", ["h", "w2", "b2"], ["g0"], kernel_shape=[1, 1]),
             helper.make_node("HardSigmoid", ["g0"], ["g"], alpha=1.0 / 6, beta=0.5),
             helper.make_node("Mul", ["x", "g"], ["y"])]
    graph = helper.make_graph(nodes, "se", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, c, 9, 9])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("c,r", [(40, 10), (72, 24)])
def test_se_block_batch_gives_each_images_own_bits(tmp_path, threads_back, c, r) -> None:
    pytest.importorskip("onnx")
    engine = _build(tmp_path, _se_model(c, r), "se")
    assert sum(BATCH_GEMM in d for d in _fc_details(engine)) == 2, _fc_details(engine)
    x = np.random.default_rng(c).standard_normal((8, c, 9, 9)).astype(F32)
    alone = np.concatenate([engine.run({"x": x[n:n + 1]})["y"] for n in range(8)])
    assert np.isfinite(alone).all() and np.abs(alone).max() > 0
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        for batch in (3, 8):
            got = engine.run({"x": x[:batch]})["y"]
            np.testing.assert_array_equal(got.view(np.uint32), alone[:batch].view(np.uint32),
                                          err_msg=f"batch {batch} threads {threads}")
