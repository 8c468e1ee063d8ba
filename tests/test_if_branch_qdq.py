"""The Q/DQ export inside If branches (python/int8rt/_qdq_scopes.py,
benchmarks/RESULTS.md §106): a branch the INT8 build lowered gets its
QuantizeLinear / DequantizeLinear pairs and int8 weights inside the branch
subgraph, so ONNX Runtime (or TensorRT) runs that branch in int8 too; a
branch calibration never took stays as the model had it.

On test_if_branch_int8's models (an If on a 0-d int64 rate, three 1-D convs
with Relus per branch; a nested If). The oracle is ONNX Runtime running the
Q/DQ graph as the ONNX spec defines it (optimizations off:
test_qdq_export_engine's reasoning): the engine computes the same quantized
values in integers and its last conv writes float32 from them (the conv
head: lower_int8_conv_head.cc), so the outputs agree to float32 rounding;
the float branch agrees with the FP32 engine to float32 rounding. Before this change the export warned and left every branch
float32, and a model with a 1-D Conv failed to export at all (the importer's
``x_2d`` tensors had "no counterpart in the ONNX graph").
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

import int8rt  # noqa: E402
from onnx_models import fvi, init, model  # noqa: E402
from test_if_branch_int8 import RNG, _batches, _build, _chain, _feeds, nested_model, rate_branches_model  # noqa: E402
from test_qdq_export_engine import spec_session  # noqa: E402

THEN, ELSE = "pick/then_branch/", "pick/else_branch/"
# A branch's QuantizeLinear nodes: x, c1, r1, c2, r2. Its last conv writes float32 (its output leaves the
# network only through the 1-D lifting's Squeeze: engine/lower_int8_conv_head.cc, RESULTS_accuracy.md acc56),
# so y has no QuantizeLinear and ONNX Runtime's Conv there reads DequantizeLinear'd int8 and writes float.
Q_PER_CHAIN = 5
QDQ = ("QuantizeLinear", "DequantizeLinear")


def branch(graph: "onnx.GraphProto", *path: str) -> "onnx.GraphProto":
    """The subgraph at path "node/attr" steps, e.g. branch(g, "pick/then_branch")."""
    for step in path:
        node, attr = step.split("/")
        graph = next(a.g for n in graph.node if n.name == node for a in n.attribute if a.name == attr)
    return graph


def ops(graph: "onnx.GraphProto") -> list[str]:
    return [n.op_type for n in graph.node]


def _agree(path, engine: int8rt.Engine, rate: int, extra=None) -> None:
    """ONNX Runtime on the Q/DQ model against the engine, to float32 rounding: an int8 branch's int8 layers
    compute the same codes, and its last conv writes float32 from them (Q_PER_CHAIN); a branch left float32
    is ONNX Runtime's float Conv against the FP32 engine's."""
    session = spec_session(path)
    for feed in _feeds(rate):
        feed.update(extra or {})
        want, got = engine.run(feed)["y"], session.run(None, feed)[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.fixture(scope="module")
def net() -> "onnx.ModelProto":
    return rate_branches_model()


@pytest.fixture(scope="module")
def fp32(net) -> int8rt.Engine:
    return int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))


def test_the_taken_branch_gets_qdq_and_int8_weights_the_other_stays_float(net, fp32, tmp_path) -> None:
    engine = _build(net, _batches((16000,)), "minmax")
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(net, engine, path)
    out = onnx.load(str(path))
    assert ops(out.graph) == ["Equal", "If"]  # the If's boundary is float32, as in the engine
    then = branch(out.graph, "pick/then_branch")
    assert ops(then).count("Conv") == 3 and ops(then).count("QuantizeLinear") == Q_PER_CHAIN
    # x is quantized inside the branch, before its first conv, reading the outer name
    q_x = next(n for n in then.node if n.op_type == "QuantizeLinear")
    assert q_x.input[0] == "x"
    # each conv reads int8 weights through a per-channel DequantizeLinear: the engine's
    inits = {i.name: numpy_helper.to_array(i) for i in then.initializer}
    layers = {n["name"]: n for n in engine.network().nodes()}
    lowered = layers["pick"]["attrs"]["then_branch"]
    for conv in (n for n in then.node if n.op_type == "Conv"):
        dq = next(n for n in then.node if n.output[0] == conv.input[1])
        assert dq.op_type == "DequantizeLinear" and inits[dq.input[0]].dtype == np.int8
        qconv = next(n for n in lowered.nodes() if n["name"] == conv.name)
        engine_q = np.asarray(lowered.constant_data(qconv["inputs"][1])).astype(np.int8)
        assert np.array_equal(inits[dq.input[0]].reshape(-1), engine_q.reshape(-1)), conv.name
        assert np.array_equal(inits[dq.input[1]], np.asarray(qconv["attrs"]["w_scales"], np.float32)), conv.name
    # the float weights only the then-branch read are gone; the else-branch's stay
    assert sorted(i.name for i in out.graph.initializer) == ["rate", "v1", "v2", "v3"]
    assert ops(branch(out.graph, "pick/else_branch")) == ["Conv", "Relu", "Conv", "Relu", "Conv"]
    _agree(path, engine, 16000)
    _agree(path, fp32, 8000)


def test_both_branches_calibrated_both_exported(net, tmp_path) -> None:
    engine = _build(net, _batches((16000, 8000)), "minmax")
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(net, engine, path)
    out = onnx.load(str(path))
    for attr in ("then_branch", "else_branch"):
        assert ops(branch(out.graph, f"pick/{attr}")).count("QuantizeLinear") == Q_PER_CHAIN, attr
    _agree(path, engine, 16000)
    _agree(path, engine, 8000)


def test_a_nested_if_is_exported_under_both_scopes(tmp_path) -> None:
    net = nested_model()
    engine = _build(net, [{**b, "loud": np.array(True)} for b in _batches((16000,))], "minmax")
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(net, engine, path)
    out = onnx.load(str(path))
    assert ops(branch(out.graph, "pick/then_branch")) == ["If"]
    assert ops(branch(out.graph, "pick/then_branch", "inner/then_branch")).count("QuantizeLinear") == Q_PER_CHAIN
    for float_branch in (("pick/then_branch", "inner/else_branch"), ("pick/else_branch",)):
        assert not set(QDQ) & set(ops(branch(out.graph, *float_branch))), float_branch
    for loud in (True, False):
        extra = {"loud": np.array(loud)}
        if loud:
            _agree(path, engine, 16000, extra)
        else:
            _agree(path, int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32")), 16000, extra)


def test_unnamed_branch_nodes_get_the_importers_names(tmp_path) -> None:
    net = rate_branches_model()
    for attr in branch(net.graph, "pick/then_branch"), branch(net.graph, "pick/else_branch"):
        for n in attr.node:
            n.name = ""
    engine = _build(net, _batches((16000,)), "minmax")
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(net, engine, path)
    then = branch(onnx.load(str(path)).graph, "pick/then_branch")
    assert ops(then).count("QuantizeLinear") == Q_PER_CHAIN
    _agree(path, engine, 16000)


def test_a_top_level_1d_conv_chain_exports_on_its_onnx_tensors(tmp_path) -> None:
    """The 1-D lifting's x_2d / t_c1_2d are written on x / t_c1 (failed before with "no counterpart")."""
    weights = {"w1": (8, 4, 3), "w2": (8, 8, 3), "w3": (6, 8, 1)}
    net = model(_chain("t_", 3, list(weights)), [fvi("x", ["N", 4, "T"])], [fvi("y", ["N", 6, "T"])],
                [init(k, RNG.standard_normal(s).astype(np.float32) * 0.4) for k, s in weights.items()])
    net.graph.node[-1].output[0] = "y"
    engine = _build(net, [{"x": b["x"]} for b in _batches((16000,))], "minmax")
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(net, engine, path)
    out = onnx.load(str(path))
    quantized = {n.input[0] for n in out.graph.node if n.op_type == "QuantizeLinear"}
    assert quantized == {"x", "t_c1_float", "t_r1_float", "t_c2_float", "t_r2_float"}, quantized  # y float32
    session = spec_session(path)
    step = engine.scales()["y"]
    for feed in _feeds(16000):
        got, want = session.run(None, {"x": feed["x"]})[0], engine.run({"x": feed["x"]})["y"]
        assert np.abs(got - want).max() <= step, np.abs(got - want).max()


