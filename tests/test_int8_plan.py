"""Engine.int8_plan(): the INT8 lowering's decisions as data, checked against
the lowered network the engine runs (every int8 tensor, its producer, scale and
readers; every int8 layer and the source nodes it covers, merged ones listed;
every Quantize / Dequantize, what reads it and why), on a small net with a
conv+relu, max and average pools, an add+relu, a two-node element-wise table
region, a channel concat, a global pool + flatten + gemm, and two sibling 1x1
convs that the graph passes merge into one (a network output: float32 from the
conv); the max pool's output is also a network output (a Dequantize)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import int8rt  # noqa: E402
from int8rt import _core  # noqa: E402
from int8rt.onnx import import_model  # noqa: E402
from onnx import helper  # noqa: E402

from onnx_models import fvi, init, model  # noqa: E402

SCALE_OF = {"x": 0.02, "r1": 0.03, "p1": 0.031, "p2": 0.029, "a": 0.04, "m": 0.021, "t": 0.022, "cat": 0.05,
            "g": 0.023, "flat": 0.023, "hc": 0.06}


def plan_net() -> onnx.ModelProto:
    rng = np.random.default_rng(7)
    f32 = np.float32
    inits = [
        init("w1", rng.standard_normal((8, 3, 3, 3)).astype(f32) * 0.3),
        init("b1", rng.standard_normal(8).astype(f32) * 0.1),
        init("wh1", rng.standard_normal((4, 8, 1, 1)).astype(f32) * 0.3),
        init("wh2", rng.standard_normal((6, 8, 1, 1)).astype(f32) * 0.3),
        init("half", np.array(0.5, f32)),
        init("quarter", np.array(0.25, f32)),
        init("fc_w", rng.standard_normal((5, 16)).astype(f32) * 0.2),
        init("fc_b", rng.standard_normal(5).astype(f32) * 0.1),
    ]
    node = helper.make_node
    nodes = [
        node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("Relu", ["c1"], ["r1"], name="relu1"),
        node("MaxPool", ["r1"], ["p1"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
        node("AveragePool", ["r1"], ["p2"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2]),
        node("Add", ["p1", "p2"], ["s"], name="add"),
        node("Relu", ["s"], ["a"], name="relu2"),
        node("Mul", ["a", "half"], ["m"], name="mul"),            # the table region: mul -> addc
        node("Add", ["m", "quarter"], ["t"], name="addc"),
        node("Concat", ["t", "p1"], ["cat"], name="concat", axis=1),
        node("GlobalAveragePool", ["cat"], ["g"], name="gap"),
        node("Flatten", ["g"], ["flat"], name="flatten", axis=1),
        node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
        node("Conv", ["r1", "wh1"], ["h1"], name="h1", kernel_shape=[1, 1]),  # siblings merged by the passes
        node("Conv", ["r1", "wh2"], ["h2"], name="h2", kernel_shape=[1, 1]),
        node("Concat", ["h1", "h2"], ["hc"], name="hconcat", axis=1),
    ]
    # hc (the merged convs' output) is a network output written in float32 by its conv
    # (lower_int8_conv_head.cc); p1, an int8 max pool's output, is one dequantized.
    return model(nodes, [fvi("x", [1, 3, 8, 8])], [fvi("y", [1, 5]), fvi("hc", [1, 10, 8, 8]), fvi("p1", [1, 8, 4, 4])],
                 inits)


@pytest.fixture(scope="module")
def built():
    native = _core.Builder(import_model(plan_net()), "int8", {}, True).build(SCALE_OF)
    return native, native.network()


def test_plan_matches_the_lowered_network(built) -> None:
    native, net = built
    plan = int8rt.Engine(native).int8_plan()
    tensors, nodes = net.tensors(), net.nodes()
    producer = {o: n for n in nodes for o in n["outputs"]}
    by_name = {t["name"]: i for i, t in enumerate(tensors)}
    readers: dict[int, list[str]] = {}
    for n in nodes:
        for i in n["inputs"]:
            readers.setdefault(i, []).append(n["name"])
    ops = {n["name"]: n["op"] for n in nodes}

    # Every int8 activation tensor of the network is in the plan, once.
    int8_ids = {i for i, t in enumerate(tensors) if t["dtype"] == "int8" and not t["is_constant"]}
    assert sorted(by_name[t.int8_tensor] for t in plan.tensors) == sorted(int8_ids)
    scale_of = {t.int8_tensor: t.scale for t in plan.tensors}
    for t in plan.tensors:
        tid = by_name[t.int8_tensor]
        p = producer[tid]
        assert t.producer == p["name"], t
        assert t.produced_in_int8 == (p["op"] != "int8rt.Quantize"), t
        if p["op"] == "int8rt.Quantize":
            assert tensors[p["inputs"][0]]["name"] == t.tensor
            expected = p["attrs"]["scale"]
        elif p["op"] in ("int8rt.QMaxPool", "int8rt.QFlatten"):  # the input's scale passes through
            expected = scale_of[tensors[p["inputs"][0]]["name"]]
        else:
            expected = p["attrs"]["out_scale"]
            assert np.float32(t.scale) == np.float32(SCALE_OF[t.tensor]), t
        assert np.float32(t.scale) == np.float32(expected), (t, expected)
        assert t.readers == [r for r in readers.get(tid, []) if ops[r] != "int8rt.Dequantize"], t

    # Every int8 layer, with the source nodes it covers.
    layers = {layer.name: layer for layer in plan.layers}
    converts_ops = ("int8rt.Quantize", "int8rt.Dequantize")
    assert set(layers) == {n["name"] for n in nodes if n["op"].startswith("int8rt.") and n["op"] not in converts_ops}
    for layer in plan.layers:
        assert layer.op == ops[layer.name]
    lut = [layer for layer in plan.layers if layer.op == "int8rt.QLut"]
    assert [list(layer.sources) for layer in lut] == [["mul", "addc"]]
    by_op = {layer.op: list(layer.sources) for layer in plan.layers if layer.op != "int8rt.QConv"}
    assert by_op["int8rt.QAdd"] == ["add", "relu2"]           # the Relu fused into the add
    assert by_op["int8rt.QMaxPool"] == ["maxpool"]
    assert by_op["int8rt.QAveragePool"] == ["avgpool"]
    assert by_op["int8rt.QConcat"] == ["concat"]
    assert by_op["int8rt.QGlobalAveragePool"] == ["gap"]
    assert by_op["int8rt.QFlatten"] == ["flatten"]
    assert by_op["int8rt.QGemm"] == ["fc"]                    # float output: a layer, no int8 tensor
    convs = sorted(list(layer.sources) for layer in plan.layers if layer.op == "int8rt.QConv")
    assert convs == [["conv1"], ["h1", "h2"]]                 # the 1x1 siblings merged by fuse_horizontal

    # Every conversion, what reads it and why.
    outputs = {tensors[i]["name"] for i in net.outputs()}
    converts = {c.name: c for c in plan.converts}
    assert set(converts) == {n["name"] for n in nodes if n["op"] in converts_ops}
    for c in plan.converts:
        n = next(n for n in nodes if n["name"] == c.name)
        assert c.op == n["op"]
        out = n["outputs"][0]
        assert c.readers == readers.get(out, []), c
        if c.op == "int8rt.Quantize":
            assert tensors[n["inputs"][0]]["name"] == c.tensor
            assert c.readers and all(r in layers for r in c.readers)
            assert not c.network_output
        else:
            assert tensors[out]["name"] == c.tensor
            assert c.network_output == (c.tensor in outputs)
            assert c.network_output or c.readers
        assert np.float32(c.scale) == np.float32(n["attrs"]["scale"])
        for r in c.readers:
            assert f"'{r}'" in c.reason, c.reason
    assert [c.tensor for c in plan.converts if c.op == "int8rt.Quantize"] == ["x"]
    assert [c.tensor for c in plan.converts if c.network_output] == ["p1"]
    assert "hc" not in {t.tensor for t in plan.tensors}  # float32 from the merged conv


def test_plan_absent_for_fp32_and_loaded_engines(built, tmp_path) -> None:
    native, _ = built
    assert _core.Builder(import_model(plan_net()), "fp32", {}, True).build({}).int8_plan() is None
    path = tmp_path / "plan.i8rt"
    int8rt.Engine(native).save(path)
    assert int8rt.Engine.load(path).int8_plan() is None
