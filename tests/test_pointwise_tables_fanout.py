"""Element-wise functions of an int8 tensor that read it in several nodes,
lowered to one int8 table (int8rt.QLut, csrc/engine/lut_region.h): the
tanh-GELU as GPT-2's export spells it,

    0.5 x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * Pow(x, 3))))

reads x in three nodes. Growing the region only from its first node's output
never reached the others, so it stayed float32 between a Dequantize and a
Quantize. (Both GELUs are now fused into one Gelu node by a graph pass
first, fuse_gelu; the same function with another constant is not, and
tests the regions.) Each must
now be one QLut with exactly the bytes of the same engine built without
tables (the reading Gemm quantized the float result with the same scale),
and an int8 tensor that feeds two separate chains must still give one table
per chain."""
from __future__ import annotations

import numpy as np
from onnx import helper

import int8rt
from onnx_models import fvi, init, model

F32 = np.float32
D = 16


def const(name: str, v: float):
    return init(name, np.array(v, F32))


def gemm(name: str, x: str, w: str, y: str):
    return helper.make_node("Gemm", [x, w], [y], name=name)


def net(chain: str):
    """x [N, 16] -> Gemm -> h -> chain -> Gemm -> y (and the chains' extra readers)."""
    rng = np.random.default_rng(3)
    inits = [init(f"w{i}", (rng.standard_normal((D, D)) * 0.4).astype(F32)) for i in range(1, 4)]
    inits += [const("half", 0.5), const("three", 3.0), const("k", 0.044715 if chain != "tanh_gelu_k" else 0.05), const("c", 0.7978845608),
              const("one", 1.0), const("sqrt2", 1.4142135), const("cap", 0.8)]
    nodes = [gemm("fc1", "x", "w1", "h")]
    outputs = [fvi("y", ["N", D])]
    if chain in ("tanh_gelu", "tanh_gelu_k"):
        nodes += [helper.make_node("Mul", ["h", "half"], ["a"], name="g_half"),
                  helper.make_node("Pow", ["h", "three"], ["p"], name="g_pow"),
                  helper.make_node("Mul", ["p", "k"], ["pk"], name="g_k"),
                  helper.make_node("Add", ["h", "pk"], ["s"], name="g_add"),
                  helper.make_node("Mul", ["s", "c"], ["sc"], name="g_c"),
                  helper.make_node("Tanh", ["sc"], ["t"], name="g_tanh"),
                  helper.make_node("Add", ["t", "one"], ["t1"], name="g_one"),
                  helper.make_node("Mul", ["a", "t1"], ["g"], name="g_mul")]
    elif chain == "erf_gelu":
        nodes += [helper.make_node("Div", ["h", "sqrt2"], ["d"], name="g_div"),
                  helper.make_node("Erf", ["d"], ["e"], name="g_erf"),
                  helper.make_node("Add", ["e", "one"], ["e1"], name="g_one"),
                  helper.make_node("Mul", ["h", "e1"], ["m"], name="g_x"),
                  helper.make_node("Mul", ["m", "half"], ["g"], name="g_half")]
    elif chain == "unary":  # the ops a table may now hold, as one chain of x
        nodes += [helper.make_node("Abs", ["h"], ["u1"], name="u_abs"),
                  helper.make_node("Sqrt", ["u1"], ["u2"], name="u_sqrt"),
                  helper.make_node("Neg", ["u2"], ["u3"], name="u_neg"),
                  helper.make_node("Exp", ["u3"], ["u4"], name="u_exp"),
                  helper.make_node("Min", ["u4", "cap"], ["u5"], name="u_min"),
                  helper.make_node("Max", ["u5", "half"], ["u6"], name="u_max"),
                  helper.make_node("Softplus", ["h"], ["v1"], name="u_softplus"),
                  helper.make_node("Reciprocal", ["v1"], ["v2"], name="u_recip"),
                  helper.make_node("Mul", ["u6", "v2"], ["g"], name="u_mul")]
    elif chain == "two_chains":  # h feeds a Relu and a Sigmoid, each read by its own Gemm
        nodes += [helper.make_node("Relu", ["h"], ["g"], name="c_relu"),
                  helper.make_node("Sigmoid", ["h"], ["z0"], name="c_sigmoid"),
                  gemm("fc3", "z0", "w3", "z")]
        outputs.append(fvi("z", ["N", D]))
    nodes.append(gemm("fc2", "g", "w2", "y"))
    return model(nodes, [fvi("x", ["N", D])], outputs, inits)


