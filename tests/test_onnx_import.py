"""int8rt.onnx.import_model: op mapping, names, shapes, constant folding, opset forms."""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import int8rt  # noqa: E402
import int8rt.onnx  # noqa: E402
from onnx_models import conv_net, fvi, init, model, op_names, tensor_names, torch_view_chain  # noqa: E402


def by_name(net, name):
    tid = net.find_tensor(name)
    assert tid >= 0, f"tensor '{name}' missing from {tensor_names(net)}"
    return net.tensor(tid)


def test_conv_net_maps_one_to_one_with_names_shapes_and_weights():
    m = conv_net()
    net = int8rt.onnx.import_model(m)
    assert op_names(net) == ["Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm"]
    assert [n["name"] for n in net.nodes()] == ["conv", "bn", "relu", "pool", "flatten", "fc"]
    assert [net.tensor(i)["name"] for i in net.inputs()] == ["input"]
    assert [net.tensor(i)["name"] for i in net.outputs()] == ["logits"]
    expected_shapes = {"input": [-1, 3, 8, 8], "conv_out": [-1, 8, 8, 8], "bn_out": [-1, 8, 8, 8],
                       "relu_out": [-1, 8, 8, 8], "pool_out": [-1, 8, 4, 4], "flat": [-1, 128], "logits": [-1, 5]}
    for name, shape in expected_shapes.items():
        assert by_name(net, name)["shape"] == shape, name
    for t in m.graph.initializer:  # weights are copied bit for bit, under their ONNX names
        got = net.constant_data(t.name)
        assert got.dtype == np.float32 and np.array_equal(got, numpy_helper.to_array(t)), t.name
    conv = net.node(0)
    assert conv["attrs"] == {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    assert [net.tensor(i)["name"] for i in conv["inputs"]] == ["input", "conv.weight", "conv.bias"]
    assert net.node(1)["attrs"]["epsilon"] == pytest.approx(1e-5, rel=1e-7)  # float32 attribute widened
    net.validate()


def test_batch_size_fixes_the_batch_everywhere():
    net = int8rt.onnx.import_model(conv_net(), batch_size=4)
    assert by_name(net, "input")["shape"] == [4, 3, 8, 8]
    assert by_name(net, "flat")["shape"] == [4, 128]
    static = int8rt.onnx.import_model(conv_net(batch=2))
    assert by_name(static, "logits")["shape"] == [2, 5]
    with pytest.raises(int8rt.InvalidArgumentError, match="static batch dimension 2"):
        int8rt.onnx.import_model(conv_net(batch=2), batch_size=4)


def test_accepts_path_bytes_and_proto_and_parse_alias(tmp_path):
    m = conv_net()
    path = tmp_path / "net.onnx"
    onnx.save(m, str(path))
    nets = [int8rt.onnx.import_model(path), int8rt.onnx.import_model(str(path)),
            int8rt.onnx.import_model(m.SerializeToString()), int8rt.onnx.parse(m)]
    for net in nets:
        assert tensor_names(net) == tensor_names(nets[0]) and op_names(net) == op_names(nets[0])
    assert isinstance(nets[0], int8rt.network.Network)


def test_pytorch_view_chain_folds_to_a_constant_reshape_target():
    net = int8rt.onnx.import_model(torch_view_chain())
    assert op_names(net) == ["Relu", "Reshape"]
    reshape = net.node(1)
    target = net.tensor(reshape["inputs"][1])
    assert target["is_constant"]
    # batch entry -> 0 (copy the input's dim 0), the explicit -1 stays: Reshape(act, [0, -1])
    assert np.array_equal(net.constant_data(reshape["inputs"][1]), np.array([0, -1], np.int64))
    assert by_name(net, "flat")["shape"] == [-1, 48]
    assert net.find_tensor("act_shape") == -1 and net.find_tensor("batch") == -1


def test_batch_derived_single_entry_becomes_minus_one():
    # Reshape(x, Concat(Gather(Shape(x), 0) * 3, [16])): the batch-derived entry is inferred as -1.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["b"], name="gather", axis=0),
        helper.make_node("Mul", ["b", "three"], ["b3"], name="mul"),
        helper.make_node("Unsqueeze", ["b3", "ax"], ["b3_1d"], name="unsq"),
        helper.make_node("Concat", ["b3_1d", "sixteen"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
    ]
    inits = [init("zero", np.array(0, np.int64)), init("three", np.array(3, np.int64)),
             init("ax", np.array([0], np.int64)), init("sixteen", np.array([16], np.int64))]
    net = int8rt.onnx.import_model(model(nodes, [fvi("x", ["N", 3, 4, 4])], [fvi("y", [None, 16])], inits))
    assert op_names(net) == ["Reshape"]
    assert np.array_equal(net.constant_data(net.node(0)["inputs"][1]), np.array([-1, 16], np.int64))


def test_two_batch_entries_in_a_reshape_target_are_computed_at_run_time():
    # Reshape(act, [N, N * 48 / N]): no constant target with one 0 / -1 says
    # this, so the Shape -> Gather -> Mul -> Div -> Concat chain runs.
    m = torch_view_chain(extra_batch_entry=True)
    assert "Shape" in op_names(int8rt.onnx.import_model(m))
    ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    for n in (1, 5):
        x = np.random.default_rng(n).standard_normal((n, 3, 4, 4)).astype(np.float32)
        assert np.array_equal(ctx.run({"x": x})["flat"], np.maximum(x, 0).reshape(n, 48))


def _run_both_batches(m, feeds_for):
    ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    return [ctx.run(feeds_for(n)) for n in (1, 3)]


def test_batch_is_found_by_its_symbol_in_any_position():
    # torch's MultiheadAttention works on [L, N, E]: y = x.transpose(0, 1)
    # viewed as (L, y.size(1), 2, 3). The batch entry sits in position 1 and
    # -1 is taken, so it becomes 0 (copy y's dim 1, the batch by its name).
    nodes = [helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[1, 0, 2]),
             helper.make_node("Shape", ["y"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "one"], ["b"], name="gather", axis=0),
             helper.make_node("Unsqueeze", ["b", "ax"], ["b1"], name="unsq"),
             helper.make_node("Concat", ["four", "b1", "minus_one", "three"], ["target"], name="cat", axis=0),
             helper.make_node("Reshape", ["y", "target"], ["z"], name="reshape")]
    inits = [init("one", np.array(1, np.int64)), init("ax", np.array([0], np.int64)),
             init("four", np.array([4], np.int64)), init("minus_one", np.array([-1], np.int64)),
             init("three", np.array([3], np.int64))]
    m = model(nodes, [fvi("x", ["N", 4, 6])], [fvi("z", [4, "N", 2, 3])], inits)
    net = int8rt.onnx.import_model(m)
    assert op_names(net) == ["Transpose", "Reshape"]
    assert np.array_equal(net.constant_data(net.node(1)["inputs"][1]), np.array([4, 0, -1, 3], np.int64))
    xs = {n: np.random.default_rng(n).standard_normal((n, 4, 6)).astype(np.float32) for n in (1, 3)}
    for n, out in zip((1, 3), _run_both_batches(m, lambda n: {"x": xs[n]})):
        assert np.array_equal(out["z"], xs[n].transpose(1, 0, 2).reshape(4, n, 2, 3))


def test_static_entries_of_a_shape_known_only_in_part_fold_and_fold_again():
    # q = x.view(x.size(0), -1, x.size(2) // 2), then q * sqrt(q.size(-1)), as
    # torch scales attention queries. ONNX shape inference cannot size q's
    # last dim (its data propagation stops at Div) until the first chain
    # folded, so this takes a second pass: no Shape, Sqrt or Cast is left.
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "zero"], ["b"], name="gather", axis=0),
             helper.make_node("Unsqueeze", ["b", "ax"], ["b1"], name="unsq"),
             helper.make_node("Gather", ["s", "two"], ["c"], name="gather_c", axis=0),
             helper.make_node("Div", ["c", "two"], ["h"], name="div"),
             helper.make_node("Unsqueeze", ["h", "ax"], ["h1"], name="unsq_h"),
             helper.make_node("Concat", ["b1", "minus_one", "h1"], ["target"], name="cat", axis=0),
             helper.make_node("Reshape", ["x", "target"], ["q"], name="reshape"),
             helper.make_node("Shape", ["q"], ["qs"], name="q_shape"),
             helper.make_node("Slice", ["qs", "minus_one", "big"], ["hd"], name="slice"),
             helper.make_node("Cast", ["hd"], ["hdf"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Sqrt", ["hdf"], ["scale"], name="sqrt"),
             helper.make_node("Mul", ["q", "scale"], ["y"], name="mul")]
    inits = [init("zero", np.array(0, np.int64)), init("ax", np.array([0], np.int64)),
             init("minus_one", np.array([-1], np.int64)), init("two", np.array(2, np.int64)),
             init("big", np.array([1 << 30], np.int64))]
    m = model(nodes, [fvi("x", ["N", "S", 8])], [fvi("y", ["N", None, 4])], inits)
    net = int8rt.onnx.import_model(m)
    assert op_names(net) == ["Reshape", "Mul"]
    assert np.isclose(net.constant_data(net.node(1)["inputs"][1]), np.float32(2.0)).all()
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    ctx = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    assert np.array_equal(ctx.run({"x": x})["y"], x.reshape(2, -1, 4) * np.float32(2.0))


def test_constant_nodes_and_all_constant_subgraphs_fold():
    # y = x * (a + Constant(c)); the Add has only constant inputs and disappears.
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    c = np.full((2, 3), 0.5, np.float32)
    nodes = [
        helper.make_node("Constant", [], ["c"], name="const_c", value=numpy_helper.from_array(c)),
        helper.make_node("Add", ["a", "c"], ["scale"], name="add_consts"),
        helper.make_node("Mul", ["x", "scale"], ["y"], name="mul"),
    ]
    net = int8rt.onnx.import_model(model(nodes, [fvi("x", ["N", 2, 3])], [fvi("y", ["N", 2, 3])], [init("a", a)]))
    assert op_names(net) == ["Mul"]
    assert np.array_equal(net.constant_data("scale"), a + c)
    assert net.find_tensor("a") == -1 and net.find_tensor("c") == -1  # only read by folded nodes


def test_outputs_may_be_inputs_or_constants_and_scalars_stay_scalars():
    nodes = [helper.make_node("Dropout", ["x"], ["d", "mask"], name="drop"),
             helper.make_node("Constant", [], ["k"], name="k_node", value_float=2.0)]
    m = model(nodes, [fvi("x", ["N", 2])], [fvi("d", ["N", 2]), fvi("x", ["N", 2]), fvi("k", [])], opset=13)
    net = int8rt.onnx.import_model(m)
    assert [net.tensor(i)["name"] for i in net.outputs()] == ["d", "x", "k"]
    assert op_names(net) == ["Dropout"] and net.node(0)["outputs"] == [net.find_tensor("d"), net.find_tensor("mask")]
    k = net.constant_data("k")
    assert k.shape == () and k.dtype == np.float32 and k == 2.0


def test_static_shape_chain_folds_without_dynamic_batch():
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")]
    net = int8rt.onnx.import_model(model(nodes, [fvi("x", [2, 3])], [fvi("y", [2, 3])]))
    assert np.array_equal(net.constant_data("s"), np.array([2, 3], np.int64))


def _squeeze_split_model(opset: int):
    if opset < 13:
        nodes = [helper.make_node("Squeeze", ["x"], ["sq"], name="squeeze", axes=[1]),
                 helper.make_node("Split", ["sq"], ["p", "q"], name="split", axis=1, split=[1, 3]),
                 helper.make_node("ReduceMean", ["q"], ["r"], name="mean", axes=[1], keepdims=1),
                 helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=1)]
        inits = []
    else:
        nodes = [helper.make_node("Squeeze", ["x", "sq_axes"], ["sq"], name="squeeze"),
                 helper.make_node("Split", ["sq", "split_sizes"], ["p", "q"], name="split", axis=1),
                 helper.make_node("ReduceMean", ["q", "mean_axes"] if opset >= 18 else ["q"], ["r"], name="mean",
                                  keepdims=1, **({} if opset >= 18 else {"axes": [1]})),
                 helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=-1)]
        inits = [init("sq_axes", np.array([1], np.int64)), init("split_sizes", np.array([1, 3], np.int64))]
        if opset >= 18:
            inits.append(init("mean_axes", np.array([1], np.int64)))
    return model(nodes, [fvi("x", ["N", 1, 4])], [fvi("p", ["N", 1]), fvi("y", ["N", 1])], inits, opset)


