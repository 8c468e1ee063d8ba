"""ONNX If (python/int8rt/onnx/_specialize.py, _subgraphs.py): an If whose
condition is known once input shapes are fixed and mode inputs bound is
replaced by the branch it takes, nested Ifs too; one decided at run time
becomes an If layer that runs the branch each run's condition names
(csrc/engine/ops/if_layer.cc). Every result is compared with ONNX Runtime
running the unchanged model."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import int8rt
import int8rt.onnx

ort = pytest.importorskip("onnxruntime")


def _const(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value)))


def mode_switch_model() -> onnx.ModelProto:
    """y = x * w (mode == 16000) or x + c (otherwise); each branch has its own
    initializer and both define a tensor named 't' (sibling scopes may)."""
    rng = np.random.default_rng(0)
    then = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["t"]), helper.make_node("Relu", ["t"], ["y16"])],
                             "then", [], [helper.make_tensor_value_info("y16", TensorProto.FLOAT, None)],
                             [numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "w")])
    other = helper.make_graph([helper.make_node("Add", ["x", "c"], ["t"]), helper.make_node("Neg", ["t"], ["y8"])],
                              "else", [], [helper.make_tensor_value_info("y8", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "c")])
    nodes = [_const("rate", np.int64(16000)), helper.make_node("Equal", ["mode", "rate"], ["is16"]),
             helper.make_node("If", ["is16"], ["y"], then_branch=then, else_branch=other)]
    graph = helper.make_graph(nodes, "mode", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
                                              helper.make_tensor_value_info("mode", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def squeeze_if_model() -> onnx.ModelProto:
    """PyTorch's scripted ``x.squeeze(-1) if x.size(-1) == 1 else x.mean(-1)``,
    with a nested ``relu if batch != 1``, and a second If using the same
    branch-local names (``s``, ``y``): both are inlined, renamed apart."""
    def inner() -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node("Shape", ["s"], ["s_shape"]), _const("zero", np.array([0], np.int64)),
             helper.make_node("Gather", ["s_shape", "zero"], ["batch"]), _const("one", np.array([1], np.int64)),
             helper.make_node("Equal", ["batch", "one"], ["b1"]), helper.make_node("Squeeze", ["b1"], ["b1s"]),
             helper.make_node("If", ["b1s"], ["r"],
                              then_branch=helper.make_graph([helper.make_node("Identity", ["s"], ["r1"])], "i1", [],
                                                            [helper.make_tensor_value_info("r1", TensorProto.FLOAT, None)]),
                              else_branch=helper.make_graph([helper.make_node("Relu", ["s"], ["r2"])], "i2", [],
                                                            [helper.make_tensor_value_info("r2", TensorProto.FLOAT, None)]))],
            "g", [], [helper.make_tensor_value_info("r", TensorProto.FLOAT, None)])

    def squeeze_or_mean(src: str, out: str, k: int) -> list[onnx.NodeProto]:
        then = inner()
        then.node.insert(0, helper.make_node("Squeeze", [src, f"axis{k}"], ["s"]))
        other = helper.make_graph([helper.make_node("ReduceMean", [src], ["m"], axes=[-1], keepdims=0),
                                   helper.make_node("Identity", ["m"], ["y"])], "mean", [],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        return [_const(f"axis{k}", np.array([-1], np.int64)), helper.make_node("Shape", [src], [f"shape{k}"]),
                _const(f"last{k}", np.array([2], np.int64)), helper.make_node("Gather", [f"shape{k}", f"last{k}"], [f"len{k}"]),
                _const(f"one{k}", np.array([1], np.int64)), helper.make_node("Equal", [f"len{k}", f"one{k}"], [f"c{k}"]),
                helper.make_node("Squeeze", [f"c{k}"], [f"cs{k}"]),
                helper.make_node("If", [f"cs{k}"], [out], then_branch=then, else_branch=other)]

    nodes = squeeze_or_mean("x", "a", 0) + [helper.make_node("Neg", ["x"], ["xn"])] + squeeze_or_mean("xn", "b", 1)
    nodes.append(helper.make_node("Sub", ["a", "b"], ["y"]))
    graph = helper.make_graph(nodes, "sq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "L"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _ort(model: onnx.ModelProto, feeds: dict) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _fp32(network) -> int8rt.Engine:
    return int8rt.build_engine(network, int8rt.BuilderConfig(precision="fp32"))


@pytest.mark.parametrize("mode", [16000, 8000])
def test_a_bound_mode_input_selects_its_branch(mode: int) -> None:
    model = mode_switch_model()
    onnx.checker.check_model(model)
    network = int8rt.onnx.import_model(model, input_values={"mode": mode})
    assert [network.tensor(i)["name"] for i in network.inputs()] == ["x"]
    assert "If" not in [n["op"] for n in network.nodes()]
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    got = _fp32(network).run({"x": x})["y"]
    np.testing.assert_array_equal(got, _ort(model, {"x": x, "mode": np.array(mode, np.int64)}))


def test_a_run_time_condition_picks_the_branch_on_every_run() -> None:
    model = mode_switch_model()
    network = int8rt.onnx.import_model(model)
    assert [n["op"] for n in network.nodes()] == ["Equal", "If"]
    then, other = (network.nodes()[1]["attrs"][k] for k in ("then_branch", "else_branch"))
    # x is a capture (an input of the node and of both branches); w and c are each branch's own constants
    assert [then.tensor(i)["name"] for i in then.inputs()] == ["x"] == [other.tensor(i)["name"] for i in other.inputs()]
    engine = _fp32(network)
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    for mode in (16000, 8000, 16000, 0):
        feeds = {"x": x, "mode": np.array(mode, np.int64)}
        np.testing.assert_array_equal(engine.run(feeds)["y"], _ort(model, feeds))


def test_bound_values_and_shapes_are_checked() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match="'rate', which is not an input"):
        int8rt.onnx.import_model(mode_switch_model(), input_values={"rate": 1})
    with pytest.raises(int8rt.InvalidArgumentError, match=r"input_values\['mode'\] has shape \[2\]"):
        int8rt.onnx.import_model(mode_switch_model(), input_values={"mode": [1, 2]})
    with pytest.raises(int8rt.InvalidArgumentError, match="contradicts the model's fixed dimension 4"):
        int8rt.onnx.import_model(mode_switch_model(), input_shapes={"x": [2, 5]}, input_values={"mode": 1})


@pytest.mark.parametrize("shape", [(1, 3, 1), (2, 3, 1), (2, 3, 5)])
def test_shape_conditions_fold_once_shapes_are_fixed(shape: tuple) -> None:
    model = squeeze_if_model()
    onnx.checker.check_model(model)
    network = int8rt.onnx.import_model(model, input_shapes={"x": list(shape)})
    ops = [n["op"] for n in network.nodes()]
    assert "If" not in ops
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    got = _fp32(network).run({"x": x})["y"]
    np.testing.assert_allclose(got, _ort(model, {"x": x}), rtol=1e-6, atol=1e-7)


def test_shape_conditions_on_dynamic_dimensions_are_decided_per_run() -> None:
    model = squeeze_if_model()
    network = int8rt.onnx.import_model(model)
    assert [n["op"] for n in network.nodes()].count("If") == 2
    engine = _fp32(network)
    for shape in ((1, 3, 1), (2, 3, 5), (2, 3, 1), (1, 3, 4)):
        x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(engine.run({"x": x})["y"], _ort(model, {"x": x}), rtol=1e-6, atol=1e-7)


def test_the_callers_model_is_left_unchanged() -> None:
    model = mode_switch_model()
    before = model.SerializeToString()
    int8rt.onnx.import_model(model, input_shapes={"x": [2, 4]}, input_values={"mode": 8000})
    assert model.SerializeToString() == before


def test_specialize_returns_the_graph_onnx_runtime_runs_alike() -> None:
    model = squeeze_if_model()
    special = int8rt.onnx.specialize(model, input_shapes={"x": [2, 3, 1]})
    onnx.checker.check_model(special)
    assert "If" not in [n.op_type for n in special.graph.node]
    x = np.random.default_rng(4).standard_normal((2, 3, 1)).astype(np.float32)
    np.testing.assert_array_equal(_ort(special, {"x": x}), _ort(model, {"x": x}))
