"""Swin's shifted-window attention as one int8rt.QAttention (issues 11/12):
timm spells its scores as MatMul -> Add(relative-position bias) -> Reshape
[B * nW, heads, N, N] -> [B, nW, heads, N, N] -> Add(window mask [1, nW, 1,
N, N]) -> Reshape back -> Softmax, so the layer takes two additive masks,
each over a view of the scores' batch dims (QAttentionAttrs mask_view,
mask2_view; csrc/engine/ops/int8/contracts.h).

Oracles: the fused layer against its unfused chain of engine layers
(QMatMul, Mul, Add, Reshape, Add, Reshape, Softmax, Quantize, QMatMul) with
``==`` (the same IEEE operations in the same order); the lowering of a
Swin-like ONNX block: the attention is one QAttention (no Softmax left)
and the INT8 output is within a stated bound of FP32, which a misplaced
mask or view would break (checked: the same bound fails without the mask)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from onnx import helper  # noqa: E402

from np_kernels import first_mismatch  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402

F32 = np.float32
node = helper.make_node


def window_attention_engine(shapes, attrs: dict, fused: bool, mask_shape, mask2_shape, view) -> int8rt.Engine:
    """int8rt.QAttention over int8 q, k, v and two float masks (the second
    over the scores viewed as ``view`` + [M, N]), or (not fused) the chain
    it replaces, Swin's: QMatMul (float) -> [Mul by scores_factor] -> Add
    mask -> Reshape to the view -> Add mask2 -> Reshape back -> Softmax ->
    Quantize -> QMatMul. ``mask_shape`` None: one mask only, the viewed one
    (as input 3 with mask_view). An int8 result returns as float32 by an
    exact Dequantize at scale 1."""
    net = _core.Network()
    q, k, v = (net.add_input(n, list(s), "int8") for n, s in zip("qkv", shapes))
    masks = []
    if mask_shape is not None:
        masks.append(net.add_input("mask", list(mask_shape), "float32"))
    masks.append(net.add_input("mask2", list(mask2_shape), "float32"))
    s_y = attrs.get("out_scale", 0.0)
    out = "q_y" if s_y else "y"
    if fused:
        a = dict(attrs)
        a["mask2_view" if mask_shape is not None else "mask_view"] = list(view)
        y = net.add_node("int8rt.QAttention", "attention", [q, k, v] + masks, a, [out])[0]
    else:
        qk = {"a_scale": attrs["q_scale"], "b_scale": attrs["k_scale"], "b_transposed": attrs.get("k_transposed", 0)}
        pv = {"a_scale": attrs["probs_scale"], "b_scale": attrs["v_scale"],
              "a_zero_point": attrs.get("probs_zero_point", 0)}
        if s_y:
            pv["out_scale"] = s_y
        s = net.add_node("int8rt.QMatMul", "scores", [q, k], qk, ["s"])[0]
        if attrs.get("scores_factor"):
            c = net.add_constant("c", np.array(attrs["scores_factor"], F32))
            s = net.add_node("Div" if attrs.get("scores_divide") else "Mul", "scale", [s, c], {}, ["s_scaled"])[0]
        if mask_shape is not None:
            s = net.add_node("Add", "add_bias", [s, masks[0]], {}, ["s_biased"])[0]
        scores_shape = list(shapes[0][:-1]) + [shapes[1][-2] if attrs.get("k_transposed") else shapes[1][-1]]
        to_view = net.add_constant("to_view", np.array(list(view) + scores_shape[-2:], np.int64))
        back = net.add_constant("back", np.array([-1] + scores_shape[1:], np.int64))
        s = net.add_node("Reshape", "view", [s, to_view], {}, ["s_view"])[0]
        s = net.add_node("Add", "add_mask", [s, masks[-1]], {}, ["s_masked"])[0]
        s = net.add_node("Reshape", "unview", [s, back], {}, ["s_back"])[0]
        p = net.add_node("Softmax", "softmax", [s], {"axis": -1}, ["p"])[0]
        pq = net.add_node("int8rt.Quantize", "quantize", [p], {"scale": attrs["probs_scale"], "logical": 1,
                                                               "zero_point": attrs.get("probs_zero_point", 0)},
                          ["pq"])[0]
        y = net.add_node("int8rt.QMatMul", "context", [pq, v], pv, [out])[0]
    if s_y:
        y = net.add_node("int8rt.Dequantize", "as_float", [y], {"scale": 1.0, "logical": 1}, ["y"])[0]
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))


def window_mask(rng: np.random.Generator, shape) -> np.ndarray:
    """Swin's shift mask: 0 or -100 per (window, query, key)."""
    return np.where(rng.random(shape) < 0.4, -100.0, 0.0).astype(F32)