@pytest.mark.parametrize("opset", [11, 12, 13, 17, 18])
def test_opset_forms_normalise_to_the_newest(opset):
    net = int8rt.onnx.import_model(_squeeze_split_model(opset))
    assert op_names(net) == ["Squeeze", "Split", "ReduceMean", "Softmax"]
    squeeze, split, mean, softmax = net.nodes()
    assert "axes" not in squeeze["attrs"] and "split" not in split["attrs"] and "axes" not in mean["attrs"]
    assert np.array_equal(net.constant_data(squeeze["inputs"][1]), [1])
    assert np.array_equal(net.constant_data(split["inputs"][1]), [1, 3])
    assert np.array_equal(net.constant_data(mean["inputs"][1]), [1])
    assert softmax["attrs"]["axis"] == -1
    assert by_name(net, "q")["shape"] == [-1, 3] and by_name(net, "y")["shape"] == [-1, 1]


@pytest.mark.parametrize("dims", [["N", 3, 4], ["N", "T", 4]], ids=["static", "symbolic"])
def test_opset11_softmax_over_flattened_axes(dims):
    # Opset < 13 Softmax normalises over the axes from `axis` on, flattened;
    # with a symbolic dim the importer cannot tell axis 1 from the last.
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1),
             helper.make_node("LogSoftmax", ["x"], ["z"], name="lsm", axis=1)]
    m = model(nodes, [fvi("x", dims)], [fvi("y", dims), fvi("z", dims)], opset=11)
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    out = engine.run({"x": x})
    flat = x.reshape(2, 12).astype(np.float64)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    want = (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)
    np.testing.assert_allclose(out["y"], want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["z"], np.log(want), rtol=1e-5, atol=1e-6)