class Cal(int8rt.IInt8MinMaxCalibrator):
    def __init__(self) -> None:
        super().__init__()
        self.left = 2

    def get_batch_size(self) -> int:
        return 8

    def get_batch(self, names):
        self.left -= 1
        if self.left < 0:
            return None
        return [np.random.default_rng(self.left).uniform(-1.5, 1.5, (8, D)).astype(F32)]


def build(m, **kw) -> int8rt.Engine:
    return int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(calibrator=Cal(), **kw))


def lut_names(engine: int8rt.Engine) -> list[str]:
    return [layer["name"] for layer in engine.layers() if layer["op"] == "int8rt.QLut"]


def same_bytes_as_without_tables(m, outputs: tuple[str, ...] = ("y",)) -> None:
    x = np.random.default_rng(9).uniform(-1.6, 1.6, (6, D)).astype(F32)
    a, b = build(m).run({"x": x}), build(m, pointwise_tables=False).run({"x": x})
    for name in outputs:
        assert a[name].tobytes() == b[name].tobytes(), name


def test_a_function_reading_x_three_times_is_one_table() -> None:
    """The tanh-GELU's shape with another cubic coefficient (0.05), which
    fuse_gelu leaves as eight nodes: they must still become one table."""
    m = net("tanh_gelu_k")
    engine = build(m)
    assert lut_names(engine) == ["g_half+g_pow+g_k+g_add+g_c+g_tanh+g_one+g_mul"]
    assert [layer["op"] for layer in engine.layers()] == ["int8rt.Quantize", "int8rt.QGemm", "int8rt.QLut",
                                                           "int8rt.QGemm"]
    same_bytes_as_without_tables(m)
    x = np.random.default_rng(4).uniform(-1.5, 1.5, (8, D)).astype(F32)
    ref = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).run({"x": x})["y"]
    got = engine.run({"x": x})["y"]
    # int8 error of this 2-layer random network (tables or not: the bytes are the same)
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 0.05


def test_tanh_gelu_is_one_table() -> None:
    """(fuse_gelu makes GPT-2's spelling one Gelu(approximate=tanh) node first; the table holds it.)"""
    m = net("tanh_gelu")
    engine = build(m)
    assert lut_names(engine) == ["g_mul"]
    assert [layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QLut"][0].endswith("(Gelu)")
    same_bytes_as_without_tables(m)


def test_erf_gelu_reading_x_twice_is_one_table() -> None:
    """(The Gelu fusion pass makes this one Gelu node first; the table holds it.)"""
    m = net("erf_gelu")
    engine = build(m)
    assert lut_names(engine) == ["g_half"]
    assert [layer["detail"] for layer in engine.layers() if layer["op"] == "int8rt.QLut"][0].endswith("(Gelu)")
    same_bytes_as_without_tables(m)


def test_pow_sqrt_exp_min_max_and_other_unary_ops_join_a_table() -> None:
    m = net("unary")
    assert lut_names(build(m)) == ["u_abs+u_sqrt+u_neg+u_exp+u_min+u_max+u_softplus+u_recip+u_mul"]
    same_bytes_as_without_tables(m)


def test_an_int8_tensor_feeding_two_chains_gives_a_table_per_chain() -> None:
    """Through h, Relu and Sigmoid form one region with two exits (g, z0):
    no table for both; each chain from its own node is a table."""
    m = net("two_chains")
    assert lut_names(build(m)) == ["c_relu", "c_sigmoid"]
    same_bytes_as_without_tables(m, ("y", "z"))