# q [B * nW, heads, N, d], k given untransposed, v; the bias; the window
# mask; the view of the batch dims it is added over.
WINDOWS = [
    ((2 * 4, 3, 13, 16), (1, 3, 13, 13), (1, 4, 1, 13, 13), (-1, 4, 3)),   # B 2, nW 4, 3 heads, 13 tokens
    ((1 * 4, 2, 16, 8), (2, 16, 16), (1, 4, 1, 16, 16), (-1, 4, 2)),       # B 1, the bias without a batch dim
    ((3 * 2, 2, 9, 8), (1, 2, 9, 9), (2, 1, 9, 9), (3, 2, 2)),             # a view with no -1, mask of rank 4
    ((2 * 4, 1, 49, 32), (1, 1, 49, 49), (1, 4, 1, 1, 49), (2, -1, 1)),   # one head, 49 tokens, mask over keys
]


@pytest.mark.parametrize("q_shape,bias_shape,mask_shape,view", WINDOWS)
def test_window_attention_equals_its_unfused_chain(q_shape, bias_shape, mask_shape, view) -> None:
    """Both masks, with and without the scores' scale (a Mul or Div, then
    the first mask, then the second: three roundings in that order), on
    the symmetric and the unsigned probability grids, int8 and float
    outputs: == the unfused chain."""
    rng = np.random.default_rng(sum(q_shape) + len(view))
    k_shape = q_shape
    v_shape = q_shape[:-1] + (q_shape[-1] + 3,)
    feeds = {n: rng.integers(-128, 128, s, dtype=np.int8) for n, s in zip("qkv", (q_shape, k_shape, v_shape))}
    feeds["mask"] = (rng.standard_normal(bias_shape) * 3).astype(F32)
    feeds["mask2"] = window_mask(rng, mask_shape)
    shapes = (q_shape, k_shape, v_shape)
    for scale, out_scale, grid in itertools.product(
            ({}, {"scores_factor": 0.37}, {"scores_factor": 3.0, "scores_divide": 1}), (0.05, 0.0),
            ({"probs_scale": 1 / 127}, {"probs_scale": 1 / 255, "probs_zero_point": -128})):
        attrs = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "k_transposed": 1, "out_scale": out_scale,
                 **scale, **grid}
        fused = window_attention_engine(shapes, attrs, True, bias_shape, mask_shape, view)
        chain = window_attention_engine(shapes, attrs, False, bias_shape, mask_shape, view)
        got = fused.create_execution_context().run(feeds)["y"]
        want = chain.create_execution_context().run(feeds)["y"]
        assert first_mismatch(got, want) is None, (scale, out_scale, grid, first_mismatch(got, want))
        assert np.std(want) > 0, "a constant output would pass trivially"


def test_the_masks_are_added_where_their_views_say() -> None:
    """The layer's result moves with each mask as the chain's does: a mask
    that differs in one window changes only that window's products (the
    view's decomposition of the batch), and both masks count."""
    q_shape, bias_shape, mask_shape, view = WINDOWS[0]
    rng = np.random.default_rng(5)
    shapes = (q_shape, q_shape, q_shape)
    feeds = {n: rng.integers(-128, 128, q_shape, dtype=np.int8) for n in "qkv"}
    feeds["mask"] = (rng.standard_normal(bias_shape) * 3).astype(F32)
    feeds["mask2"] = np.zeros(mask_shape, F32)
    attrs = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "k_transposed": 1, "probs_scale": 1 / 127}
    ctx = window_attention_engine(shapes, attrs, True, bias_shape, mask_shape, view).create_execution_context()
    base = ctx.run(feeds)["y"]
    window = 2  # of nW 4: batch rows 2 and 6 (b 0 and 1)
    moved = dict(feeds, mask2=feeds["mask2"].copy())
    moved["mask2"][0, window, 0, :, :6] = -100.0
    changed = np.any(ctx.run(moved)["y"] != base, axis=(1, 2, 3))
    assert changed.tolist() == [i % 4 == window for i in range(q_shape[0])], changed
    no_bias = ctx.run(dict(feeds, mask=np.zeros(bias_shape, F32)))["y"]
    assert np.any(no_bias != base)


