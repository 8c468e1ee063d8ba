"""fold_input_affine (csrc/graph/passes/fold_input_affine.cc): a Mul / Add by per-feature constants that only a
MatMul or Gemm with constant weights reads (ResMLP's Affine norm before fc1) folded into the weights and bias.

The fold reassociates, so outputs are compared against the unfolded network (the same passes with
``fold_input_affine`` off) within the float32 dot-product bound stated in the pass: with
S[n] = sum_k (|f[k] x[k]| + |g[k]|) |W[k][n]| + |b[n]|, each side is a sum of at most K + 2 m + 2 rounded terms
(m chain links), so the two differ by at most 2 (K + 2 m + 2) 2^-24 S[n]. The fold must not apply where the
affine's result has a second reader or is a network output, and the INT8 engine must then run the block with
no float Mul / Add layers.
"""
from __future__ import annotations


import numpy as np
import pytest
from onnx import helper

import int8rt
from int8rt import _core, _testing
from onnx_models import fvi, init, model

U = 2.0 ** -24


def _ops(net: _core.Network) -> list[str]:
    return sorted(n["op"] for n in net.nodes())


def _run(net: _core.Network, feeds: dict) -> dict:
    return _testing.Executor(net).run(feeds)


def _passes(m, fold: bool) -> tuple[_core.Network, list[str]]:
    net = int8rt.onnx.import_model(m)
    report = _testing.run_passes(net, {"fold_input_affine": fold})
    return net, report["lines"]


def _affine_linear(rng, extra: str = "", k: int = 24, n: int = 20, bias: bool = True):
    """x [B, T, K] -> Mul(alpha [1, 1, K]) -> Add(beta [K]) -> MatMul(W [K, N]) [-> Add(b [N])] -> y;
    extra: "reader" (a Relu also reads the affine's result, output r), "output" (the result is an output too)."""
    alpha = rng.uniform(0.2, 3.0, (1, 1, k)).astype(np.float32) * rng.choice([-1, 1], (1, 1, k)).astype(np.float32)
    beta = rng.uniform(-2, 2, k).astype(np.float32)
    w = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    b = rng.uniform(-1, 1, n).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "alpha"], ["ax"], name="norm_mul"),
             helper.make_node("Add", ["beta", "ax"], ["a"], name="norm_add"),
             helper.make_node("MatMul", ["a", "w"], ["m" if bias else "y"], name="fc")]
    if bias:
        nodes.append(helper.make_node("Add", ["m", "b"], ["y"], name="fc_bias"))
    outputs = [fvi("y", ["B", 7, n])]
    if extra == "reader":
        nodes.append(helper.make_node("Relu", ["a"], ["r"], name="other"))
        outputs.append(fvi("r", ["B", 7, k]))
    if extra == "output":
        outputs.append(fvi("a", ["B", 7, k]))
    inits = [init("alpha", alpha), init("beta", beta), init("w", w)] + ([init("b", b)] if bias else [])
    m = model(nodes, [fvi("x", ["B", 7, k])], outputs, inits)
    x = rng.uniform(-3, 3, (3, 7, k)).astype(np.float32)
    f, g = alpha.reshape(k).astype(np.float64), beta.astype(np.float64)
    s = (np.abs(x * f) + np.abs(g)) @ np.abs(w.astype(np.float64)) + (np.abs(b) if bias else 0)
    return m, {"x": x}, 2 * (k + 2 * 2 + 2) * U * s


def test_affine_before_matmul_folds_within_bound() -> None:
    m, feeds, tol = _affine_linear(np.random.default_rng(1))
    folded, lines = _passes(m, True)
    kept, _ = _passes(m, False)
    assert _ops(folded) == ["Add", "MatMul"], _ops(folded)
    assert _ops(kept) == ["Add", "Add", "MatMul", "Mul"]
    assert lines == ["folded the affine map of 2 Mul / Add ending at Add 'norm_add' into MatMul 'fc'"]
    assert [n["inputs"][0] for n in folded.nodes() if n["op"] == "MatMul"] == [folded.find_tensor("x")]
    err = np.abs(_run(folded, feeds)["y"] - _run(kept, feeds)["y"])
    assert (err <= tol).all(), (err.max(), (err - tol).max())
    # and the fold is not the identity: the unfolded affine's values differ from x
    assert np.abs(_run(kept, feeds)["y"]).max() > 0