def test_clip_inputs_and_same_auto_pad_become_explicit():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2]),
             helper.make_node("Clip", ["c", "", "hi"], ["y"], name="clip")]
    inits = [init("w", np.ones((2, 1, 4, 4), np.float32)), init("hi", np.array(6, np.float32))]
    net = int8rt.onnx.import_model(model(nodes, [fvi("x", ["N", 1, 7, 7])], [fvi("y", ["N", 2, 4, 4])], inits, 11))
    conv, clip = net.nodes()
    # SAME_UPPER, in 7, stride 2, kernel 4: out 4, total pad (4-1)*2+4-7 = 3 -> begin 1, end 2
    assert conv["attrs"] == {"pads": [1, 1, 2, 2], "strides": [2, 2]}
    assert clip["inputs"][1] == -1 and net.tensor(clip["inputs"][2])["name"] == "hi"


def test_qdq_nodes_are_kept_with_their_quantized_type():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], name="quant"),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], name="dequant"),
             helper.make_node("DequantizeLinear", ["wq", "ws"], ["w"], name="dequant_w"),
             helper.make_node("MatMul", ["y", "w"], ["out"], name="mm")]
    inits = [init("s", np.array(0.1, np.float32)), init("zp", np.array(0, np.int8)),
             init("wq", np.array([[1, -2], [3, 4]], np.int8)), init("ws", np.array(0.5, np.float32))]
    net = int8rt.onnx.import_model(model(nodes, [fvi("x", ["N", 2])], [fvi("out", ["N", 2])], inits, 13))
    assert op_names(net) == ["QuantizeLinear", "DequantizeLinear", "DequantizeLinear", "MatMul"]
    assert net.node(0)["attrs"]["int8rt_quant_dtype"] == "int8"
    assert net.constant_data("wq").dtype == np.int8
    assert np.array_equal(net.constant_data("wq"), [[1, -2], [3, 4]])