def test_symmetric_export_from_scales_names_branch_layers(net, tmp_path) -> None:
    """export_qdq(model, scales): the branch lowered from the scoped scales
    (static length: the symmetric build has no calibration batch to shape a
    dynamic one), fp32_layers by scoped name."""
    static = onnx.ModelProto()
    static.CopyFrom(net)
    static.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 32
    engine = _build(static, _batches((16000,)), "minmax")
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(static, engine.scales(), path, fp32_layers=[THEN + "t_conv2"])
    then = branch(onnx.load(str(path)).graph, "pick/then_branch")
    by_name = {n.name: n for n in then.node}
    weight_dqs = {n.output[0] for n in then.node if n.op_type == "DequantizeLinear"}
    assert by_name["t_conv1"].input[1] in weight_dqs and by_name["t_conv3"].input[1] in weight_dqs
    assert by_name["t_conv2"].input[1] == "w2"  # kept float32 by name
    with pytest.raises(int8rt.InvalidArgumentError, match="fp32_layers"):
        int8rt.export_qdq(static, engine.scales(), tmp_path / "bad.onnx", fp32_layers=[ELSE + "no_such_conv"])


def test_onnx_runtime_runs_the_exported_branch_on_its_int8_kernels(net, tmp_path) -> None:
    """With its optimizations on, ONNX Runtime fuses the branch's Q/DQ into QLinearConv."""
    engine = _build(net, _batches((16000,)), "minmax")
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(net, engine, path)
    so = ort.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "ort_optimized.onnx")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    optimized = onnx.load(so.optimized_model_filepath)
    assert ops(branch(optimized.graph, "pick/then_branch")).count("QLinearConv") == 2  # the last conv: float32 output (Q_PER_CHAIN)
    assert "QLinearConv" not in ops(branch(optimized.graph, "pick/else_branch"))


