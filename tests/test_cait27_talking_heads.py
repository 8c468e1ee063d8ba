"""Talking-heads attention (CaiT) in int8: int8rt.QAttention with its mixes
over the heads (engine/ops/int8/head_mix.h; lowered in
engine/lower_int8_attention.cc), RESULTS.md §281.

Oracles:
- Integer parts, exact: a scores mix that permutes the heads (a 3-cycle, so a
  mix read with its [H, H] matrix transposed permutes the other way) and an
  identity probabilities mix give, byte for byte, the plain QAttention of
  the same q and k with their heads permuted (each product x * 1 and sum
  + x * 0 is exact), over row counts that take one and several row blocks,
  1..197 keys, batch 1 and 2, 1 and 2 threads, int8 and float outputs, and
  operands all -128 / all 127.
- Tiers: random mixes with biases give the same bytes under every cap (the
  mix is one rule, kernels/ref/softmax_f32.h head_mix_loop, in every tier).
- Float, bounded: against float64 softmax-with-mixes of the same int8
  operands, the float output errs by at most the probabilities' rounding,
  half a step each through |v|, plus 1e-4 relative for float32.
- The lowering: a CaiT-pattern ONNX model (timm's TalkingHeadAttn as torch
  exports it) builds one talking-heads QAttention per block, no float
  Softmax, Transpose or MatMul left in it, centred cosine against FP32 above
  a stated bound, and the same bytes after save / load; a plain attention
  (BERT / ViT form) lowers as before, with no head-mix attribute.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from onnx_models import fvi, init, model  # noqa: E402

F32 = np.float32
TIERS = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
H = 4
CYCLE = [1, 2, 0, 3]  # head o of the mixed scores is head CYCLE[o] of the scores


def mix_attrs(w: np.ndarray, b: np.ndarray | None) -> list[float]:
    return [float(x) for x in w.astype(F32).ravel()] + ([] if b is None else [float(x) for x in b.astype(F32)])


def permutation(perm: list[int]) -> np.ndarray:
    """W with y[o] = sum_h x[h] W[h][o] = x[perm[o]]."""
    w = np.zeros((len(perm), len(perm)), F32)
    for o, h in enumerate(perm):
        w[h, o] = 1.0
    return w


def attention_engine(shapes, attrs: dict) -> int8rt.Engine:
    net = _core.Network()
    ins = [net.add_input(n, list(s), "int8") for n, s in zip("qkv", shapes)]
    s_y = attrs.get("out_scale", 0.0)
    y = net.add_node("int8rt.QAttention", "attention", ins, attrs, ["q_y" if s_y else "y"])[0]
    if s_y:
        y = net.add_node("int8rt.Dequantize", "as_float", [y], {"scale": 1.0, "logical": 1}, ["y"])[0]
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))


def operands(rng, batch: int, m: int, n: int, d: int, dv: int, fill: int | None = None) -> dict:
    f = {"q": rng.integers(-128, 128, (batch, H, m, d), dtype=np.int8),
         "k": rng.integers(-128, 128, (batch, H, n, d), dtype=np.int8),
         "v": rng.integers(-128, 128, (batch, H, n, dv), dtype=np.int8)}
    if fill is not None:
        f["q"][:] = fill
        f["k"][:] = fill
    return f


def run(engine: int8rt.Engine, feeds: dict, threads: int = 1) -> np.ndarray:
    int8rt.set_num_threads(threads)
    try:
        return engine.create_execution_context().run(feeds)["y"]
    finally:
        int8rt.set_num_threads(0)


BASE = {"q_scale": 0.02, "k_scale": 0.03, "v_scale": 0.05, "k_transposed": 1, "probs_scale": 1 / 127}
SHAPES = [(1, 1, 1, 8, 8), (1, 5, 17, 8, 16), (2, 13, 13, 16, 8), (2, 100, 100, 8, 8), (1, 197, 197, 48, 48),
          (2, 3, 70, 32, 20)]  # batch, queries, keys, d, dv (100 x 100: 81-row blocks, two per element)


@pytest.mark.parametrize("isa", TIERS)
@pytest.mark.parametrize("shape", SHAPES, ids=[f"b{s[0]}_m{s[1]}_n{s[2]}" for s in SHAPES])
@pytest.mark.parametrize("int8_out", [False, True])
def test_permuting_mix_equals_plain_attention_of_permuted_heads(isa: str, shape, int8_out: bool) -> None:
    batch, m, n, d, dv = shape
    rng = np.random.default_rng(m * 1000 + n)
    feeds = operands(rng, batch, m, n, d, dv)
    attrs = dict(BASE, scores_factor=0.5, **({"out_scale": 0.02} if int8_out else {}))
    mixed = dict(attrs, scores_head_mix=mix_attrs(permutation(CYCLE), None),
                 probs_head_mix=mix_attrs(np.eye(H, dtype=F32), np.zeros(H, F32)))
    shapes = [feeds[c].shape for c in "qkv"]
    permuted = dict(feeds, q=np.ascontiguousarray(feeds["q"][:, CYCLE]), k=np.ascontiguousarray(feeds["k"][:, CYCLE]))
    int8rt.set_max_isa(isa)
    try:
        engine, plain = attention_engine(shapes, mixed), attention_engine(shapes, attrs)
        want = run(plain, permuted)
        assert np.std(want) > 0
        for threads in (1, 2):
            got = run(engine, feeds, threads)
            assert got.tobytes() == want.tobytes(), (isa, shape, threads, np.argwhere(got != want)[:3])
    finally:
        int8rt.set_max_isa(None)
    assert "talking-heads" in engine.layers()[0]["detail"]


@pytest.mark.parametrize("fill", [-128, 127])
def test_permuting_mix_at_the_int8_ends(fill: int) -> None:
    feeds = operands(np.random.default_rng(3), 2, 9, 33, 16, 8, fill)
    feeds["q"][:, 1] = -fill - 1 if fill == 127 else 127  # heads that differ, so the permutation shows
    attrs = dict(BASE, q_scale=0.0005, k_scale=0.0005, out_scale=0.03)
    mixed = dict(attrs, scores_head_mix=mix_attrs(permutation(CYCLE), None))
    permuted = dict(feeds, q=np.ascontiguousarray(feeds["q"][:, CYCLE]), k=np.ascontiguousarray(feeds["k"][:, CYCLE]))
    shapes = [feeds[c].shape for c in "qkv"]
    got = run(attention_engine(shapes, mixed), feeds, 2)
    assert got.tobytes() == run(attention_engine(shapes, attrs), permuted).tobytes()


def random_mixes(rng) -> dict:
    return {"scores_head_mix": mix_attrs(np.eye(H) + 0.4 * rng.standard_normal((H, H)), 0.3 * rng.standard_normal(H)),
            "probs_head_mix": mix_attrs(np.eye(H) + 0.4 * rng.standard_normal((H, H)), 0.01 * rng.standard_normal(H))}


@pytest.mark.parametrize("shape", SHAPES[1:], ids=[f"b{s[0]}_m{s[1]}_n{s[2]}" for s in SHAPES[1:]])
def test_random_mixes_same_bytes_on_every_tier(shape) -> None:
    batch, m, n, d, dv = shape
    rng = np.random.default_rng(7 + n)
    feeds = operands(rng, batch, m, n, d, dv)
    attrs = dict(BASE, probs_scale=1.5 / 127, out_scale=0.01, **random_mixes(rng))
    shapes = [feeds[c].shape for c in "qkv"]
    got = {}
    for isa in TIERS:
        int8rt.set_max_isa(isa)
        try:
            got[isa] = run(attention_engine(shapes, attrs), feeds, 2)
        finally:
            int8rt.set_max_isa(None)
    assert np.std(got["ref"]) > 1
    for isa in TIERS[1:]:
        assert got[isa].tobytes() == got["ref"].tobytes(), (isa, np.argwhere(got[isa] != got["ref"])[:3])


def float64_talking_heads(feeds, attrs) -> tuple[np.ndarray, np.ndarray]:
    """The layer's float output in float64, the probabilities unrounded, and
    those probabilities' |v| sums (for the rounding bound)."""
    q, k, v = (feeds[c].astype(np.float64) * attrs[f"{c}_scale"] for c in "qkv")
    s = np.matmul(q, np.swapaxes(k, -1, -2))  # [B, H, M, N]

    def mix(x, key):
        flat = np.asarray(attrs[key], np.float64)
        w, b = flat[:H * H].reshape(H, H), flat[H * H:]
        return np.einsum("bhmn,ho->bomn", x, w) + (b[None, :, None, None] if b.size else 0)

    s = mix(s, "scores_head_mix")
    p = np.exp(s - s.max(-1, keepdims=True))
    p = mix(p / p.sum(-1, keepdims=True), "probs_head_mix")
    return np.matmul(p, v), np.matmul(np.ones_like(p), np.abs(v))


