"""Attention's softmax probabilities on the unsigned grid (issues 11 and 12,
attnzp): int8rt.QAttention quantizes them with probs_zero_point -128 and
scale threshold / 255 (255 levels over [0, threshold], ONNX Runtime's uint8
Softmax output) instead of symmetric int8 (codes 0..127 only), and the
product with V takes the zero point as int8rt.QMatMul's a_zero_point does.

Oracles:
- QMatMul with a_zero_point is integer arithmetic followed by the epilogue
  kernels::apply_zero_points defines for a linear layer's input zero point
  (requant_params.h: bias[n] = -(float)(z * colsum_n(b)) * (s_a * s_b)
  [/ s_out]), with b's column sums per product: compared with ``==``
  against a NumPy model of those float32 operations.
- Fused == unfused (tests/test_int8_matmul.py, now over both grids) and
  every tier == the reference tier.
- The probabilities' grid: the SQNR of an attention's float output, against
  float64 softmax(q k) v of the same int8 operands (so the probabilities'
  rounding is the only error beyond float32's), gains at least 4 dB on
  the unsigned grid (the step ratio is 6.06 dB), and the unsigned grid's
  error power stays within 1.25x the uniform-rounding estimate of its step
  (s^2 / 12 per probability times the squares of V's column).
- The lowering: either zero-point switch gives the fused layer
  lower_bounded_grid(symmetric scale, 0); neither keeps the symmetric grid.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt.data_calibrator import make_calibrator  # noqa: E402

from np_kernels import epilogue, first_mismatch  # noqa: E402
from test_int8_matmul import attention_engine, attention_model  # noqa: E402

F32 = np.float32


def qmatmul_zp_engine(a_shape, b_shape, s_a: float, s_b: float, s_y: float, z_a: int,
                      b_transposed: bool) -> int8rt.Engine:
    """One int8rt.QMatMul with a_zero_point z_a (float output when s_y is 0;
    else int8, returned as float32 by an exact Dequantize at scale 1)."""
    net = _core.Network()
    a = net.add_input("a", list(a_shape), "int8")
    b = net.add_input("b", list(b_shape), "int8")
    attrs = {"a_scale": s_a, "b_scale": s_b, "a_zero_point": z_a, "b_transposed": int(b_transposed)}
    if s_y:
        attrs["out_scale"] = s_y
    y = net.add_node("int8rt.QMatMul", "qmatmul", [a, b], attrs, ["q" if s_y else "y"])[0]
    if s_y:
        y = net.add_node("int8rt.Dequantize", "as_float", [y], {"scale": 1.0, "logical": 1}, ["y"])[0]
    net.mark_output(y)
    return int8rt.Engine(_core.Engine.create(net, {"precision": "int8"}))


def expected_zp(qa: np.ndarray, qb: np.ndarray, s_a: float, s_b: float, s_y: float, z_a: int) -> np.ndarray:
    """apply_zero_points' epilogue on the raw codes' int64 product, its
    float32 operations in its order, b's column sums per product."""
    acc = np.matmul(qa.astype(np.int64), qb.astype(np.int64))
    colsum = qb.astype(np.int64).sum(axis=-2, keepdims=True)  # [..., 1, N]
    s = F32(s_a) * F32(s_b)
    corr = (z_a * colsum).astype(F32) * s
    centred = F32(0) - corr
    if s_y:
        bias = centred / F32(s_y) + F32(0)
        return epilogue(acc, np.full(acc.shape[-1], s / F32(s_y), F32), bias, -128, 127)
    return epilogue(acc, np.full(acc.shape[-1], s, F32), centred, -np.inf, np.inf, out_dtype="float")


SHAPES = [  # a, b: tile edges in M, K, N; broadcast batches
    ((1, 1), (1, 1)),
    ((5, 3), (3, 7)),
    ((17, 16), (16, 33)),
    ((2, 4, 13, 13), (2, 4, 13, 65)),   # probabilities x V
    ((3, 2, 9, 5), (2, 5, 16)),         # B's batch broadcast over A's leading dim
    ((1, 2, 9, 5), (3, 1, 5, 4)),       # both broadcast
    ((2, 49, 196), (2, 196, 64)),       # LeViT's subsampling attention: 49 queries over 196 keys
    ((2, 3, 600), (2, 600, 17)),        # b's column sums over three blocks of 256 rows
]