@pytest.mark.parametrize("extra", ["reader", "output"])
def test_affine_with_another_reader_or_an_output_stays(extra: str) -> None:
    m, feeds, _ = _affine_linear(np.random.default_rng(2), extra)
    folded, lines = _passes(m, True)
    assert lines == []
    assert "Mul" in _ops(folded) and _ops(folded).count("Add") == 2
    kept, _ = _passes(m, False)
    for name, v in _run(kept, feeds).items():
        np.testing.assert_array_equal(_run(folded, feeds)[name], v)


def test_matmul_without_bias_folds_only_a_pure_scale() -> None:
    rng = np.random.default_rng(3)
    m, _, _ = _affine_linear(rng, bias=False)
    folded, lines = _passes(m, True)
    assert lines == [] and _ops(folded) == ["Add", "MatMul", "Mul"]
    k, n = 16, 12
    scale = rng.uniform(0.5, 2, k).astype(np.float32)
    w = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "s"], ["a"], name="scale"),
             helper.make_node("MatMul", ["a", "w"], ["y"], name="fc")]
    m2 = model(nodes, [fvi("x", ["B", k])], [fvi("y", ["B", n])], [init("s", scale), init("w", w)])
    folded, lines = _passes(m2, True)
    kept, _ = _passes(m2, False)
    assert _ops(folded) == ["MatMul"] and len(lines) == 1
    x = rng.uniform(-2, 2, (5, k)).astype(np.float32)
    tol = 2 * (k + 4) * U * (np.abs(x * scale) @ np.abs(w))
    assert (np.abs(_run(folded, {"x": x})["y"] - _run(kept, {"x": x})["y"]) <= tol).all()


@pytest.mark.parametrize("trans_b", [0, 1])
def test_shift_then_scale_before_gemm_folds_within_bound(trans_b: int) -> None:
    rng = np.random.default_rng(4 + trans_b)
    k, n = 13, 9
    shift = rng.uniform(-1, 1, k).astype(np.float32)
    scale = rng.uniform(-2, 2, (1, k)).astype(np.float32)
    w = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(np.float32)
    c = rng.uniform(-1, 1, n).astype(np.float32)
    nodes = [helper.make_node("Add", ["x", "shift"], ["t"], name="shift"),
             helper.make_node("Mul", ["t", "scale"], ["a"], name="scale"),
             helper.make_node("Gemm", ["a", "w", "c"], ["y"], name="gemm", transB=trans_b, beta=0.5)]
    m = model(nodes, [fvi("x", ["B", k])], [fvi("y", ["B", n])],
              [init("shift", shift), init("scale", scale), init("w", w), init("c", c)])
    folded, lines = _passes(m, True)
    kept, _ = _passes(m, False)
    assert _ops(folded) == ["Gemm"] and len(lines) == 1
    x = rng.uniform(-2, 2, (4, k)).astype(np.float32)
    wk = np.abs(w.T if trans_b else w).astype(np.float64)
    f, g = scale.reshape(k).astype(np.float64), shift.astype(np.float64) * scale.reshape(k)
    tol = 2 * (k + 6) * U * ((np.abs(x * f) + np.abs(g)) @ wk + 0.5 * np.abs(c))
    err = np.abs(_run(folded, {"x": x})["y"] - _run(kept, {"x": x})["y"])
    assert (err <= tol).all(), (err.max(), (err - tol).max())


