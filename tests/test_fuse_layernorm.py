"""fuse_layernorm (csrc/graph/passes/fuse_layernorm.cc): the LayerNorm that
paddle2onnx writes out in primitive ops (PP-OCR rec's SVTR neck, opset 12:
ReduceMean(axes=[-1]) / Sub / Pow(2.0) / ReduceMean / Add(1e-5) / Sqrt / Div /
Mul(gamma) / Add(beta), behind a Reshape and a Transpose) becomes one
LayerNormalization; its FP32 output stays within a stated float bound of the
unfused graph's, and in an INT8 engine the neck no longer leaves int8 (no
Dequantize / Quantize pair around it)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt import _core, _testing  # noqa: E402
from int8rt.onnx import import_model  # noqa: E402
from onnx import helper  # noqa: E402

from onnx_models import fvi, init, model  # noqa: E402

C, T, H = 16, 8, 24
U = 2.0 ** -24  # float32 unit roundoff


def neck(square: str = "Pow", opset: int = 12) -> onnx.ModelProto:
    """Conv -> flatten -> Transpose -> decomposed LayerNorm -> MatMul + bias,
    the rec neck's exported shape (square: Pow(d, 2.0) or Mul(d, d))."""
    rng = np.random.default_rng(118)
    f32 = np.float32
    axes = [-1]
    inits = [
        init("w", rng.standard_normal((C, 3, 1, 1)).astype(f32) * 0.5),
        init("two", np.array(2.0, f32)),
        init("eps", np.array(1e-5, f32)),
        init("gamma", (rng.standard_normal(C) * 0.3 + 1).astype(f32)),
        init("beta", (rng.standard_normal(C) * 0.2).astype(f32)),
        init("shape", np.array([0, C, -1], np.int64)),
        init("fc_w", rng.standard_normal((C, H)).astype(f32) * 0.3),
        init("fc_b", rng.standard_normal(H).astype(f32) * 0.1),
    ]
    node = helper.make_node
    mean_kw = {"axes": axes} if opset < 18 else {}
    if opset >= 18:
        inits.append(init("axes", np.array(axes, np.int64)))
    mean_in = [] if opset < 18 else ["axes"]
    sq = (node("Pow", ["d", "two"], ["d2"], name="pow") if square == "Pow"
          else node("Mul", ["d", "d"], ["d2"], name="sq"))
    nodes = [
        node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
        node("Reshape", ["c", "shape"], ["flat"], name="flatten"),
        node("Transpose", ["flat"], ["t"], name="transpose", perm=[0, 2, 1]),
        node("ReduceMean", ["t"] + mean_in, ["m"], name="mean", **mean_kw),
        node("Sub", ["t", "m"], ["d"], name="sub"),
        sq,
        node("ReduceMean", ["d2"] + mean_in, ["v"], name="var", **mean_kw),
        node("Add", ["v", "eps"], ["ve"], name="add_eps"),
        node("Sqrt", ["ve"], ["s"], name="sqrt"),
        node("Div", ["d", "s"], ["n"], name="div"),
        node("Mul", ["n", "gamma"], ["ng"], name="mul_gamma"),
        node("Add", ["ng", "beta"], ["ln"], name="add_beta"),
        node("MatMul", ["ln", "fc_w"], ["mm"], name="fc"),
        node("Add", ["mm", "fc_b"], ["y"], name="fc_bias"),
    ]
    return model(nodes, [fvi("x", [2, 3, 1, T])], [fvi("y", [2, T, H])], inits, opset=opset)


def _ops(net: _core.Network) -> list[str]:
    return sorted(n["op"] for n in net.nodes())


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {"x": (rng.standard_normal((2, 3, 1, T)) * 2 + 0.5).astype(np.float32)}