def test_a_view_that_does_not_regroup_the_batch_is_refused() -> None:
    q_shape, bias_shape, mask_shape, _ = WINDOWS[0]
    attrs = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "k_transposed": 1, "probs_scale": 1 / 127}
    rng = np.random.default_rng(6)
    feeds = {n: rng.integers(-128, 128, q_shape, dtype=np.int8) for n in "qkv"}
    feeds["mask"] = np.zeros(bias_shape, F32)
    feeds["mask2"] = np.zeros((1, 5, 1, 13, 13), F32)
    e = window_attention_engine((q_shape,) * 3, attrs, True, bias_shape, (1, 5, 1, 13, 13), (-1, 5, 3))
    with pytest.raises(Exception, match="view"):
        e.create_execution_context().run(feeds)
    with pytest.raises(Exception, match="mask2_view"):
        window_attention_engine((q_shape,) * 3, attrs, True, bias_shape, mask_shape, (-1, -1, 3))


def test_one_viewed_mask_equals_its_unfused_chain() -> None:
    """A single mask inside the Reshape pair (no bias Add): input 3 with mask_view."""
    q_shape, _, mask_shape, view = WINDOWS[0]
    rng = np.random.default_rng(8)
    feeds = {n: rng.integers(-128, 128, q_shape, dtype=np.int8) for n in "qkv"}
    feeds["mask2"] = window_mask(rng, mask_shape)
    attrs = {"q_scale": 0.02, "k_scale": 0.015, "v_scale": 0.03, "k_transposed": 1, "probs_scale": 1 / 255,
             "probs_zero_point": -128, "scores_factor": 0.5}
    got = window_attention_engine((q_shape,) * 3, attrs, True, None, mask_shape, view)
    want = window_attention_engine((q_shape,) * 3, attrs, False, None, mask_shape, view)
    a, b = (e.create_execution_context().run(feeds)["y"] for e in (got, want))
    assert first_mismatch(a, b) is None, first_mismatch(a, b)


def swin_block_model(batch: int = 2, n_windows: int = 4, heads: int = 2, tokens: int = 16,
                     dim: int = 8) -> onnx.ModelProto:
    """timm's WindowAttention as torch exports it, on x [B, nW * N, C] (B
    symbolic) cut into windows [B * nW, N, C]: qkv Linear, heads split by Reshape + Transpose
    + Gather, q scaled by d**-0.5, q k^T, + relative-position bias [1, heads,
    N, N], Reshape [-1, nW, heads, N, N], + shift mask [1, nW, 1, N, N] (0 /
    -100), Reshape [-1, heads, N, N], Softmax, x v, heads merged, proj,
    windows merged."""
    rng = np.random.default_rng(21)
    hidden = heads * dim
    mask = np.zeros((n_windows, tokens, tokens), F32)
    for w in range(1, n_windows):  # shifted windows: token groups that may not see each other
        groups = (np.arange(tokens) * (w + 1)) // tokens
        mask[w] = np.where(groups[:, None] != groups[None, :], -100.0, 0.0)
    inits = [init("w_qkv", (rng.standard_normal((hidden, 3 * hidden)) / np.sqrt(hidden)).astype(F32)),
             init("b_qkv", (rng.standard_normal(3 * hidden) * 0.1).astype(F32)),
             init("split", np.array([-1, tokens, 3, heads, dim], np.int64)),
             init("scale", np.array(dim ** -0.5, F32)),
             init("rel_bias", (rng.standard_normal((1, heads, tokens, tokens)) * 2).astype(F32)),
             init("to_view", np.array([-1, n_windows, heads, tokens, tokens], np.int64)),
             init("shift_mask", mask.reshape(1, n_windows, 1, tokens, tokens)),
             init("back", np.array([-1, heads, tokens, tokens], np.int64)),
             init("windows", np.array([-1, tokens, hidden], np.int64)),
             init("merge", np.array([-1, tokens, hidden], np.int64)),
             init("unwindow", np.array([-1, n_windows * tokens, hidden], np.int64)),
             init("w_o", (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(F32))]
    nodes = [node("Reshape", ["x", "windows"], ["xw"], name="windows"),
             node("MatMul", ["xw", "w_qkv"], ["qkv_mm"], name="qkv"),
             node("Add", ["qkv_mm", "b_qkv"], ["qkv_lin"], name="qkv_bias"),
             node("Reshape", ["qkv_lin", "split"], ["qkv5"], name="split"),
             node("Transpose", ["qkv5"], ["qkv_t"], perm=[2, 0, 3, 1, 4], name="qkv_t")]
    for i, p in enumerate("qkv"):
        inits.append(init(f"i{p}", np.array(i, np.int64)))
        nodes.append(node("Gather", ["qkv_t", f"i{p}"], [f"{p}4"], axis=0, name=f"take_{p}"))
    nodes += [node("Mul", ["q4", "scale"], ["q_s"], name="scale_q"),
              node("Transpose", ["k4"], ["k_t"], perm=[0, 1, 3, 2], name="k_t"),
              node("MatMul", ["q_s", "k_t"], ["scores"], name="scores"),
              node("Add", ["scores", "rel_bias"], ["biased"], name="add_bias"),
              node("Reshape", ["biased", "to_view"], ["viewed"], name="view", allowzero=1),  # as torch exports it
              node("Add", ["viewed", "shift_mask"], ["masked"], name="add_mask"),
              node("Reshape", ["masked", "back"], ["logits"], name="unview", allowzero=1),
              node("Softmax", ["logits"], ["probs"], axis=-1, name="softmax"),
              node("MatMul", ["probs", "v4"], ["ctx"], name="context"),
              node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3], name="ctx_t"),
              node("Reshape", ["ctx_t", "merge"], ["merged"], name="merge_heads"),
              node("MatMul", ["merged", "w_o"], ["yw"], name="proj"),
              node("Reshape", ["yw", "unwindow"], ["y"], name="unwindow")]
    size = n_windows * tokens
    return model(nodes, [fvi("x", ["B", size, hidden])], [fvi("y", ["B", size, hidden])], inits)


