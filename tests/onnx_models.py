"""Small ONNX models for the importer tests, built with onnx.helper (seeded weights)."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG_SEED = 1234


def init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def model(nodes: Sequence[onnx.NodeProto], inputs: Sequence[onnx.ValueInfoProto],
          outputs: Sequence[onnx.ValueInfoProto], initializers: Sequence[onnx.TensorProto] = (),
          opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def fvi(name: str, shape: Optional[Sequence]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def hardswish_affine(z: str, y: str) -> tuple[List[onnx.NodeProto], List[onnx.TensorProto]]:
    """PP-OCRv4 rec's hardswish as paddle2onnx spells it, Add(z, 3), Clip(0, 6), Mul(z, .), Div(., 6), then
    its affine Mul(0.7), Add(0.1) (RESULTS_accuracy.md acc37): z -> y, nodes add3 / clip / mul / div6 / scale /
    shift over tensors a, c, m, hs, sw, and their constants three, zero, six, w, b."""
    nodes = [
        helper.make_node("Add", [z, "three"], ["a"], name="add3"),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="clip"),
        helper.make_node("Mul", [z, "c"], ["m"], name="mul"),
        helper.make_node("Div", ["m", "six"], ["hs"], name="div6"),
        helper.make_node("Mul", ["w", "hs"], ["sw"], name="scale"),
        helper.make_node("Add", ["sw", "b"], [y], name="shift"),
    ]
    consts = [init(n, np.array(v, np.float32)) for n, v in (("three", 3.0), ("zero", 0.0), ("six", 6.0),
                                                             ("w", 0.7), ("b", 0.1))]
    return nodes, consts

def one_node(op: str, attrs: dict, c_in: int, spatial: Sequence[int], rng: np.random.Generator,
             weights: Optional[np.ndarray] = None, bias: bool = False) -> onnx.ModelProto:
    """x [N, c_in, *spatial] -> one `op` node -> y, shapes inferred; with
    `weights` as input w and, when `bias`, a random bias b (a ConvTranspose
    has weights.shape[1] * group output channels, a Conv weights.shape[0])."""
    inputs, inits = ["x"], []
    if weights is not None:
        inputs.append("w")
        inits.append(init("w", weights))
        if bias:
            n_out = weights.shape[1] * attrs.get("group", 1) if op == "ConvTranspose" else weights.shape[0]
            inputs.append("b")
            inits.append(init("b", rng.standard_normal(n_out).astype(np.float32)))
    node = helper.make_node(op, inputs, ["y"], **attrs)
    return onnx.shape_inference.infer_shapes(model([node], [fvi("x", ["N", c_in, *spatial])], [fvi("y", None)], inits))



def conv_net(opset: int = 17, batch: object = "N") -> onnx.ModelProto:
    """Conv -> BN -> Relu -> MaxPool -> Flatten -> Gemm, input [batch, 3, 8, 8], output [batch, 5]."""
    rng = np.random.default_rng(RNG_SEED)
    f32 = np.float32
    inits = [
        init("conv.weight", rng.standard_normal((8, 3, 3, 3)).astype(f32) * 0.3),
        init("conv.bias", rng.standard_normal(8).astype(f32)),
        init("bn.scale", rng.uniform(0.5, 1.5, 8).astype(f32)),
        init("bn.bias", rng.standard_normal(8).astype(f32)),
        init("bn.mean", rng.standard_normal(8).astype(f32) * 0.1),
        init("bn.var", rng.uniform(0.5, 2.0, 8).astype(f32)),
        init("fc.weight", rng.standard_normal((5, 8 * 4 * 4)).astype(f32) * 0.1),
        init("fc.bias", rng.standard_normal(5).astype(f32)),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out"], name="conv",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["conv_out", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                         ["bn_out"], name="bn", epsilon=1e-5),
        helper.make_node("Relu", ["bn_out"], ["relu_out"], name="relu"),
        helper.make_node("MaxPool", ["relu_out"], ["pool_out"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool_out"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    ]
    return model(nodes, [fvi("input", [batch, 3, 8, 8])], [fvi("logits", [batch, 5])], inits, opset)


def torch_view_chain(extra_batch_entry: bool = False) -> onnx.ModelProto:
    """PyTorch's ``x.view(x.size(0), -1)`` after a Relu, with Constant nodes as
    the exporter writes them; with ``extra_batch_entry``,
    ``x.view(x.size(0), x.size(0) * 48 // x.size(0))``: two entries computed
    from the batch, which no constant target expresses."""
    def const(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], name=name + "_node", value=numpy_helper.from_array(value))
    cat_inputs = ["batch_1d", "minus_one"] if not extra_batch_entry else ["batch_1d", "per_row"]
    nodes = [
        helper.make_node("Relu", ["x"], ["act"], name="relu"),
        helper.make_node("Shape", ["act"], ["act_shape"], name="shape"),
        const("idx0", np.array(0, np.int64)),
        helper.make_node("Gather", ["act_shape", "idx0"], ["batch"], name="gather", axis=0),
        const("axes0", np.array([0], np.int64)),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch_1d"], name="unsqueeze"),
        const("minus_one", np.array([-1], np.int64)),
        const("forty_eight", np.array([48], np.int64)),
        helper.make_node("Mul", ["batch_1d", "forty_eight"], ["all"], name="mul"),
        helper.make_node("Div", ["all", "batch_1d"], ["per_row"], name="div"),
        helper.make_node("Concat", cat_inputs, ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["act", "target"], ["flat"], name="reshape"),
    ]
    out_shape = ["N", 48] if not extra_batch_entry else ["N", None]
    return model(nodes, [fvi("x", ["N", 3, 4, 4])], [fvi("flat", out_shape)])


def unary_chain(opset: int = 17) -> onnx.ModelProto:
    """Element-wise ops the executor already runs: Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid, ..."""
    nodes = [
        helper.make_node("LeakyRelu", ["x"], ["a"], name="leaky", alpha=0.1),
        helper.make_node("Tanh", ["a"], ["b"], name="tanh"),
        helper.make_node("Clip", ["b", "lo", "hi"], ["c"], name="clip"),
        helper.make_node("HardSigmoid", ["x"], ["d"], name="hsig", alpha=0.3, beta=0.4),
        helper.make_node("HardSwish", ["d"], ["e"], name="hswish"),
        helper.make_node("Erf", ["x"], ["f"], name="erf"),
        helper.make_node("Sigmoid", ["f"], ["g"], name="sigmoid"),
        helper.make_node("Identity", ["g"], ["h"], name="identity"),
        helper.make_node("Relu", ["h"], ["i"], name="relu"),
    ]
    inits = [init("lo", np.array(-0.5, np.float32)), init("hi", np.array(0.75, np.float32))]
    shape = ["N", 4, 5, 3]
    return model(nodes, [fvi("x", shape)], [fvi("c", shape), fvi("e", shape), fvi("i", shape)], inits, opset)


def op_names(net) -> List[str]:
    return [n["op"] for n in net.nodes()]


def tensor_names(net) -> List[str]:
    return [t["name"] for t in net.tensors()]


def block_net(opset: int = 13) -> onnx.ModelProto:
    """Grouped SAME_UPPER Conv -> BN -> PRelu -> MaxPool -> AveragePool -> ReduceMean -> Softmax (+ GAP branch,
    LayerNormalization at opset >= 17), exercising the opset-dependent forms the importer normalises."""
    rng = np.random.default_rng(RNG_SEED + opset)
    f32 = np.float32
    inits = [
        init("w", rng.standard_normal((6, 2, 3, 3)).astype(f32) * 0.4),
        init("scale", rng.uniform(0.5, 1.5, 6).astype(f32)), init("shift", rng.standard_normal(6).astype(f32)),
        init("mean", rng.standard_normal(6).astype(f32) * 0.1), init("var", rng.uniform(0.5, 2.0, 6).astype(f32)),
        init("slope", rng.uniform(0.05, 0.3, (6, 1, 1)).astype(f32)),
        init("k", np.array(1.5, f32)),
    ]
    reduce_kw = {"axes": [2]} if opset < 18 else {}
    reduce_in = ["avg"] if opset < 18 else ["avg", "reduce_axes"]
    if opset >= 18:
        inits.append(init("reduce_axes", np.array([2], np.int64)))
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["conv"], name="conv", group=2, auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("BatchNormalization", ["conv", "scale", "shift", "mean", "var"], ["bn"], name="bn"),
        helper.make_node("PRelu", ["bn", "slope"], ["prelu"], name="prelu"),
        helper.make_node("MaxPool", ["prelu"], ["maxp"], name="maxpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["maxp"], ["avg"], name="avgpool", kernel_shape=[2, 2]),
        helper.make_node("ReduceMean", reduce_in, ["red"], name="reduce", keepdims=1, **reduce_kw),
        helper.make_node("Mul", ["red", "k"], ["scaled"], name="mul"),
        helper.make_node("Softmax", ["scaled"], ["soft"], name="softmax", axis=3 if opset < 13 else -1),
        helper.make_node("GlobalAveragePool", ["bn"], ["gap"], name="gap"),
        helper.make_node("Add", ["soft", "gap"], ["y"], name="add"),
    ]
    outputs = [fvi("y", ["N", 6, 1, 4])]
    if opset >= 17:
        inits += [init("ln_g", rng.uniform(0.5, 1.5, 4).astype(f32)), init("ln_b", rng.standard_normal(4).astype(f32))]
        nodes.append(helper.make_node("LayerNormalization", ["y", "ln_g", "ln_b"], ["ln"], name="ln", axis=-1))
        outputs.append(fvi("ln", ["N", 6, 1, 4]))
    return model(nodes, [fvi("x", ["N", 4, 9, 9])], outputs, inits, opset)


def resnet_block(rng: np.random.Generator, relu_after_pointwise: bool) -> onnx.ModelProto:
    """Conv+Relu (padded), Conv + residual Add + Relu, MaxPool, 1x1 Conv
    (+ Relu when asked), GlobalAveragePool, Flatten, Gemm on [n, 3, 12, 12]:
    the shapes of a ResNet block with padded convs (zero-point padding).
    He-normal weights and small biases drawn from `rng` in a fixed order."""
    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * (2.0 / np.prod(shape[1:])) ** 0.5).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for n, a in [
        ("w1", w(8, 3, 3, 3)), ("b1", rng.standard_normal(8).astype(np.float32) * 0.1),
        ("w2", w(8, 8, 3, 3)), ("b2", rng.standard_normal(8).astype(np.float32) * 0.1),
        ("w3", w(16, 8, 1, 1)), ("b3", rng.standard_normal(16).astype(np.float32) * 0.1),
        ("wf", w(10, 16)), ("bf", rng.standard_normal(10).astype(np.float32) * 0.1)]]
    pointwise = [helper.make_node("Conv", ["p", "w3", "b3"], ["c3"])]
    if relu_after_pointwise:
        pointwise.append(helper.make_node("Relu", ["c3"], ["r3"]))
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["a"]),
        helper.make_node("Relu", ["a"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        *pointwise,
        helper.make_node("GlobalAveragePool", [pointwise[-1].output[0]], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
    ]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