@pytest.mark.parametrize("shape", SHAPES[1:4], ids=[f"b{s[0]}_m{s[1]}_n{s[2]}" for s in SHAPES[1:4]])
def test_float_output_within_the_probabilities_rounding(shape) -> None:
    batch, m, n, d, dv = shape
    rng = np.random.default_rng(11 + n)
    feeds = operands(rng, batch, m, n, d, dv)
    attrs = dict(BASE, q_scale=0.004, k_scale=0.004, probs_scale=1.5 / 127, **random_mixes(rng))
    got = run(attention_engine([feeds[c].shape for c in "qkv"], attrs), feeds).astype(np.float64)
    ref, abs_v = float64_talking_heads(feeds, attrs)
    # each probability rounds to the grid (half a step) unless it clips (|p| > 1.5: none with these mixes)
    bound = 0.5 * attrs["probs_scale"] * abs_v + 1e-4 * np.abs(ref).max()
    assert np.all(np.abs(got - ref) <= bound), float(np.max(np.abs(got - ref) - bound))
    assert np.max(np.abs(got - ref)) > 0  # (the rounding is there: the bound is not vacuous)


def test_head_mix_attributes_checked() -> None:
    shapes = [(1, H, 4, 8), (1, H, 4, 8), (1, H, 4, 8)]
    with pytest.raises(Exception, match="H \\* H weights"):
        attention_engine(shapes, dict(BASE, scores_head_mix=[1.0] * 7))
    engine = attention_engine([(1, 3, 4, 8)] * 3, dict(BASE, scores_head_mix=mix_attrs(np.eye(H), None)))
    feeds = {c: np.zeros((1, 3, 4, 8), np.int8) for c in "qkv"}
    with pytest.raises(Exception, match="talking heads mix 4 heads"):
        engine.create_execution_context().run(feeds)


