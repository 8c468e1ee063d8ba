"""ConvInteger with its float tail fused (graph/passes/fuse_conv_integer_float.cc): the pattern
ddddocr's common_old.onnx and quantize_dynamic write after every conv,

    x -> DynamicQuantizeLinear -> ConvInteger -> Add(Reshape(Cast<int32>(Floor(Div(bias, xs * ws))),
    [1, -1, 1, 1])) -> Cast<float> -> Mul(xs * ws)

becomes one ConvInteger storing float32(conv + bias[m]) * s from the product's epilogue
(kernels/gemm_u8s8.h, GemmU8S8AEpilogue). On every tier, weights that take each gemm_u8s8 form
(pairs, shifted) and zero points 0 / 255 / between: Y == numpy's float32(int64 spec + bias, taken
modulo 2^32) * s bit for bit, and == the unfused network's Y. Patterns that must not fuse stay.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import int8rt  # noqa: E402
from int8rt import _testing  # noqa: E402

from test_integer_ops import _conv_ref, tier  # noqa: E402,F401


def _tail_model(w: np.ndarray, zw: np.ndarray, bias: np.ndarray | None, pads, strides, x_shape,
                shape=(1, -1, 1, 1), scale_from_dql: bool = True) -> onnx.ModelProto:
    """The ddddocr pattern around one ConvInteger; xq, xs, xzp and the int32 bias are outputs too, so
    the test forms the expected values from the engine's own quantized input."""
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xzp"]),
             helper.make_node("ConvInteger", ["xq", "w", "xzp", "zw"], ["c"], pads=list(pads), strides=list(strides),
                              kernel_shape=list(w.shape[2:])),
             helper.make_node("Mul", ["xs", "ws"] if scale_from_dql else ["ws", "ws"], ["s"])]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(zw, "zw"),
             numpy_helper.from_array(np.array(0.0371, np.float32), "ws")]
    tail_in = "c"
    outs = [helper.make_tensor_value_info(n, t, d) for n, t, d in
            [("y", TensorProto.FLOAT, ["n", "m", "h", "w"]), ("xq", TensorProto.UINT8, list(x_shape)),
             ("xs", TensorProto.FLOAT, []), ("xzp", TensorProto.UINT8, [])]]
    if bias is not None:
        nodes += [helper.make_node("Div", ["bias", "s"], ["bd"]), helper.make_node("Floor", ["bd"], ["bf"]),
                  helper.make_node("Cast", ["bf"], ["bi"], to=TensorProto.INT32),
                  helper.make_node("Reshape", ["bi", "shape"], ["br"]),
                  helper.make_node("Add", ["c", "br"], ["cb"])]
        inits += [numpy_helper.from_array(bias, "bias"), numpy_helper.from_array(np.array(shape, np.int64), "shape")]
        outs.append(helper.make_tensor_value_info("bi", TensorProto.INT32, [w.shape[0]]))
        tail_in = "cb"
    nodes += [helper.make_node("Cast", [tail_in], ["cf"], to=TensorProto.FLOAT),
              helper.make_node("Mul", ["cf", "s"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _ops(net) -> list[str]:
    return sorted(n["op"] for n in net.nodes())


def _weights(rng, form: str, M: int, C: int, k) -> np.ndarray:
    if form == "pairs":  # a bell per output channel, as ddddocr's (few pairs over the AVX2 pair rule)
        centre = rng.integers(100, 160, (M, 1, 1, 1))
        return np.clip(np.rint(rng.standard_normal((M, C) + k) * 14) + centre, 0, 255).astype(np.uint8)
    return rng.integers(0, 256, (M, C) + k).astype(np.uint8)  # full range: the shifted form


@pytest.mark.parametrize("form", ["pairs", "shifted"])
def test_fused_tail_equals_the_spec_and_the_unfused_network(tier, form) -> None:
    rng = np.random.default_rng(51)
    cases = [(1, 24, 8, 20, 24, (3, 3), (1, 1, 1, 1), (2, 2)), (1, 16, 5, 9, 40, (3, 3), (1, 1, 1, 1), (1, 1)),
             (2, 9, 5, 7, 17, (1, 1), (0, 0, 0, 0), (1, 1)), (1, 48, 4, 10, 96, (3, 3), (1, 1, 1, 1), (1, 1))]
    for N, C, H, W, M, k, pads, strides in cases:
        w = _weights(rng, form, M, C, k)
        x = (rng.standard_normal((N, C, H, W)) * 2 + rng.uniform(-1, 1)).astype(np.float32)
        for zw in (np.array(128, np.uint8), np.array(0, np.uint8),
                   rng.integers(0, 256, M).astype(np.uint8)):
            for with_bias in (True, False):
                bias = (rng.standard_normal(M) * 3).astype(np.float32) if with_bias else None
                model = _tail_model(w, zw, bias, pads, strides, x.shape)
                got = int8rt.onnx.backend.Int8rtBackend.prepare(model).run([x])
                y, xq, xs, xzp = got[:4]
                c = _conv_ref(xq, w, np.int64(xzp), zw.astype(np.int64), strides, pads, (1, 1), 1)
                if with_bias:
                    c = c + got[4].astype(np.int64).reshape(1, M, 1, 1)
                c = (c % 2 ** 32).astype(np.uint32).view(np.int32)
                want = c.astype(np.float32) * (np.float32(xs) * np.float32(0.0371))
                msg = f"{form} case {(N, C, H, W, M, k, strides)} zw={zw.ravel()[:2]} bias={with_bias}"
                np.testing.assert_array_equal(y.view(np.int32), want.view(np.int32), err_msg=msg)

                fused = int8rt.onnx.import_model(model)
                report = _testing.run_passes(fused, {})
                ops = _ops(fused)  # left: the bias's own Cast to int32 and the scale's Mul
                assert ops.count("Cast") == int(with_bias) and "Add" not in ops and ops.count("Mul") == 1, (msg, ops)
                assert any("into its output" in line for line in report["lines"]), report
                plain = int8rt.onnx.import_model(model)
                _testing.run_passes(plain, {"fuse_conv_integer_float": False})
                assert _ops(plain).count("Cast") == 1 + int(with_bias)
                a = _testing.Executor(fused).run({"x": x})["y"]
                b = _testing.Executor(plain).run({"x": x})["y"]
                np.testing.assert_array_equal(a.view(np.int32), b.view(np.int32), err_msg=msg)


def test_forms_are_the_ones_named() -> None:
    """The two weight kinds above take the two A-packed forms where the AVX2 kernel is chosen."""
    _t = pytest.importorskip("int8rt._testing")
    names = [n for n, _i, r in _t.kernels.gemm_u8s8_candidates(216, 24) if r == ""]
    if names[0] != "gemm_u8s8_4x16c4s_avx2":
        pytest.skip("the AVX2 gemm_u8s8 kernel is not the first choice here")
    rng = np.random.default_rng(52)
    assert _t.kernels.gemm_u8s8_form(_weights(rng, "pairs", 24, 24, (3, 3)).reshape(24, -1), packed_a=True) == "pairs"
    assert _t.kernels.gemm_u8s8_form(_weights(rng, "shifted", 24, 24, (3, 3)).reshape(24, -1),
                                     packed_a=True) == "shifted"


@pytest.mark.parametrize("variant", ["bias_on_width", "scale_not_scalar", "conv_read_twice"])
def test_patterns_that_must_not_fuse(variant) -> None:
    """A bias reshaped onto another axis, a Mul by a per-channel tensor and a conv output with a second
    reader stay as they are."""
    rng = np.random.default_rng(53)
    w = _weights(rng, "pairs", 8, 4, (3, 3))
    shape = (1, 1, 1, -1) if variant == "bias_on_width" else (1, -1, 1, 1)
    model = _tail_model(w, np.array(128, np.uint8), (rng.standard_normal(8)).astype(np.float32), (1, 1, 1, 1),
                        (1, 1), (1, 4, 6, 8), shape=shape)
    g = model.graph
    if variant == "scale_not_scalar":
        g.initializer.append(numpy_helper.from_array(rng.uniform(1, 2, (1, 8, 1, 1)).astype(np.float32), "pc"))
        g.node.append(helper.make_node("Mul", ["cf", "pc"], ["y2"]))
        mul = next(n for n in g.node if n.output[0] == "y")
        mul.input[1] = "pc"
        g.node.remove(g.node[-1])
    if variant == "conv_read_twice":
        g.output.append(helper.make_tensor_value_info("c", TensorProto.INT32, ["n", "m", "h", "w"]))
    net = int8rt.onnx.import_model(model)
    _testing.run_passes(net, {})
    assert _ops(net).count("Cast") == 2, _ops(net)


def test_swish_after_the_fused_tail(tier) -> None:
    """z = Mul(y, Sigmoid(y)) after the fused ConvInteger joins it in an FP32 engine (fuse_swish.cc:
    "int8rt_activation" = "Swish", the tier's Silu): z == the same tier's Sigmoid and Mul layers run
    on the fused layer's exact y, bit for bit."""
    from int8rt.builder import BuilderConfig, build_engine
    rng = np.random.default_rng(54)
    for form in ("pairs", "shifted"):
        w = _weights(rng, form, 24, 16, (3, 3))
        x = (rng.standard_normal((1, 16, 6, 20)) * 2).astype(np.float32)
        model = _tail_model(w, np.array(128, np.uint8), (rng.standard_normal(24) * 3).astype(np.float32),
                            (1, 1, 1, 1), (1, 1), x.shape)
        g = model.graph
        mul = next(n for n in g.node if n.output[0] == "y")
        mul.output[0] = "yc"
        g.node.extend([helper.make_node("Sigmoid", ["yc"], ["sg"]), helper.make_node("Mul", ["yc", "sg"], ["y"])])
        ctx = build_engine(model.SerializeToString(), BuilderConfig(precision="fp32")).create_execution_context()
        rows = ctx.profile({"x": x}, 1)
        assert [r["op"] for r in rows].count("Sigmoid") == 0 and any("+swish" in r["detail"] for r in rows), rows
        got = ctx.run({"x": x})
        z, xq, xs, xzp, bi = (got[k] for k in ("y", "xq", "xs", "xzp", "bi"))
        c = _conv_ref(xq, w, np.int64(xzp), np.int64(128), (1, 1), (1, 1, 1, 1), (1, 1), 1)
        c = ((c + bi.astype(np.int64).reshape(1, -1, 1, 1)) % 2 ** 32).astype(np.uint32).view(np.int32)
        y = c.astype(np.float32) * (np.float32(xs) * np.float32(0.0371))
        swish = helper.make_graph([helper.make_node("Sigmoid", ["y"], ["s"]), helper.make_node("Mul", ["y", "s"], ["z"])],
                                  "swish", [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))],
                                  [helper.make_tensor_value_info("z", TensorProto.FLOAT, list(y.shape))])
        ref = build_engine(helper.make_model(swish, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString(),
                           BuilderConfig(precision="fp32")).create_execution_context().run({"y": y})["z"]
        np.testing.assert_array_equal(z.view(np.int32), ref.view(np.int32), err_msg=form)