def test_torch_export_imports():
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.fc = torch.nn.Linear(4 * 4 * 4, 5)

        def forward(self, x):
            y = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
            return self.fc(y.view(y.size(0), -1))

    torch.manual_seed(0)
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the legacy exporter warns that it is legacy
        warnings.simplefilter("ignore")
        torch.onnx.export(Net().eval(), (torch.randn(2, 3, 8, 8),), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=13, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    assert "Shape" in [n.op_type for n in proto.graph.node]  # the exporter's chain is really there
    net = int8rt.onnx.import_model(proto)
    assert op_names(net) == ["Conv", "Relu", "MaxPool", "Reshape", "Gemm"]
    reshape = net.node(3)
    assert np.array_equal(net.constant_data(reshape["inputs"][1]), [0, -1])
    assert by_name(net, "y")["shape"] == [-1, 5]



def test_batch_dependent_reshape_of_a_flattened_tensor() -> None:
    """Reshape(flat, [N, 8, 40, 40]) where flat is [N*320, 40]: the batch entry
    must become -1, not 0 (0 would copy flat's first dimension, N*320)."""
    from onnx import TensorProto, helper

    c = lambda name, vals: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=helper.make_tensor(name + "_v", TensorProto.INT64, [len(vals)], vals))
    nodes = [
        c("flat_shape", [-1, 40]),
        helper.make_node("Reshape", ["x", "flat_shape"], ["flat"]),
        helper.make_node("Shape", ["x"], ["s"]),
        c("zero", [0]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        c("rest", [8, 40, 40]),
        helper.make_node("Concat", ["n", "rest"], ["target"], axis=0),
        helper.make_node("Reshape", ["flat", "target"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 320, 40])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 40, 40])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    net = int8rt.onnx.import_model(model.SerializeToString())
    x = np.random.default_rng(0).standard_normal((3, 320, 40)).astype(np.float32)
    from int8rt import _testing

    y = _testing.Executor(net).run({"x": x})["y"]
    assert np.array_equal(y, x.reshape(3, 8, 40, 40))