@pytest.mark.parametrize("a_shape,b_shape", SHAPES)
@pytest.mark.parametrize("z_a", [-128, -37, 5])
@pytest.mark.parametrize("int8_out,b_transposed", [(True, False), (False, False), (True, True), (False, True)])
def test_qmatmul_with_a_zero_point_equals_the_reference(a_shape, b_shape, z_a: int, int8_out: bool,
                                                        b_transposed: bool) -> None:
    rng = np.random.default_rng(sum(a_shape) * 31 + sum(b_shape) + z_a + 128)
    qa = rng.integers(-128, 128, a_shape, dtype=np.int8)
    qb = rng.integers(-128, 128, b_shape, dtype=np.int8)
    s_a, s_b = 0.013, 0.021
    centred = np.matmul(qa.astype(np.int64) - z_a, qb.astype(np.int64))
    # int8 outputs spanning the range: the largest |real value| at 120 steps
    s_y = float(s_a * s_b * max(np.abs(centred).max(), 1) / 120) if int8_out else 0.0
    b_given = np.ascontiguousarray(np.swapaxes(qb, -1, -2)) if b_transposed else qb
    ctx = qmatmul_zp_engine(a_shape, b_given.shape, s_a, s_b, s_y, z_a, b_transposed).create_execution_context()
    got = ctx.run({"a": qa, "b": b_given})["y"]
    want = expected_zp(qa, qb, s_a, s_b, s_y, z_a)
    if int8_out:
        assert np.array_equal(got, np.rint(got)) and got.min() >= -128 and got.max() <= 127
        got = got.astype(np.int8)
        if qa.size > 1:
            assert np.std(want.astype(float)) > 2, "outputs should vary"
    assert got.dtype == want.dtype and got.shape == want.shape
    bad = np.argwhere(got != want)
    assert bad.size == 0, f"{a_shape} x {b_shape} z={z_a}: first mismatch at {bad[0]}: {got[tuple(bad[0])]} vs " \
                          f"{want[tuple(bad[0])]}"
    # the zero point is taken: the result is that of the centred codes, to float rounding
    real = centred * F32(s_a) * F32(s_b)
    approx = got.astype(np.float64) * s_y if int8_out else got.astype(np.float64)
    assert np.abs(approx - real).max() <= (0.5 * s_y if int8_out else 0) + 1e-4 * max(np.abs(real).max(), 1e-3)


@pytest.mark.parametrize("fill", [-128, 127])
def test_qmatmul_zero_point_column_sums_at_the_int8_ends(fill: int) -> None:
    """b's column sums (Int8Products::zero_point_epilogue, blocks of 256 rows
    summed in int16) where every block's sum is at its end of the range
    (-128 * 256 = -32768, 127 * 256), over 513 rows (a partial last block)."""
    rng = np.random.default_rng(fill + 1000)
    qa = rng.integers(-128, 128, (4, 513), dtype=np.int8)
    qb = np.full((513, 19), fill, np.int8)
    ctx = qmatmul_zp_engine(qa.shape, qb.shape, 0.013, 0.021, 0.0, -128, False).create_execution_context()
    got = ctx.run({"a": qa, "b": qb})["y"]
    want = expected_zp(qa, qb, 0.013, 0.021, 0.0, -128)
    assert got.tobytes() == want.tobytes()


def test_qmatmul_refuses_a_zero_point_outside_int8() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="a_zero_point must lie in"):
        qmatmul_zp_engine([2, 3], [3, 4], 0.1, 0.1, 0.0, 128, False)


def attention_operands(rng: np.random.Generator, heads: int, m: int, n: int, d: int, dv: int):
    q = rng.integers(-128, 128, (1, heads, m, d), dtype=np.int8)
    k = rng.integers(-128, 128, (1, heads, n, d), dtype=np.int8)
    v = rng.integers(-128, 128, (1, heads, n, dv), dtype=np.int8)
    return {"q": q, "k": k, "v": v}


def float64_attention(feeds, s_q: float, s_k: float, s_v: float, factor: float) -> np.ndarray:
    """softmax(q k^T * factor) v of the dequantized operands, in float64."""
    q, k, v = (feeds[c].astype(np.float64) * s for c, s in zip("qkv", (s_q, s_k, s_v)))
    logits = np.matmul(q, np.swapaxes(k, -1, -2)) * factor
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.matmul(p, v)