def test_scalar_scale_stays() -> None:
    # a single value is left alone: the int8 lowering relabels a positive scalar Mul's scale for free, and fuse_gelu
    # looks for GELU's Mul 0.5 before a MatMul
    rng = np.random.default_rng(8)
    k, n = 8, 4
    nodes = [helper.make_node("Mul", ["x", "s"], ["a"], name="scale"),
             helper.make_node("MatMul", ["a", "w"], ["y"], name="fc")]
    m = model(nodes, [fvi("x", ["B", k])], [fvi("y", ["B", n])],
              [init("s", np.array([0.25], np.float32)), init("w", rng.uniform(-1, 1, (k, n)).astype(np.float32))])
    folded, lines = _passes(m, True)
    assert lines == [] and _ops(folded) == ["MatMul", "Mul"]


def test_broadcasting_input_stays() -> None:
    # x's last dim 1 broadcast to K by the scale: the affine's result is not x's shape, nothing folds
    rng = np.random.default_rng(6)
    k, n = 8, 4
    nodes = [helper.make_node("Mul", ["x", "s"], ["a"], name="scale"),
             helper.make_node("MatMul", ["a", "w"], ["y"], name="fc")]
    m = model(nodes, [fvi("x", ["B", 1])], [fvi("y", ["B", n])],
              [init("s", rng.uniform(1, 2, k).astype(np.float32)),
               init("w", rng.uniform(-1, 1, (k, n)).astype(np.float32))])
    folded, lines = _passes(m, True)
    assert lines == [] and _ops(folded) == ["MatMul", "Mul"]


def _resmlp_block(rng, c: int = 32, t: int = 10, h: int = 64):
    """timm ResMLP's channel half: x + ls * fc2(gelu(fc1(x * alpha + beta)))."""
    def u(*s, lo=-1.0, hi=1.0):
        return rng.uniform(lo, hi, s).astype(np.float32)
    nodes = [helper.make_node("Mul", ["alpha", "x"], ["ax"], name="norm_mul"),
             helper.make_node("Add", ["beta", "ax"], ["a"], name="norm_add"),
             helper.make_node("MatMul", ["a", "w1"], ["m1"], name="fc1"),
             helper.make_node("Add", ["m1", "b1"], ["l1"], name="fc1_bias"),
             helper.make_node("Gelu", ["l1"], ["g"], name="gelu"),
             helper.make_node("MatMul", ["g", "w2"], ["m2"], name="fc2"),
             helper.make_node("Add", ["m2", "b2"], ["l2"], name="fc2_bias"),
             helper.make_node("Mul", ["ls", "l2"], ["s"], name="layer_scale"),
             helper.make_node("Add", ["x", "s"], ["y"], name="residual")]
    inits = [init("alpha", u(1, 1, c, lo=0.5, hi=1.5)), init("beta", u(1, 1, c, lo=-0.3, hi=0.3)),
             init("w1", u(c, h) / np.float32(np.sqrt(c))), init("b1", u(h, lo=-0.1, hi=0.1)),
             init("w2", u(h, c) / np.float32(np.sqrt(h))), init("b2", u(c, lo=-0.1, hi=0.1)), init("ls", u(c, lo=0.1, hi=0.5))]
    m = model(nodes, [fvi("x", ["B", t, c])], [fvi("y", ["B", t, c])], inits, opset=20)
    return m, rng.standard_normal((16, t, c)).astype(np.float32)


def test_int8_resmlp_block_has_no_float_affine_layers() -> None:
    from int8rt.data_calibrator import make_calibrator
    m, data = _resmlp_block(np.random.default_rng(7))
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        precision="int8", calibrator=make_calibrator({"x": data}, algorithm="minmax", batch_size=8)))
    # the affine folded into fc1, the layer scale into fc2 (lower_int8_linear.cc): only the residual Add, which
    # reads the float network input, runs in float32
    layers = [(layer["op"], layer["precision"]) for layer in engine.layers()]
    assert [layer["name"] for layer in engine.layers() if layer["precision"] == "fp32"] == ["residual"], layers
    assert [op for op, _ in layers].count("int8rt.QGemm") == 2, layers
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": data})["y"]
    out = engine.run({"x": data})["y"]
    assert np.corrcoef(out.ravel() - data.ravel(), fp32.ravel() - data.ravel())[0, 1] > 0.99