def test_torch_transformer_encoder_layer_with_dynamic_batch_runs() -> None:
    """nn.TransformerEncoderLayer exported the way users export it (torch's
    default exporter, dynamic batch): the q / k / v split is a Gather of a
    run-time tensor by a constant index."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")  # torch.onnx.export's default (dynamo) exporter needs it
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0).eval()
    x = torch.randn(2, 10, 32)
    buf = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(layer, (x,), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    proto = onnx.load_from_string(buf.getvalue())
    assert "Gather" in [n.op_type for n in proto.graph.node]
    engine = int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    x3 = torch.randn(3, 10, 32)
    with torch.no_grad():
        want = layer(x3).numpy()
    got = engine.run({"x": x3.numpy()})["y"]
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))


def test_batch_dependent_expand_runs_as_a_shape_tensor() -> None:
    """A class token expanded to the batch (Shape -> Concat -> Expand, then
    Concat with the patches): the shape chain is kept and the engine's shape
    inference evaluates it for each batch size."""
    from onnx import TensorProto
    c = lambda name, vals: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=helper.make_tensor(name + "_v", TensorProto.INT64, [len(vals)], vals))
    cls = np.arange(4, dtype=np.float32).reshape(1, 1, 4)
    nodes = [
        helper.make_node("Shape", ["x"], ["n"], start=0, end=1),
        c("one", [1]),
        helper.make_node("Concat", ["n", "one", "one"], ["target"], axis=0),
        helper.make_node("Expand", ["cls", "target"], ["tokens"], name="expand"),
        helper.make_node("Concat", ["tokens", "x"], ["y"], axis=1),
    ]
    m = model(nodes, [fvi("x", ["N", 3, 4])], [fvi("y", ["N", 4, 4])], [init("cls", cls)])
    net = int8rt.onnx.import_model(m)
    assert {"Shape", "Concat", "Expand"} <= set(op_names(net))
    engine = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 4)).astype(np.float32)
        want = np.concatenate([np.broadcast_to(cls, (batch, 1, 4)), x], axis=1)
        np.testing.assert_array_equal(engine.run({"x": x})["y"], want)


def test_element_count_of_a_batch_dependent_shape_runs() -> None:
    """Shape -> ReduceProd (a tensor's element count) -> Reshape: the count is
    a shape tensor, evaluated for each run's batch."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("ReduceProd", ["s"], ["p"], name="count", keepdims=1),
             helper.make_node("Reshape", ["x", "p"], ["y"])]
    m = model(nodes, [fvi("x", ["N", 3])], [fvi("y", [None])])
    engine = int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32"))
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3)).astype(np.float32)
        np.testing.assert_array_equal(engine.run({"x": x})["y"], x.reshape(-1))