# ---- the lowering: timm's TalkingHeadAttn as torch exports it (cait_xxs24) ----

def cait_attention_model(batch: int, seq: int, dim: int = 32) -> onnx.ModelProto:
    """x [B, N, C] -> qkv Linear -> Reshape [B, N, 3, H, d] -> Transpose (2, 0, 3, 1, 4) -> Gather q, k, v;
    q * scale; q k^T; proj_l (Transpose (0, 2, 3, 1), MatMul, Add, Transpose (0, 3, 1, 2)); Softmax; proj_w (the
    same); x v; Transpose (0, 2, 1, 3), Reshape [B, N, C]; proj Linear."""
    rng = np.random.default_rng(5)
    d = dim // H
    inits = [init("w_qkv", (rng.standard_normal((dim, 3 * dim)) / np.sqrt(dim)).astype(F32)),
             init("b_qkv", (0.1 * rng.standard_normal(3 * dim)).astype(F32)),
             init("w_l", (np.eye(H) + 0.3 * rng.standard_normal((H, H))).astype(F32)),
             init("b_l", (0.1 * rng.standard_normal(H)).astype(F32)),
             init("w_w", (np.eye(H) + 0.3 * rng.standard_normal((H, H))).astype(F32)),
             init("b_w", (0.01 * rng.standard_normal(H)).astype(F32)),
             init("w_o", (rng.standard_normal((dim, dim)) / np.sqrt(dim)).astype(F32)),
             init("b_o", (0.1 * rng.standard_normal(dim)).astype(F32)),
             init("split", np.array([batch, seq, 3, H, d], np.int64)),
             init("merge", np.array([batch, seq, dim], np.int64)),
             init("scale", np.array(d ** -0.5, F32))] + [init(f"i{i}", np.array(i, np.int64)) for i in range(3)]
    n = helper.make_node
    nodes = [n("MatMul", ["x", "w_qkv"], ["qkv_mm"], name="qkv"),
             n("Add", ["qkv_mm", "b_qkv"], ["qkv_lin"], name="qkv_b"),
             n("Reshape", ["qkv_lin", "split"], ["qkv_5d"], name="split"),
             n("Transpose", ["qkv_5d"], ["qkv_p"], perm=[2, 0, 3, 1, 4], name="permute")]
    nodes += [n("Gather", ["qkv_p", f"i{i}"], [c], axis=0, name=f"select_{c}") for i, c in enumerate("qkv")]
    nodes += [n("Mul", ["q", "scale"], ["q_s"], name="q_scale"),
              n("Transpose", ["k"], ["k_t"], perm=[0, 1, 3, 2], name="k_t"),
              n("MatMul", ["q_s", "k_t"], ["scores"], name="scores")]
    last = "scores"
    for tag, src in (("l", "scores"), ("w", "probs")):
        if tag == "w":
            nodes.append(n("Softmax", [last], ["probs"], axis=-1, name="softmax"))
        nodes += [n("Transpose", [src], [f"{tag}_in"], perm=[0, 2, 3, 1], name=f"{tag}_in"),
                  n("MatMul", [f"{tag}_in", f"w_{tag}"], [f"{tag}_mm"], name=f"proj_{tag}"),
                  n("Add", [f"{tag}_mm", f"b_{tag}"], [f"{tag}_lin"], name=f"proj_{tag}_b"),
                  n("Transpose", [f"{tag}_lin"], [f"{tag}_out"], perm=[0, 3, 1, 2], name=f"{tag}_out")]
        last = f"{tag}_out"
    nodes += [n("MatMul", ["w_out", "v"], ["ctx"], name="context"),
              n("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3], name="ctx_t"),
              n("Reshape", ["ctx_t", "merge"], ["merged"], name="merge"),
              n("MatMul", ["merged", "w_o"], ["o_mm"], name="proj"), n("Add", ["o_mm", "b_o"], ["y"], name="proj_b")]
    return model(nodes, [fvi("x", [batch, seq, dim])], [fvi("y", [batch, seq, dim])], inits)


def centred_cosine(got: np.ndarray, ref: np.ndarray) -> float:
    """Cosine of the outputs' tokens centred on their mean token."""
    got, ref = got.reshape(-1, got.shape[-1]), ref.reshape(-1, ref.shape[-1])
    g = (got - got.mean(axis=0)).ravel()
    r = (ref - ref.mean(axis=0)).ravel()
    return float(g @ r / (np.linalg.norm(g) * np.linalg.norm(r)))


@pytest.mark.parametrize("batch,seq", [(1, 17), (2, 50)])
def test_cait_pattern_lowers_to_one_talking_heads_attention(batch: int, seq: int, tmp_path) -> None:
    m = cait_attention_model(batch, seq)
    rng = np.random.default_rng(seq)
    batches = [{"x": rng.standard_normal((batch, seq, 32)).astype(F32)} for _ in range(4)]
    fp32 = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    q = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=batches, accuracy_check=False))
    layers = q.layers()
    ops = [layer["op"] for layer in layers]
    attn = [layer for layer in layers if layer["op"] == "int8rt.QAttention"]
    assert len(attn) == 1 and attn[0]["detail"].startswith("int8 talking-heads attention"), layers
    assert "Softmax" not in ops and "MatMul" not in ops and "Transpose" not in ops, ops  # nothing left in float
    nodes = [nd for nd in q._native.network().nodes() if nd["op"] == "int8rt.QAttention"]
    weights = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for key, tag in (("scores_head_mix", "l"), ("probs_head_mix", "w")):  # the model's W [H, H] and b, as they are
        want = np.concatenate([weights[f"w_{tag}"].ravel(), weights[f"b_{tag}"]])
        assert np.array_equal(np.asarray(nodes[0]["attrs"][key], F32), want), key
    feeds = {"x": rng.standard_normal((batch, seq, 32)).astype(F32)}
    got = q.create_execution_context().run(feeds)["y"]
    ref = fp32.create_execution_context().run(feeds)["y"]
    # Stated bound: the int8 projections and products of one attention block (measured 0.9995 / 0.9989)
    assert centred_cosine(got, ref) > 0.995
    path = str(tmp_path / "cait.i8rt")
    q.save(path)
    assert int8rt.Engine.load(path).create_execution_context().run(feeds)["y"].tobytes() == got.tobytes()


def test_plain_attention_lowers_as_before() -> None:
    """BERT / ViT's attention (no head mix) keeps the plain QAttention, with no head-mix attribute."""
    from test_int8_matmul import attention_model

    m = attention_model()
    rng = np.random.default_rng(21)
    batches = [{"x": rng.standard_normal((2, 12, 16)).astype(F32)} for _ in range(3)]
    q = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=batches, accuracy_check=False))
    nodes = [nd for nd in q._native.network().nodes() if nd["op"] == "int8rt.QAttention"]
    assert len(nodes) == 1
    assert "scores_head_mix" not in nodes[0]["attrs"] and "probs_head_mix" not in nodes[0]["attrs"]
    detail = [layer["detail"] for layer in q.layers() if layer["op"] == "int8rt.QAttention"][0]
    assert detail.startswith("int8 attention (scores, softmax, context)")