def test_matmuls_and_a_table_in_a_branch_on_a_bool_condition(tmp_path) -> None:
    """MatMul -> Sigmoid -> MatMul in each branch of an If on a bool input:
    the taken branch's QGemms and table are written as Q/DQ (the MatMuls'
    weights per output column, axis 1), within one step of the engine."""
    from onnx import TensorProto, helper

    def body(tag: str) -> "onnx.GraphProto":
        return helper.make_graph([
            helper.make_node("MatMul", ["x", f"{tag}w1"], [f"{tag}h"], name=f"{tag}mm1"),
            helper.make_node("Sigmoid", [f"{tag}h"], [f"{tag}s"], name=f"{tag}sig"),
            helper.make_node("MatMul", [f"{tag}s", f"{tag}w2"], [f"{tag}y"], name=f"{tag}mm2")],
            tag, [], [fvi(f"{tag}y", None)])

    net = model([helper.make_node("If", ["flag"], ["y"], name="pick", then_branch=body("t_"), else_branch=body("e_"))],
                [fvi("x", ["N", 16]), helper.make_tensor_value_info("flag", TensorProto.BOOL, [])], [fvi("y", ["N", 8])],
                [init(f"{t}w1", RNG.standard_normal((16, 24)).astype(np.float32) * 0.3) for t in ("t_", "e_")] +
                [init(f"{t}w2", RNG.standard_normal((24, 8)).astype(np.float32) * 0.3) for t in ("t_", "e_")])
    batches = [{"x": RNG.standard_normal((8, 16)).astype(np.float32), "flag": np.array(True)} for _ in range(4)]
    engine = int8rt.build_engine(net, int8rt.BuilderConfig(
        calibrator=int8rt.make_calibrator(batches, algorithm="minmax"), accuracy_check=False))
    assert [layer.op for layer in engine.int8_plan().layers] == ["int8rt.QGemm", "int8rt.QLut", "int8rt.QGemm"]
    path = tmp_path / "qdq.onnx"
    int8rt.export_qdq(net, engine, path)
    then = branch(onnx.load(str(path)).graph, "pick/then_branch")
    assert ops(then).count("QuantizeLinear") == 3  # x, h, s (the last QGemm writes float32 y)
    weight_dqs = [n for n in then.node if n.op_type == "DequantizeLinear" and n.output[0] in
                  {m.input[1] for m in then.node if m.op_type == "MatMul"}]
    assert [next(a.i for a in n.attribute if a.name == "axis") for n in weight_dqs] == [1, 1]
    session, step = spec_session(path), engine.scales()[THEN + "t_y"]  # one step of y's calibrated grid
    for n in (1, 5):
        feed = {"x": RNG.standard_normal((n, 16)).astype(np.float32), "flag": np.array(True)}
        got, want = session.run(None, feed)[0], engine.run(feed)["y"]
        assert np.abs(got - want).max() <= step, np.abs(got - want).max()