def centred_cosine(got: np.ndarray, ref: np.ndarray) -> float:
    g = (got - got.mean(axis=0)).ravel()
    r = (ref - ref.mean(axis=0)).ravel()
    return float(g @ r / (np.linalg.norm(g) * np.linalg.norm(r)))


def test_swin_window_attention_lowers_to_one_qattention(tmp_path) -> None:
    """The block's attention (bias Add, Reshape, mask Add, Reshape, Softmax
    included) is one int8rt.QAttention with both masks and the window view;
    FP32 equals ONNX's reference evaluator; INT8 centred cosine >= 0.99
    against FP32 on held-out windows, a bound that the block without its
    shift mask misses (so a mask dropped or misplaced would fail it). The
    engine saved and loaded (the views are attributes of the file) gives
    the same bytes."""
    from onnx.reference import ReferenceEvaluator
    m = swin_block_model()
    rng = np.random.default_rng(22)
    batches = [{"x": rng.standard_normal((2, 64, 16)).astype(F32)} for _ in range(8)]
    fp32 = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    q = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=batches))
    layers = {layer["name"]: layer for layer in q.layers()}
    name = "scores+add_bias+view+add_mask+unview+softmax+context"
    assert name in layers, sorted(layers)
    assert layers[name]["op"] == "int8rt.QAttention" and layers[name]["precision"] == "int8"
    assert not any(layer["op"] == "Softmax" for layer in q.layers())
    (att,) = [n for n in q._native.network().nodes() if n["op"] == "int8rt.QAttention"]
    assert len(att["inputs"]) == 5
    assert list(att["attrs"]["mask2_view"]) == [-1, 4, 2] and "mask_view" not in att["attrs"]
    assert att["attrs"].get("probs_zero_point") == -128
    held = [{"x": rng.standard_normal((b, 64, 16)).astype(F32)} for b in (2, 1, 3)]  # any batch
    cf, cq = fp32.create_execution_context(), q.create_execution_context()
    ref = np.concatenate([cf.run(b)["y"] for b in held])
    onnx_ref = np.concatenate([ReferenceEvaluator(m).run(None, b)[0] for b in held])
    np.testing.assert_allclose(ref, onnx_ref, rtol=1e-4, atol=1e-5)
    got = np.concatenate([cq.run(b)["y"] for b in held])
    assert centred_cosine(got, ref) >= 0.99
    q.save(tmp_path / "swin_block.i8rt")
    cl = int8rt.Engine.load(tmp_path / "swin_block.i8rt").create_execution_context()
    np.testing.assert_array_equal(np.concatenate([cl.run(b)["y"] for b in held]), got)
    unmasked = onnx.ModelProto()
    unmasked.CopyFrom(m)
    for t in unmasked.graph.initializer:
        if t.name == "shift_mask":
            t.CopyFrom(init("shift_mask", np.zeros(tuple(t.dims), F32)))
    no_mask = np.concatenate([ReferenceEvaluator(unmasked).run(None, b)[0] for b in held])
    assert centred_cosine(no_mask, ref) < 0.95