@pytest.mark.parametrize("logit_std", [1.0, 4.0])  # a flat and a sharp softmax (LeViT's is sharp)
def test_unsigned_probabilities_gain_the_step_ratio_in_sqnr(logit_std: float) -> None:
    """Same layer, same threshold (1.0), float output, 49 queries over 196
    keys: symmetric grid (scale 1 / 127) against unsigned (1 / 255, zero
    point -128). The output error is the probabilities' rounding through V,
    plus float32 rounding. Bounds: the unsigned grid's SQNR is at least 4 dB
    higher (6.06 dB, the step ratio, if the rounding errors were uniform on
    both grids; probabilities below half a step on both err by the same p,
    which costs a sharp softmax about 1 dB: measured 4.9-6.4 dB over logit
    deviations 1-8 and 49 or 196 keys), and its error power at most 1.25x
    the uniform-rounding estimate step^2 / 12 * sum_k v[k, n]^2 summed over
    the outputs (measured 0.05-1.07x: a sharp softmax's tiny probabilities
    err by less, a flat one's 1/196 round less uniformly). On the old
    symmetric-only layer the unsigned attributes clip every probability
    above 127 / 255 and the gain is negative."""
    rng = np.random.default_rng(int(logit_std * 10))
    heads, m, n, d, dv = 4, 49, 196, 16, 32
    feeds = attention_operands(rng, heads, m, n, d, dv)
    s_q = s_k = 0.05
    s_v = 0.03
    code_std = 128 / np.sqrt(3)  # uniform int8 codes
    factor = float(logit_std / (s_q * s_k * code_std ** 2 * np.sqrt(d)))  # logits of that standard deviation
    ref = float64_attention(feeds, s_q, s_k, s_v, factor)
    shapes = tuple(feeds[c].shape for c in "qkv")
    base = {"q_scale": s_q, "k_scale": s_k, "v_scale": s_v, "k_transposed": 1, "scores_factor": factor}
    sqnr, noise = {}, {}
    for name, grid in (("symmetric", {"probs_scale": 1 / 127}),
                       ("unsigned", {"probs_scale": 1 / 255, "probs_zero_point": -128})):
        got = attention_engine(shapes, {**base, **grid}, True).create_execution_context().run(feeds)["y"]
        noise[name] = float(np.sum((got.astype(np.float64) - ref) ** 2))
        sqnr[name] = 10 * np.log10(np.sum(ref ** 2) / noise[name])
    assert sqnr["unsigned"] >= sqnr["symmetric"] + 4.0, sqnr
    v = feeds["v"].astype(np.float64) * s_v  # [1, heads, n, dv]
    estimate = (1 / 255) ** 2 / 12 * m * float(np.sum(v ** 2))  # over heads, rows m, columns: sum_k v^2
    assert noise["unsigned"] <= 1.25 * estimate, (noise, estimate)


def test_the_unsigned_grid_matches_the_reference_tier_on_a_sharp_softmax() -> None:
    """LeViT-like rows (one dominant key per row, large V): the reference
    tier and the optimized one give the same bytes, int8 output."""
    rng = np.random.default_rng(5)
    feeds = attention_operands(rng, 2, 16, 49, 16, 64)
    shapes = tuple(feeds[c].shape for c in "qkv")
    attrs = {"q_scale": 0.1, "k_scale": 0.1, "v_scale": 0.05, "k_transposed": 1, "scores_factor": 0.25,
             "probs_scale": 0.9 / 255, "probs_zero_point": -128, "out_scale": 0.05}
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    got = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)
        try:
            got[isa] = attention_engine(shapes, attrs, True).create_execution_context().run(feeds)["y"]
        finally:
            int8rt.set_max_isa(None)
    assert np.std(got["ref"]) > 1
    for isa in tiers[1:]:
        assert got[isa].tobytes() == got["ref"].tobytes(), isa


def _lowered_attention(**switches) -> dict:
    m = attention_model()
    rng = np.random.default_rng(21)
    batches = [{"x": rng.standard_normal((2, 12, 16)).astype(F32)} for _ in range(4)]
    calibrator = make_calibrator({"x": np.concatenate([b["x"] for b in batches])}, algorithm="minmax", batch_size=2)
    config = int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False, **switches)
    engine = int8rt.build_engine(m.SerializeToString(), config)
    nodes = [n for n in engine._native.network().nodes() if n["op"] == "int8rt.QAttention"]
    assert len(nodes) == 1
    return {"attrs": nodes[0]["attrs"], "scales": engine.scales(), "report": engine.report()}


