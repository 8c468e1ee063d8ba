"""Graph passes (csrc/graph/passes) checked numerically: each network is run
in float32 before and after ``_testing.run_passes`` and the outputs compared.

Where a pass only moves an operation (activation fused into the Conv/Gemm
epilogue, Q/DQ pass-through, weight DequantizeLinear folding) the arithmetic
is the same and outputs are compared with ``==``. Where it changes the
arithmetic (BatchNormalization folded into the weights, horizontal merging
into a differently blocked GEMM, residual add in the epilogue) the bound is a
float32 dot-product error bound: every computation is a sum of at most K + 4
terms whose magnitudes sum to at most S, so each side is within
(K + 4) * 2**-24 * S of the exact value, and the two within twice that.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt import _core, _testing

U = 2.0 ** -24  # float32 unit roundoff


def _copy(net: _core.Network) -> _core.Network:
    return pickle.loads(pickle.dumps(net))


def _run(net: _core.Network, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return _testing.Executor(net).run(feeds)


def _ops(net: _core.Network) -> list[str]:
    return sorted(n["op"] for n in net.nodes())


def _bound(k: int, s: float) -> float:
    return 2 * (k + 4) * U * s


def _conv_bn_relu(rng: np.random.Generator) -> tuple[_core.Network, dict, float]:
    c, m = 3, 6
    net = _core.Network()
    x = net.add_input("x", [-1, c, 7, 7])
    w = rng.uniform(-1, 1, (m, c, 3, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, m).astype(np.float32)
    conv = net.add_convolution(x, m, [3, 3], w, b, pads=[1, 1, 1, 1], name="conv1")
    gamma = rng.uniform(0.5, 2, m).astype(np.float32)
    beta = rng.uniform(-1, 1, m).astype(np.float32)
    mean = rng.uniform(-1, 1, m).astype(np.float32)
    var = rng.uniform(0.1, 2, m).astype(np.float32)
    ids = [net.add_constant(f"bn_{k}", v) for k, v in
           (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
    bn = net.add_node("BatchNormalization", "bn1", [conv, *ids], {"epsilon": 1e-5}, ["bn1_out"])[0]
    net.mark_output(net.add_node("Relu", "relu1", [bn], {}, ["y"])[0])
    feeds = {"x": rng.uniform(-1, 1, (2, c, 7, 7)).astype(np.float32)}
    f = np.abs(gamma.astype(np.float64)) / np.sqrt(var.astype(np.float64) + 1e-5)
    s = f.max() * (c * 9 * 1.0 * np.abs(w).max() + np.abs(b).max() + np.abs(mean).max()) + np.abs(beta).max()
    return net, feeds, _bound(c * 9, s)


def test_conv_bn_relu_fused_into_one_conv_within_bound() -> None:
    net, feeds, tol = _conv_bn_relu(np.random.default_rng(1))
    ref = _run(net, feeds)["y"]
    fused = _copy(net)
    report = _testing.run_passes(fused, {})
    assert _ops(fused) == ["Conv"]
    assert report["lines"] == ["folded BatchNormalization 'bn1' into Conv 'conv1'",
                               "fused Relu 'relu1' into Conv 'conv1'"]
    got = _run(fused, feeds)["y"]
    assert np.abs(got - ref).max() <= tol, (np.abs(got - ref).max(), tol)


def test_activation_fusion_alone_is_bit_exact() -> None:
    rng = np.random.default_rng(2)
    net = _core.Network()
    x = net.add_input("x", [-1, 4])
    g = net.add_fully_connected(x, 5, rng.uniform(-1, 1, (5, 4)).astype(np.float32),
                                rng.uniform(-1, 1, 5).astype(np.float32), name="fc")
    net.mark_output(net.add_activation(g, "Clip", -0.25, 0.5, name="clip"))
    c = net.add_convolution(net.add_node("Reshape", "r", [x, net.add_constant(
        "shape", np.array([-1, 1, 2, 2], np.int64))], {}, ["x4"])[0], 3, [1, 1],
        rng.uniform(-1, 1, (3, 1, 1, 1)).astype(np.float32), name="c")
    net.mark_output(net.add_activation(c, "Relu", name="relu"))
    feeds = {"x": rng.uniform(-2, 2, (3, 4)).astype(np.float32)}
    ref = _run(net, feeds)
    fused = _copy(net)
    _testing.run_passes(fused, {})
    assert _ops(fused) == ["Conv", "Gemm", "Reshape"]
    got = _run(fused, feeds)
    assert ref.keys() == got.keys()
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)


def test_gemm_bn_folding_both_transposes_within_bound() -> None:
    for trans_b in (0, 1):
        rng = np.random.default_rng(3 + trans_b)
        k, n = 8, 5
        net = _core.Network()
        x = net.add_input("x", [-1, k])
        w = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(np.float32)
        cb = rng.uniform(-1, 1, n).astype(np.float32)
        g = net.add_node("Gemm", "fc", [x, net.add_constant("W", w), net.add_constant("C", cb)],
                         {"transB": trans_b, "beta": 0.5}, ["fc_out"])[0]
        gamma, beta, mean = (rng.uniform(-1, 1, n).astype(np.float32) for _ in range(3))
        var = rng.uniform(0.1, 2, n).astype(np.float32)
        ids = [net.add_constant(f"p{i}", v) for i, v in enumerate((gamma, beta, mean, var))]
        net.mark_output(net.add_node("BatchNormalization", "bn", [g, *ids], {}, ["y"])[0])
        feeds = {"x": rng.uniform(-1, 1, (4, k)).astype(np.float32)}
        ref = _run(net, feeds)["y"]
        fused = _copy(net)
        _testing.run_passes(fused, {})
        assert _ops(fused) == ["Gemm"]
        f = np.abs(gamma.astype(np.float64)) / np.sqrt(var.astype(np.float64) + 1e-5)
        s = f.max() * (k * np.abs(w).max() + np.abs(cb).max() + np.abs(mean).max()) + np.abs(beta).max()
        err = np.abs(_run(fused, feeds)["y"] - ref).max()
        assert err <= _bound(k, s), (trans_b, err, _bound(k, s))


def _siblings(rng: np.random.Generator, concat: bool) -> tuple[_core.Network, dict, float]:
    c = 5
    net = _core.Network()
    x = net.add_input("x", [-1, c, 4, 4])
    outs = []
    wmax = 0.0
    for i, m in enumerate((3, 4, 2)):
        w = rng.uniform(-1, 1, (m, c, 1, 1)).astype(np.float32)
        wmax = max(wmax, float(np.abs(w).max()))
        conv = net.add_convolution(x, m, [1, 1], w, rng.uniform(-1, 1, m).astype(np.float32), name=f"b{i}")
        outs.append(net.add_activation(conv, "Relu", name=f"relu{i}"))
    if concat:
        net.mark_output(net.add_concatenation(outs, 1, name="cat"))
    else:
        net.mark_output(net.add_activation(outs[0], "Sigmoid", name="sig"))
        net.mark_output(outs[1])
        net.mark_output(outs[2])
    feeds = {"x": rng.uniform(-1, 1, (2, c, 4, 4)).astype(np.float32)}
    return net, feeds, _bound(c, c * wmax + 1.0)


@pytest.mark.parametrize("concat", [True, False])
def test_horizontal_fusion_within_bound(concat: bool) -> None:
    net, feeds, tol = _siblings(np.random.default_rng(5), concat)
    ref = _run(net, feeds)
    fused = _copy(net)
    report = _testing.run_passes(fused, {"fuse_horizontal_split": True})
    assert any(line.startswith("merged 1x1 Convs 'b0', 'b1', 'b2'") for line in report["lines"]), report
    assert _ops(fused).count("Conv") == 1
    assert ("Split" in _ops(fused)) != concat
    got = _run(fused, feeds)
    assert ref.keys() == got.keys()
    for name in ref:  # Relu and Sigmoid (slope <= 1/4) do not enlarge the error
        assert np.abs(got[name] - ref[name]).max() <= tol, name


def test_residual_fusion_within_bound() -> None:
    rng = np.random.default_rng(6)
    c = 4
    net = _core.Network()
    x = net.add_input("x", [-1, c, 5, 5])
    skip = net.add_node("Relu", "pre", [x], {}, ["skip"])[0]
    net.set_shape(skip, [-1, c, 5, 5])
    w = rng.uniform(-1, 1, (c, c, 3, 3)).astype(np.float32)
    conv = net.add_convolution(skip, c, [3, 3], w, rng.uniform(-1, 1, c).astype(np.float32),
                               pads=[1, 1, 1, 1], name="conv")
    net.set_shape(conv, [-1, c, 5, 5])
    add = net.add_node("Add", "add", [skip, conv], {}, ["sum"])[0]
    net.set_shape(add, [-1, c, 5, 5])
    net.mark_output(net.add_node("Relu", "relu", [add], {}, ["y"])[0])
    feeds = {"x": rng.uniform(-1, 1, (2, c, 5, 5)).astype(np.float32)}
    ref = _run(net, feeds)["y"]
    fused = _copy(net)
    _testing.run_passes(fused, {"fuse_residual": True})
    assert _ops(fused) == ["Conv", "Relu"]
    err = np.abs(_run(fused, feeds)["y"] - ref).max()
    assert err <= _bound(c * 9 + 1, c * 9 + 2.0), err


def test_qdq_pairs_become_hints_and_weights_fold_exactly() -> None:
    rng = np.random.default_rng(7)
    q = rng.integers(-127, 128, (3, 2, 1, 1)).astype(np.int8)
    scales = np.array([0.02, 0.05, 0.125], np.float32)
    zps = np.array([0, 3, -2], np.int8)
    net = _core.Network()
    x = net.add_input("x", [-1, 2, 3, 3])
    s = net.add_constant("s", np.array(0.0625, np.float32))
    z = net.add_constant("z", np.array(0, np.int8))
    xq = net.add_node("QuantizeLinear", "q", [x, s, z], {}, ["xq"])[0]
    xd = net.add_node("DequantizeLinear", "dq", [xq, s, z], {}, ["xd"])[0]
    wd = net.add_node("DequantizeLinear", "dq_w", [net.add_constant("wq", q), net.add_constant("ws", scales),
                                                   net.add_constant("wz", zps)], {"axis": 0}, ["w"])[0]
    net.mark_output(net.add_node("Conv", "conv", [xd, wd], {}, ["y"])[0])
    report = _testing.run_passes(net, {})
    assert report["calibration_hints"] == {"x": np.float32(0.0625)}
    assert _ops(net) == ["Conv"]
    # Reference: the same Conv over float weights computed as ONNX defines them.
    w = (q.astype(np.int64) - zps.reshape(3, 1, 1, 1)).astype(np.float32) * scales.reshape(3, 1, 1, 1)
    ref_net = _core.Network()
    xr = ref_net.add_input("x", [-1, 2, 3, 3])
    ref_net.mark_output(ref_net.add_node("Conv", "conv", [xr, ref_net.add_constant("w", w)], {}, ["y"])[0])
    feeds = {"x": rng.uniform(-1, 1, (2, 2, 3, 3)).astype(np.float32)}
    np.testing.assert_array_equal(_run(net, feeds)["y"], _run(ref_net, feeds)["y"])
    folded = net.constant_data(net.find_tensor("w"))
    np.testing.assert_array_equal(folded, w)


def test_unknown_option_is_a_clear_error() -> None:
    net, _, _ = _conv_bn_relu(np.random.default_rng(8))
    with pytest.raises(_core.InvalidArgumentError, match="unknown option 'fuse_everything'"):
        _testing.run_passes(net, {"fuse_everything": True})


@pytest.mark.parametrize("fuse_residual", [False, True])
def test_shipped_digits_model_keeps_outputs_and_names(fuse_residual: bool) -> None:
    pytest.importorskip("onnx")
    import int8rt.onnx

    data = Path(int8rt.__file__).parent / "data"
    net = int8rt.onnx.import_model(str(data / "digits_cnn.onnx"))
    x = np.load(data / "digits.npz")["test_x"]
    ref = _run(net, {"input": x})["logits"]
    fused = _copy(net)
    report = _testing.run_passes(fused, {"fuse_residual": fuse_residual})
    ops = _ops(fused)
    assert "BatchNormalization" not in ops and ops.count("Relu") == (0 if fuse_residual else 1)
    assert ("Add" in ops) != fuse_residual
    assert sum(line.startswith("folded BatchNormalization") for line in report["lines"]) == 7
    before = {t["name"] for t in net.tensors()}
    assert all(t["name"] in before for t in fused.tensors() if not t["is_constant"])
    got = _run(fused, {"input": x})["logits"]
    # Only rounding changes: per folded layer at most (K + 4) * 2**-24 of the
    # magnitude sum, K <= 48 * 9; over the 8 weighted layers that stays far
    # below 1e-4 of the logits' scale (observed: about 4e-7).
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))


def _pad_conv(rng: np.random.Generator, pads: list[int], value: float = 0.0,
              mode: str = "constant") -> tuple[_core.Network, dict]:
    net = _core.Network()
    x = net.add_input("x", [-1, 3, 7, 6])
    inputs = [x, net.add_constant("pads", np.array(pads, np.int64))]
    if value is not None:
        inputs.append(net.add_constant("value", np.array([value], np.float32)))
    p = net.add_node("Pad", "pad", inputs, {"mode": mode}, ["padded"])[0]
    w = rng.integers(-3, 4, (4, 3, 3, 3)).astype(np.float32)
    c = net.add_convolution(p, 4, [3, 3], w, rng.integers(-2, 3, 4).astype(np.float32), pads=[1, 0, 0, 1],
                            name="conv")
    net.mark_output(net.add_activation(c, "Relu", name="relu"))
    return net, {"x": rng.integers(-4, 5, (2, 3, 7, 6)).astype(np.float32)}


def test_zero_pad_folds_into_the_conv_exactly() -> None:
    # Small integers: every sum is exact, so the folded conv must give == results.
    rng = np.random.default_rng(7)
    for pads in ([0, 0, 1, 2, 0, 0, 3, 0], [0, 0, 0, 1, 0, 0, 0, 1]):
        net, feeds = _pad_conv(rng, pads)
        ref = _run(net, feeds)[net.tensor(net.outputs()[0])["name"]]
        folded = _copy(net)
        report = _testing.run_passes(folded, {})
        assert _ops(folded) == ["Conv"], _ops(folded)
        assert report["lines"][0] == "folded Pad 'pad' into the padding of Conv 'conv'"
        conv = [n for n in folded.nodes() if n["op"] == "Conv"][0]
        assert list(conv["attrs"]["pads"]) == [1 + pads[2], pads[3], pads[6], 1 + pads[7]]
        got = _run(folded, feeds)[folded.tensor(folded.outputs()[0])["name"]]
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("pads,value,mode", [
    ([0, 1, 0, 0, 0, 0, 0, 0], 0.0, "constant"),   # channel padding changes C
    ([0, 0, 1, 1, 0, 0, 1, 1], 1.5, "constant"),   # non-zero pad value
    ([0, 0, 1, 1, 0, 0, 1, 1], 0.0, "reflect"),
    ([0, 0, -1, 0, 0, 0, 0, 0], 0.0, "constant"),  # negative pads crop
])
def test_pads_that_are_not_zero_padding_stay(pads: list[int], value: float, mode: str) -> None:
    net, _ = _pad_conv(np.random.default_rng(8), pads, value, mode)
    folded = _copy(net)
    _testing.run_passes(folded, {})
    assert "Pad" in _ops(folded)


def test_int8_engine_has_no_float_island_at_a_folded_pad() -> None:
    # Conv -> Relu -> Pad -> Conv: before folding, the INT8 engine left int8 for
    # the Pad (Dequantize, float32 Pad, Quantize); now the second Conv reads int8.
    from onnx import helper
    from int8rt.data_calibrator import make_calibrator
    from onnx_models import fvi, init, model
    rng = np.random.default_rng(9)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Pad", ["r1", "pads"], ["p1"]),
             helper.make_node("Conv", ["p1", "w2"], ["y"], kernel_shape=[3, 3], strides=[2, 2])]
    m = model(nodes, [fvi("x", ["N", 3, 16, 16])], [fvi("y", ["N", 8, 8, 8])],
              [init("w1", rng.standard_normal((8, 3, 3, 3)).astype(np.float32)),
               init("w2", rng.standard_normal((8, 8, 3, 3)).astype(np.float32)),
               init("pads", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64))])
    data = rng.standard_normal((8, 3, 16, 16)).astype(np.float32)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(
        precision="int8", calibrator=make_calibrator({"x": data}, algorithm="minmax", batch_size=8)))
    # the second Conv, the network output, writes float32 (lower_int8_conv_head.cc): then only
    # its Transpose to NCHW, no Dequantize
    layers = [(layer["op"], layer["precision"]) for layer in engine.layers()]
    assert layers == [("int8rt.Quantize", "convert"), ("int8rt.QConv", "int8"), ("int8rt.QConv", "int8"),
                      ("Transpose", "fp32")], engine.layers()
    fp32 = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).run({"x": data})["y"]
    assert np.corrcoef(engine.run({"x": data})["y"].ravel(), fp32.ravel())[0, 1] > 0.99


def _conv_affine_chain(rng: np.random.Generator) -> tuple[_core.Network, dict, float]:
    """Conv -> Mul (per channel) -> Add (one value) -> Sub (per channel) -> Div (per channel)."""
    c, m = 3, 4
    net = _core.Network()
    x = net.add_input("x", [-1, c, 6, 6])
    w = rng.uniform(-1, 1, (m, c, 3, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, m).astype(np.float32)
    y = net.add_convolution(x, m, [3, 3], w, b, pads=[1, 1, 1, 1], name="conv")
    t_mul = rng.uniform(0.5, 2, (1, m, 1, 1)).astype(np.float32)
    t_add = np.array([0.75], np.float32)
    t_sub = rng.uniform(-1, 1, (m, 1, 1)).astype(np.float32)
    t_div = rng.uniform(0.5, 2, (m, 1, 1)).astype(np.float32)
    for op, t in (("Mul", t_mul), ("Add", t_add), ("Sub", t_sub), ("Div", t_div)):
        y = net.add_node(op, op.lower(), [y, net.add_constant(f"t_{op}", t)], {}, [f"{op}_out"])[0]
    net.mark_output(y)
    feeds = {"x": rng.uniform(-1, 1, (2, c, 6, 6)).astype(np.float32)}
    s = (np.abs(t_mul).max() * (c * 9 * np.abs(w).max() + np.abs(b).max()) + 0.75
         + np.abs(t_sub).max()) / np.abs(t_div).min()
    return net, feeds, _bound(c * 9 + 8, float(s))


def test_constant_scale_and_bias_fold_into_the_conv_within_bound() -> None:
    net, feeds, tol = _conv_affine_chain(np.random.default_rng(11))
    ref = _run(net, feeds)["Div_out"]
    folded = _copy(net)
    report = _testing.run_passes(folded, {})
    assert _ops(folded) == ["Conv"]
    assert report["lines"] == [f"folded {op} '{op.lower()}' by a constant into Conv 'conv'"
                               for op in ("Mul", "Add", "Sub", "Div")]
    assert [folded.tensor(t)["name"] for t in folded.outputs()] == ["Div_out"]
    err = np.abs(_run(folded, feeds)["Div_out"] - ref).max()
    assert err <= tol, (err, tol)
    kept = _copy(net)
    _testing.run_passes(kept, {"fold_scale_bias": False})
    assert _ops(kept) == ["Add", "Conv", "Div", "Mul", "Sub"]


def test_gemm_reversed_sub_folds_within_bound() -> None:
    rng = np.random.default_rng(12)
    k, n = 6, 5
    net = _core.Network()
    x = net.add_input("x", [-1, k])
    w = rng.uniform(-1, 1, (n, k)).astype(np.float32)
    g = net.add_fully_connected(x, n, w, None, name="fc")
    t = rng.uniform(-1, 1, (1, n)).astype(np.float32)
    net.mark_output(net.add_node("Sub", "rsub", [net.add_constant("t", t), g], {}, ["y"])[0])
    feeds = {"x": rng.uniform(-1, 1, (3, k)).astype(np.float32)}
    ref = _run(net, feeds)["y"]
    folded = _copy(net)
    _testing.run_passes(folded, {})
    assert _ops(folded) == ["Gemm"]
    err = np.abs(_run(folded, feeds)["y"] - ref).max()
    assert err <= _bound(k + 4, k * np.abs(w).max() + 1.0), err


@pytest.mark.parametrize("case", ["spatial", "zero_div", "reversed_div", "also_output", "nonfinite"])
def test_scale_bias_that_is_not_per_channel_stays(case: str) -> None:
    rng = np.random.default_rng(13)
    net = _core.Network()
    x = net.add_input("x", [-1, 2, 4, 4])
    conv = net.add_convolution(x, 3, [1, 1], rng.uniform(-1, 1, (3, 2, 1, 1)).astype(np.float32),
                               name="conv")
    t = {"spatial": np.ones((1, 1, 1, 4), np.float32),
         "zero_div": np.array([1, 0, 2], np.float32).reshape(3, 1, 1),
         "nonfinite": np.array([1, np.inf, 2], np.float32).reshape(3, 1, 1)}.get(
             case, np.full((3, 1, 1), 2, np.float32))
    op = {"spatial": "Mul", "nonfinite": "Mul"}.get(case, "Div")
    ins = [net.add_constant("t", t), conv] if case == "reversed_div" else [conv, net.add_constant("t", t)]
    net.mark_output(net.add_node(op, "op", ins, {}, ["y"])[0])
    if case == "also_output":
        net.mark_output(conv)
    _testing.run_passes(net, {})
    assert _ops(net) == sorted(["Conv", op])


def _movement_net(first: str, second: str, p1=None, p2=None, s1=None, s2=None, extra_reader=False):
    net = _core.Network()
    x = net.add_input("x", [-1, 3, 4, 5])
    a = (net.add_node("Transpose", "t1", [x], {"perm": p1}, ["a"]) if first == "Transpose" else
         net.add_node("Reshape", "r1", [x, net.add_constant("s1", np.array(s1, np.int64))], {}, ["a"]))[0]
    y = (net.add_node("Transpose", "t2", [a], {"perm": p2}, ["y"]) if second == "Transpose" else
         net.add_node("Reshape", "r2", [a, net.add_constant("s2", np.array(s2, np.int64))], {}, ["y"]))[0]
    net.mark_output(net.add_node("Relu", "relu", [y], {}, ["out"])[0])
    if extra_reader:
        net.mark_output(net.add_node("Relu", "relu_a", [a], {}, ["out_a"])[0])
    return net


@pytest.mark.parametrize("kind,args,ops_after", [
    ("cancel", dict(first="Transpose", second="Transpose", p1=[0, 2, 3, 1], p2=[0, 3, 1, 2]), ["Relu"]),
    ("merge", dict(first="Transpose", second="Transpose", p1=[0, 2, 3, 1], p2=[1, 0, 2, 3]), ["Relu", "Transpose"]),
    ("reshape", dict(first="Reshape", second="Reshape", s1=[-1, 60], s2=[-1, 5, 12]), ["Relu", "Reshape"]),
    ("zero_kept", dict(first="Reshape", second="Reshape", s1=[-1, 12, 5], s2=[0, 5, 12]), ["Relu", "Reshape", "Reshape"]),
    ("two_readers", dict(first="Transpose", second="Transpose", p1=[0, 2, 3, 1], p2=[0, 3, 1, 2], extra_reader=True),
     ["Relu", "Relu", "Transpose", "Transpose"]),
])
def test_data_movement_chains_merge_exactly(kind: str, args: dict, ops_after: list) -> None:
    net = _movement_net(**args)
    feeds = {"x": np.random.default_rng(14).standard_normal((2, 3, 4, 5)).astype(np.float32)}
    ref = _run(net, feeds)
    merged = _copy(net)
    _testing.run_passes(merged, {})
    assert _ops(merged) == sorted(ops_after), kind
    got = _run(merged, feeds)
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=f"{kind} {name}")


def _gelu_chain(grouping: str, divisor: float = 1.4142135381698608, extra_reader: bool = False) -> _core.Network:
    """x -> Div(sqrt 2) (or Mul 1/sqrt 2) -> Erf -> Add 1 -> Mul x -> Mul 0.5,
    the two Muls grouped as `grouping` ("x*a*h": (x * a) * 0.5, torch's
    nn.GELU; "x*h*a": (x * 0.5) * a, HuggingFace's gelu; "mul": the scaling
    as Mul by 1/sqrt 2, constants first)."""
    net = _core.Network()
    x = net.add_input("x", [-1, 6])
    c = lambda name, v: net.add_constant(name, np.array(v, np.float32))  # noqa: E731
    if grouping == "mul":
        d = net.add_node("Mul", "scale", [c("r2", 0.7071067811865476), x], {}, ["d"])[0]
    else:
        d = net.add_node("Div", "scale", [x, c("s2", divisor)], {}, ["d"])[0]
    e = net.add_node("Erf", "erf", [d], {}, ["e"])[0]
    a = net.add_node("Add", "add", [c("one", 1.0), e], {}, ["a"])[0]
    if grouping == "x*h*a":
        h = net.add_node("Mul", "half", [x, c("half", 0.5)], {}, ["h"])[0]
        y = net.add_node("Mul", "mul", [h, a], {}, ["y"])[0]
    else:
        m = net.add_node("Mul", "mul1", [a, x], {}, ["m"])[0]
        y = net.add_node("Mul", "mul2", [c("half", 0.5), m], {}, ["y"])[0]
    net.mark_output(y)
    if extra_reader:
        net.mark_output(net.add_node("Relu", "other", [e], {}, ["e_relu"])[0])
    return net


@pytest.mark.parametrize("grouping", ["x*a*h", "x*h*a", "mul"])
def test_gelu_chain_fuses_into_one_gelu_within_bound(grouping: str) -> None:
    """The five nodes become one Gelu writing y. The Gelu layer multiplies by
    1/sqrt 2 where the graph may divide by sqrt 2: erf's argument can differ
    by one rounding (|d| * 2**-23), erf' <= 2/sqrt(pi), and the remaining
    operations round alike, so |y - y_fused| <= |x|/2 * (2/sqrt(pi)) *
    |d| * 2**-23 + 2 ulp(y) (erf_f32's own rounding near the differing argument)."""
    rng = np.random.default_rng(31)
    net = _gelu_chain(grouping)
    feeds = {"x": rng.standard_normal((50, 6)).astype(np.float32) * 3}
    ref = _run(net, feeds)["y"]
    fused = _copy(net)
    _testing.run_passes(fused, {})
    assert _ops(fused) == ["Gelu"]
    got = _run(fused, feeds)["y"]
    x = feeds["x"].astype(np.float64)
    bound = np.abs(x) / 2 * (2 / np.sqrt(np.pi)) * np.abs(x / np.sqrt(2)) * 2.0 ** -23 \
        + 2 * np.spacing(np.abs(ref)).astype(np.float64)
    assert (np.abs(got.astype(np.float64) - ref) <= bound).all()
    unfused = _copy(net)
    _testing.run_passes(unfused, {"fuse_gelu": False})
    assert "Erf" in _ops(unfused)


@pytest.mark.parametrize("case", ["wrong_constant", "shared_intermediate"])
def test_gelu_like_chains_that_are_not_gelu_stay(case: str) -> None:
    net = _gelu_chain("x*a*h", divisor=1.5) if case == "wrong_constant" else _gelu_chain("x*a*h", extra_reader=True)
    _testing.run_passes(net, {})
    assert "Erf" in _ops(net) and "Gelu" not in _ops(net)


def _tanh_gelu_chain(spelling: str, k: float = 0.044715, extra_reader: bool = False) -> _core.Network:
    """The tanh GELU in eight nodes: "gpt2": HuggingFace's NewGELUActivation
    as GPT-2's dynamo export writes it, (x * 0.5) * (1 + tanh(c (x + k Pow(x, 3))));
    "cube_last": x * x * x for the cube, constants first, and (x * a) * 0.5."""
    net = _core.Network()
    x = net.add_input("x", [-1, 6])
    c = lambda name, v: net.add_constant(name, np.array(v, np.float32))  # noqa: E731
    if spelling == "gpt2":
        h = net.add_node("Mul", "half", [x, c("half", 0.5)], {}, ["h"])[0]
        cube = net.add_node("Pow", "pow", [x, c("three", 3.0)], {}, ["cube"])[0]
        kc = net.add_node("Mul", "k", [cube, c("k", k)], {}, ["kc"])[0]
        s = net.add_node("Add", "add", [x, kc], {}, ["s"])[0]
        u = net.add_node("Mul", "scale", [s, c("c", 0.7978845608028654)], {}, ["u"])[0]
    else:
        sq = net.add_node("Mul", "sq", [x, x], {}, ["sq"])[0]
        cube = net.add_node("Mul", "cube", [x, sq], {}, ["cube"])[0]
        kc = net.add_node("Mul", "k", [c("k", k), cube], {}, ["kc"])[0]
        s = net.add_node("Add", "add", [kc, x], {}, ["s"])[0]
        u = net.add_node("Mul", "scale", [c("c", 0.7978845608028654), s], {}, ["u"])[0]
    t = net.add_node("Tanh", "tanh", [u], {}, ["t"])[0]
    a = net.add_node("Add", "one", [c("one", 1.0), t], {}, ["a"])[0]
    if spelling == "gpt2":
        y = net.add_node("Mul", "mul", [h, a], {}, ["y"])[0]
    else:
        m = net.add_node("Mul", "mul1", [x, a], {}, ["m"])[0]
        y = net.add_node("Mul", "mul2", [m, c("half", 0.5)], {}, ["y"])[0]
    net.mark_output(y)
    if extra_reader:
        net.mark_output(net.add_node("Relu", "other", [s], {}, ["s_relu"])[0])
    return net


@pytest.mark.parametrize("spelling", ["gpt2", "cube_last"])
def test_tanh_gelu_chain_fuses_into_one_gelu_tanh_within_bound(spelling: str) -> None:
    """The eight (nine) nodes become one Gelu(approximate="tanh") writing y.
    The layer forms ((0.044715 x) x) x where the graph rounds x^3 first:
    k x^3 differs by at most 4 roundings (|k x^3| 2**-21), tanh's argument by
    c times that, tanh' <= 1, and tanh_f32 (1.7 ulp) and the remaining
    operations round at most 2**-21 apart on values <= 2 in magnitude, so
    |y - y_fused| <= |x|/2 * (c |k x^3| 2**-21 + 2**-20) + 2 ulp(y)."""
    rng = np.random.default_rng(37)
    net = _tanh_gelu_chain(spelling)
    x32 = np.concatenate([rng.standard_normal((50, 6)) * 3, rng.uniform(-0.01, 0.01, (10, 6))]).astype(np.float32)
    feeds = {"x": x32}
    ref = _run(net, feeds)["y"]
    fused = _copy(net)
    _testing.run_passes(fused, {})
    assert _ops(fused) == ["Gelu"]
    got = _run(fused, feeds)["y"]
    x = x32.astype(np.float64)
    c = 0.7978845608028654
    bound = np.abs(x) / 2 * (c * np.abs(0.044715 * x ** 3) * 2.0 ** -21 + 2.0 ** -20) \
        + 2 * np.spacing(np.abs(ref)).astype(np.float64)
    assert (np.abs(got.astype(np.float64) - ref) <= bound).all()
    # the exact GELU would not pass: the fused node is the tanh form
    exact = 0.5 * x * (1 + np.vectorize(__import__("math").erf)(x / np.sqrt(2)))
    assert not (np.abs(got.astype(np.float64) - exact) <= bound).all()
    unfused = _copy(net)
    _testing.run_passes(unfused, {"fuse_gelu": False})
    assert "Tanh" in _ops(unfused)


@pytest.mark.parametrize("case", ["wrong_constant", "shared_intermediate"])
def test_tanh_gelu_like_chains_that_are_not_gelu_stay(case: str) -> None:
    net = _tanh_gelu_chain("gpt2", k=0.05) if case == "wrong_constant" else _tanh_gelu_chain("gpt2", extra_reader=True)
    _testing.run_passes(net, {})
    assert "Tanh" in _ops(net) and "Gelu" not in _ops(net)


def test_duplicate_nodes_merged_and_bit_exact() -> None:
    """merge_duplicates: HuggingFace gives each attention layer its own copy
    of the mask arithmetic (a Where over the same mask with equal constants
    of its own). The copies merge into one node (constants compared by
    value), their readers read the first; a node whose constant differs, a
    node on other inputs and a network output stay. Outputs are == (the
    same operation on the same values)."""
    net = _core.Network()
    mask = net.add_input("mask", [-1, 6], "bool")
    x = net.add_input("x", [-1, 6])
    wheres = []
    for layer, low in enumerate((-1e9, -1e9, -1e9, -5.0)):
        zero = net.add_constant(f"zero_{layer}", np.array(0.0, np.float32))
        neg = net.add_constant(f"neg_{layer}", np.array(low, np.float32))
        wheres.append(net.add_node("Where", f"where_{layer}", [mask, zero, neg], {}, [f"m_{layer}"])[0])
    sums = [net.add_elementwise(x, w, "Add", name=f"add_{k}") for k, w in enumerate(wheres)]
    other = net.add_activation(x, "Sigmoid", name="sig_a")
    twin = net.add_activation(x, "Sigmoid", name="sig_b")   # the same as sig_a: merged
    tanh = net.add_activation(x, "Tanh", name="tanh")       # other op: kept
    for t in sums + [net.add_elementwise(other, twin, "Mul", name="mul"), tanh]:
        net.mark_output(t)
    rng = np.random.default_rng(9)
    feeds = {"mask": rng.random((3, 6)) < 0.5, "x": rng.standard_normal((3, 6)).astype(np.float32)}
    want = _run(net, feeds)
    merged = _copy(net)
    report = _testing.run_passes(merged)
    ops = _ops(merged)
    assert ops.count("Where") == 2, ops      # three equal copies -> one; the -5 one stays
    assert ops.count("Sigmoid") == 1 and ops.count("Tanh") == 1, ops
    assert sum("merged duplicate" in line for line in report["lines"]) == 3, report
    got = _run(merged, feeds)
    assert set(got) == set(want)
    for name in want:
        assert np.array_equal(got[name], want[name]), name


def test_add_layernorm_fused_and_bit_exact() -> None:
    """fuse_add_layernorm: Add -> LayerNormalization becomes one LayerNorm
    that normalises the sum itself. Post-LN (the sum read only by the LN),
    pre-LN (the sum also read by the next residual Add and a network output:
    the fused node writes it too) and a broadcasting Add (a [6] bias) all
    fuse; the outputs are == the unfused network's, since the same float
    additions and the same normalisation run."""
    rng = np.random.default_rng(12)
    net = _core.Network()
    x = net.add_input("x", [-1, 5, 6])
    r = net.add_input("r", [-1, 5, 6])
    params = {k: net.add_constant(k, rng.standard_normal(6).astype(np.float32)) for k in ("g1", "b1", "g2", "g3", "bias")}
    s1 = net.add_elementwise(x, r, "Add", name="post_add")                        # read once
    y1 = net.add_node("LayerNormalization", "ln1", [s1, params["g1"], params["b1"]], {"axis": -1}, ["y1"])[0]
    s2 = net.add_elementwise(y1, r, "Add", name="pre_add")                         # read again below
    y2 = net.add_node("LayerNormalization", "ln2", [s2, params["g2"]], {"axis": -1, "epsilon": 1e-3}, ["y2"])[0]
    s3 = net.add_elementwise(y2, s2, "Add", name="residual")
    s4 = net.add_elementwise(s3, params["bias"], "Add", name="bias_add")           # broadcast [6]
    y4 = net.add_node("LayerNormalization", "ln4", [s4, params["g3"]], {"axis": -1}, ["y4"])[0]
    for t in (y4, s2):
        net.mark_output(t)
    feeds = {"x": (rng.standard_normal((3, 5, 6)) * 3).astype(np.float32),
             "r": rng.standard_normal((3, 5, 6)).astype(np.float32)}
    want = _run(net, feeds)
    fused = _copy(net)
    report = _testing.run_passes(fused)
    ops = _ops(fused)
    assert ops.count("LayerNormalization") == 3 and ops.count("Add") == 1, ops  # only 'residual' remains
    lines = [line for line in report["lines"] if "LayerNormalization" in line and "fused Add" in line]
    assert len(lines) == 3 and sum("also writes the sum" in line for line in lines) == 1, report
    got = _run(fused, feeds)
    assert set(got) == set(want)
    for name in want:
        assert np.array_equal(got[name], want[name]), name
    off = _copy(net)
    _testing.run_passes(off, {"fuse_add_layernorm": False})
    assert _ops(off).count("Add") == 4


@pytest.mark.parametrize("sum_read_again", [False, True])
def test_add_layernorm_with_the_broadcast_operand_first(sum_read_again: bool) -> None:
    """Add(bias [C], h [N, T, C]) -> LayerNormalization (Wav2Vec2-Conformer's
    TorchScript export: the feature projection's bias comes first): the fused
    layer's X is the [C] operand, and it normalised X's one row and left the
    others unwritten (max error 1e34 on the real network); against ONNX
    Runtime, float32 normalisations within 1e-5."""
    from onnx import TensorProto, helper, numpy_helper
    ort = pytest.importorskip("onnxruntime")

    rng = np.random.default_rng(14)
    c = 24
    nodes = [helper.make_node("Add", ["bias", "h"], ["s"]),
             helper.make_node("LayerNormalization", ["s", "g", "b"], ["y"], axis=-1, epsilon=1e-5)]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "T", c])]
    if sum_read_again:  # the next residual Add reads the sum: the fused node writes it too
        nodes.append(helper.make_node("Add", ["s", "y"], ["z"]))
        outs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", "T", c]))
    graph = helper.make_graph(nodes, "bias_first", [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["N", "T", c])],
                              outs, [numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), k)
                                     for k in ("bias", "g", "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    h = (rng.standard_normal((2, 9, c)) * 2).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"h": h})
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    got = engine.run({"h": h})
    for name, ref in zip(["y", "z"], want):
        np.testing.assert_allclose(got[name], ref, rtol=1e-5, atol=1e-5, err_msg=name)


def test_add_layernorm_gives_the_same_bits_on_every_tier() -> None:
    """The fused Add + LayerNormalization on every tier against the
    reference, byte for byte: 21 rows of 40 values (the AVX-512 tier's moments
    of four rows at a time, kernels/ref/layernorm_f32.h moments_rows, and a
    row left over), the sum read only by the LN and the sum also an output
    (written by the fused node)."""
    rng = np.random.default_rng(13)
    net = _core.Network()
    x = net.add_input("x", [-1, 7, 40])
    r = net.add_input("r", [-1, 7, 40])
    g = net.add_constant("g", rng.standard_normal(40).astype(np.float32))
    b = net.add_constant("b", rng.standard_normal(40).astype(np.float32))
    s1 = net.add_elementwise(x, r, "Add", name="post_add")
    y1 = net.add_node("LayerNormalization", "ln1", [s1, g, b], {"axis": -1}, ["y1"])[0]
    s2 = net.add_elementwise(y1, r, "Add", name="pre_add")
    y2 = net.add_node("LayerNormalization", "ln2", [s2, g], {"axis": -1, "epsilon": 1e-3}, ["y2"])[0]
    for t in (y2, s2):
        net.mark_output(t)
    _testing.run_passes(net)
    assert _ops(net).count("Add") == 0, _ops(net)
    feeds = {"x": (rng.standard_normal((3, 7, 40)) * 3 + 1).astype(np.float32),
             "r": rng.standard_normal((3, 7, 40)).astype(np.float32)}
    tiers = [isa for isa in ("ref", "avx2", "avx512") if int8rt.kernels.isa_info()[isa]["cpu"]]
    got = {}
    for isa in tiers:
        int8rt.set_max_isa(isa)  # kernels are chosen when the executor is made
        try:
            got[isa] = _testing.Executor(_copy(net)).run(feeds)
        finally:
            int8rt.set_max_isa(None)
    assert np.std(got["ref"]["y2"]) > 0
    for isa in tiers[1:]:
        for name in got["ref"]:
            assert got[isa][name].tobytes() == got["ref"][name].tobytes(), (isa, name)