@pytest.mark.parametrize("square,opset", [("Pow", 12), ("Mul", 12), ("Pow", 18)])
def test_decomposed_layernorm_fused_within_float_bound(square: str, opset: int) -> None:
    """The chain becomes one LayerNormalization (epsilon 1e-5 kept) and the
    network's output moves by at most a float32 rounding bound: each LN
    output element is within (C + 8) u |n| of the chain's (two means of C
    terms, a square root, a division, one Mul and Add), and the MatMul of C
    terms carries that through |fc_w|, so |dy| <= (C + 8) * 2u * sum|ln||fc_w|
    plus the MatMul's own 2 C u sum|ln||fc_w| on both sides."""
    net = import_model(neck(square, opset))
    feeds = _inputs()
    want = _testing.Executor(net).run(feeds)["y"]
    fused = pickle.loads(pickle.dumps(net))
    report = _testing.run_passes(fused)
    ops = _ops(fused)
    assert ops.count("LayerNormalization") == 1 and "Sqrt" not in ops and "ReduceMean" not in ops, ops
    assert "Pow" not in ops and "Div" not in ops and "Sub" not in ops, ops
    assert any("decomposed LayerNorm" in line for line in report["lines"]), report["lines"]
    ln = next(n for n in fused.nodes() if n["op"] == "LayerNormalization")
    assert np.float32(ln["attrs"]["epsilon"]) == np.float32(1e-5) and ln["attrs"]["axis"] == -1
    got = _testing.Executor(fused).run(feeds)["y"]
    off = pickle.loads(pickle.dumps(net))
    _testing.run_passes(off, {"fuse_layernorm": False})
    assert "Sqrt" in _ops(off)
    # |ln| <= sqrt(C) * |gamma| + |beta| per element (|n| <= sqrt(C)): bound sum|ln||fc_w| by it.
    params = {i.name: onnx.numpy_helper.to_array(i) for i in neck(square, opset).graph.initializer}
    ln_max = np.sqrt(C) * np.abs(params["gamma"]).max() + np.abs(params["beta"]).max()
    s = ln_max * np.abs(params["fc_w"]).sum(axis=0)     # per output column
    bound = ((C + 8) * 2 * U + 4 * C * U) * s
    assert np.all(np.abs(got - want) <= bound), (np.abs(got - want).max(), bound.min())
    assert not np.array_equal(got, np.zeros_like(got))


def test_variants_that_are_not_a_layernorm_stay() -> None:
    """Mean over another axis, or the centred value read outside the chain:
    no fusion (the rewrite would change what the graph computes)."""
    m = neck()
    for n in m.graph.node:
        if n.name == "var":
            del n.attribute[:]
            n.attribute.append(helper.make_attribute("axes", [1]))
    net = import_model(m)
    _testing.run_passes(net)
    assert "LayerNormalization" not in _ops(net)
    m = neck()
    m.graph.output.append(fvi("d", [2, T, C]))
    net = import_model(m)
    _testing.run_passes(net)
    assert "LayerNormalization" not in _ops(net) and "Sqrt" in _ops(net)


def _converts(native) -> list:
    return list(int8rt.Engine(native).int8_plan().converts)


def test_int8_neck_has_no_float_island() -> None:
    """INT8 engine with calibrated scales: unfused, the LN chain runs in float
    behind a Dequantize and the MatMul reads it through a Quantize; fused,
    the LayerNorm reads the Transpose's int8 rows and writes int8 for the
    MatMul, so fewer conversions remain and none is next to the LayerNorm."""
    net = import_model(neck())
    scales = {"x": 0.04, "c": 0.05, "flat": 0.05, "t": 0.05, "ln": 0.03}
    before_net = pickle.loads(pickle.dumps(net))
    _testing.run_passes(before_net, {"fuse_layernorm": False})
    before = _converts(_core.Builder(before_net, "int8", {}, False).build(scales))
    after = _converts(_core.Builder(net, "int8", {}, True).build(scales))
    assert len(after) < len(before), (before, after)
    assert not any(c.tensor in ("t", "ln") for c in after), after
    assert any(c.tensor in ("t", "ln") for c in before), before