@pytest.mark.parametrize("switches", [{"asymmetric_activations": True, "unsigned_activations": False},
                                      {"asymmetric_activations": False, "unsigned_activations": True}])
def test_either_zero_point_switch_puts_the_probabilities_on_the_unsigned_grid(switches: dict) -> None:
    got = _lowered_attention(**switches)
    symmetric = got["scales"]["probs"]  # the calibrated (cache) scale stays the symmetric one
    scale, zero_point = _core.lower_bounded_grid(symmetric, 0.0)
    assert zero_point == -128
    assert got["attrs"]["probs_zero_point"] == -128
    assert F32(got["attrs"]["probs_scale"]) == F32(scale)
    assert any("probabilities on the unsigned grid" in line for line in got["report"])


def test_without_zero_point_switches_the_probabilities_stay_symmetric() -> None:
    got = _lowered_attention(asymmetric_activations=False, unsigned_activations=False)
    assert "probs_zero_point" not in got["attrs"]
    assert F32(got["attrs"]["probs_scale"]) == F32(got["scales"]["probs"])


@pytest.mark.parametrize("int8_out", [True, False])
def test_rows_masked_everywhere_without_the_guard_quantize_to_the_zero_point(int8_out: bool) -> None:
    """No NaN guard: a row masked everywhere is NaN after the softmax, which
    int8rt.Quantize's rounding clamps to -128, the unsigned grid's zero
    point (probability 0): fused == unfused, every tier == the reference, and
    that row of the float output is 0 (the zero point's correction cancels
    the codes' product exactly)."""
    shapes = ((1, 2, 7, 16), (1, 2, 23, 16), (1, 2, 23, 8))
    rng = np.random.default_rng(8)
    feeds = {c: rng.integers(-128, 128, s, dtype=np.int8) for c, s in zip("qkv", shapes)}
    mask = np.where(rng.random((1, 2, 7, 23)) < 0.3, -np.inf, 0.0).astype(F32)
    mask[0, 1, 3, :] = -np.inf
    feeds["mask"] = mask
    attrs = {"q_scale": 0.05, "k_scale": 0.05, "v_scale": 0.03, "k_transposed": 1, "scores_factor": 0.25,
             "probs_scale": 1 / 255, "probs_zero_point": -128, "out_scale": 0.03 if int8_out else 0.0}
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    got = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)
        try:
            got[isa] = attention_engine(shapes, attrs, True, mask.shape).create_execution_context().run(feeds)["y"]
        finally:
            int8rt.set_max_isa(None)
    chain = attention_engine(shapes, attrs, False, mask.shape).create_execution_context().run(feeds)["y"]
    assert got["ref"].tobytes() == chain.tobytes()
    for isa in tiers[1:]:
        assert got[isa].tobytes() == got["ref"].tobytes(), isa
    assert np.all(got["ref"][0, 1, 3] == 0) and np.std(got["ref"]) > 0


@pytest.mark.parametrize("b_transposed", [False, True])
def test_qmatmul_zero_point_column_sums_past_a_block_of_rows(b_transposed: bool) -> None:
    """B's column sums are taken in blocks of rows (2^16 in int32 for b
    transposed, 256 in int16 for b [K][N]) added in int64: K = 2^16 + 3 with
    B at its extremes (sums beyond 2^23), float output, == the NumPy model."""
    k = (1 << 16) + 3
    rng = np.random.default_rng(17)
    qa = rng.integers(-128, 128, (2, k), dtype=np.int8)
    qb = np.where(rng.random((k, 3)) < 0.9, -128, 127).astype(np.int8)
    qb[:, 1] = 127
    b_given = np.ascontiguousarray(qb.T) if b_transposed else qb
    ctx = qmatmul_zp_engine(qa.shape, b_given.shape, 1e-3, 1e-3, 0.0, -128, b_transposed).create_execution_context()
    got = ctx.run({"a": qa, "b": b_given})["y"]
    want = expected_zp(qa, qb, 1e-3, 1e-3, 0.0, -128)
    assert got.tobytes() == want.tobytes(), first_mismatch(got, want)