def test_constant_of_shape_of_a_batch_dependent_shape_runs() -> None:
    from onnx import TensorProto
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("ConstantOfShape", ["s"], ["z"], name="twos",
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])),
             helper.make_node("Add", ["x", "z"], ["y"])]
    m = model(nodes, [fvi("x", ["N", 3])], [fvi("y", ["N", 3])])
    assert "ConstantOfShape" in op_names(int8rt.onnx.import_model(m))
    engine = int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    for batch in (1, 4):
        x = np.arange(batch * 3, dtype=np.float32).reshape(batch, 3)
        np.testing.assert_array_equal(engine.run({"x": x})["y"], x + 2)


def test_torch_vit_class_token_with_dynamic_batch_runs() -> None:
    """A ViT-style model (patch conv, class token expanded to the batch,
    position embedding, a transformer layer, the class token's head) exported
    with torch's default exporter and a dynamic batch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")

    class ViT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.patch = torch.nn.Conv2d(3, 32, 4, 4)
            self.cls = torch.nn.Parameter(torch.randn(1, 1, 32))
            self.pos = torch.nn.Parameter(torch.randn(1, 17, 32))
            self.enc = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0, activation="gelu")
            self.head = torch.nn.Linear(32, 10)

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            return self.head(self.enc(x)[:, 0])

    torch.manual_seed(0)
    net = ViT().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(2, 3, 16, 16),), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    proto = onnx.load_from_string(buf.getvalue())
    engine = int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    for batch in (1, 5):
        x = torch.randn(batch, 3, 16, 16)
        with torch.no_grad():
            want = net(x).numpy()
        got = engine.run({"x": x.numpy()})["y"]
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max())), batch


def test_shape_of_a_tensor_onnx_cannot_size_is_computed_at_run_time() -> None:
    """ShuffleNetV2's channel shuffle (x.view(b, g, c // g, h, w).transpose(1,
    2).view(b, -1, h, w)) exported by torch's TorchScript exporter: ONNX shape
    inference cannot size the first view's output, so the second shuffle's
    Shape is evaluated at run time (a shape tensor) instead of refused."""
    torch = pytest.importorskip("torch")

    def shuffle(x, g):
        b, c, h, w = x.size()
        return x.view(b, g, c // g, h, w).transpose(1, 2).contiguous().view(b, -1, h, w)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = torch.nn.Conv2d(8, 8, 3, padding=1)
            self.c2 = torch.nn.Conv2d(8, 8, 1)

        def forward(self, x):  # a ShuffleNetV2 unit: split, branch, concat, shuffle
            x = shuffle(self.c1(x), 2)
            y, z = x.chunk(2, dim=1)
            x = torch.cat([y, self.c2(torch.cat([z, z], 1))[:, :4]], 1)
            return shuffle(x, 2).mean([2, 3])

    torch.manual_seed(0)
    net = Net().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(2, 8, 6, 6),), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, dynamo=False)
    engine = int8rt.build_engine(buf.getvalue(), int8rt.BuilderConfig(precision="fp32"))
    assert "Shape" in [layer["op"] for layer in engine.layers()]
    for batch in (1, 3):
        x = torch.randn(batch, 8, 6, 6)
        with torch.no_grad():
            want = net(x).numpy()
        np.testing.assert_allclose(engine.run({"x": x.numpy()})["y"], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_torch_recurrent_layers_with_dynamic_batch_run(cell: str) -> None:
    """nn.LSTM / nn.GRU (two layers, bidirectional, batch_first) exported with
    torch's default exporter and a dynamic batch: the zero initial state is
    Expand-ed to the batch (a shape tensor), the layers are ONNX LSTM / GRU."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(torch.nn, cell)(6, 8, num_layers=2, bidirectional=True, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[0]

    net = Net().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(2, 7, 6),), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    proto = onnx.load_from_string(buf.getvalue())
    assert cell in [n.op_type for n in proto.graph.node]
    engine = int8rt.build_engine(proto.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    for batch in (1, 4):
        x = torch.randn(batch, 7, 6)
        with torch.no_grad():
            want = net(x).numpy()
        np.testing.assert_allclose(engine.run({"x": x.numpy()})["y"], want, rtol=1e-5, atol=1e-5)
