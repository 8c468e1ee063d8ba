"""An Expand read only by broadcasting Add / Sub / Mul / Div that already have its extent is dropped at import
(python/int8rt/onnx/_fold.py, ``Folder._broadcast_covers``; RESULTS.md §269).

PyTorch's ``x * y.expand_as(x)`` (timm's ECA gate: Shape -> Concat -> Expand -> Mul) imports as Mul(x, gate):
the FP32 engine's bytes are those of the model written without the Expand, and the INT8 engine's too, now with
the gate Mul an int8 layer (int8rt.QChannelMul) instead of a float Expand and Mul; batch 1 and 3, 1 and 2 threads.
Expands that do change a shape stay and run as ONNX Runtime runs them: a target entry the other operand lacks
(its dim 1, or a static first dim where the target holds the batch), a reader that does not broadcast (Concat),
the Expand also a graph output, two Expands into one Mul (only one may go)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt
import int8rt.onnx
from int8rt.data_calibrator import make_calibrator
from onnx_models import fvi, init, model, op_names

ort = pytest.importorskip("onnxruntime")

F32 = np.float32
C, H, W = 16, 6, 5


def _inits(rng: np.random.Generator) -> list:
    return [init("w", (rng.standard_normal((C, 3, 3, 3)) * 0.3).astype(F32)),
            init("b", (rng.standard_normal(C) * 0.1).astype(F32)),
            init("w2", (rng.standard_normal((4, C, 1, 1)) * 0.3).astype(F32)),
            init("zero", np.array([0], np.int64)), init("one", np.array([1], np.int64)),
            init("chw", np.array([C, H, W], np.int64)), init("axes", np.array([2, 3], np.int64))]


def eca(expand: bool = True, batch_from: str = "x", target: str = "batch", reader: str = "Mul",
        also_output: bool = False, second_expand: bool = False, other: str = "r") -> object:
    """conv -> Relu (r) -> ReduceMean over H, W -> Sigmoid (g, [N, C, 1, 1]) -> Expand(g, Concat(Shape(batch_from)[0:1],
    [C, H, W])) -> reader(other, expanded) -> 1x1 conv -> y; ``expand=False``: reader(other, g), the same model
    written without the Expand. ``target``: "batch" (as above), "const" ([2, C, H, W], a static batch of 2) or
    "wide" ([N, C, H, W] read against ``other`` = "g2", a [N, C, 1, 1] tensor: the Expand gives the extent)."""
    rng = np.random.default_rng(5)
    inits = _inits(rng) + [init("const_target", np.array([2, C, H, W], np.int64)),
                           init("ones", np.ones((1, C, H, W), F32)),
                           init("w2c", (rng.standard_normal((4, 2 * C, 1, 1)) * 0.3).astype(F32))]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("ReduceMean", ["r", "axes"], ["m"], name="mean", keepdims=1),
             helper.make_node("Sigmoid", ["m"], ["g"], name="gate"),
             helper.make_node("Neg", ["g"], ["g2"], name="neg"),
             helper.make_node("Shape", [batch_from], ["s"], name="shape"),
             helper.make_node("Slice", ["s", "zero", "one"], ["n"], name="batch"),
             helper.make_node("Concat", ["n", "chw"], ["t"], name="target", axis=0)]
    gate = "g"
    if expand:
        nodes.append(helper.make_node("Expand", ["g", "const_target" if target == "const" else "t"], ["e"],
                                      name="expand"))
        gate = "e"
    operand = "e2" if second_expand else other
    if second_expand:
        nodes.append(helper.make_node("Expand", ["g2", "t"], ["e2"], name="expand2"))
    if reader == "Concat":  # two inputs, but no broadcast: the channels of both, so [N, 2C, H, W]
        nodes += [helper.make_node("Concat", [operand, gate], ["p"], name="gate_op", axis=1),
                  helper.make_node("Conv", ["p", "w2c"], ["y"], name="conv2", kernel_shape=[1, 1])]
    else:
        nodes += [helper.make_node(reader, [operand, gate], ["p"], name="gate_op"),
                  helper.make_node("Conv", ["p", "w2"], ["y"], name="conv2", kernel_shape=[1, 1])]
    outputs = [fvi("y", ["N", 4, H, W])] + ([fvi(gate, ["N", C, H, W])] if also_output else [])
    return model(nodes, [fvi("x", ["N", 3, H, W])], outputs, inits, opset=18)


def _x(n: int) -> np.ndarray:
    return np.random.default_rng(40 + n).uniform(-1.5, 1.5, (n, 3, H, W)).astype(F32)


def _fp32(m, threads: int = 1) -> int8rt.ExecutionContext:
    int8rt.set_num_threads(threads)
    return int8rt.build_engine(m.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).create_execution_context()


def _int8(m) -> int8rt.Engine:
    calib = np.concatenate([_x(8), np.random.default_rng(9).uniform(-2, 2, (8, 3, H, W)).astype(F32)])
    config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    config.calibrator = make_calibrator({"x": calib}, algorithm="minmax", batch_size=8)
    return int8rt.build_engine(m.SerializeToString(), config)


@pytest.mark.parametrize("reader", ["Mul", "Add", "Sub", "Div"])
def test_expand_as_imports_as_the_broadcast_and_runs_the_same_bytes(reader):
    with_expand, without = eca(reader=reader), eca(expand=False, reader=reader)
    net = int8rt.onnx.import_model(with_expand)
    assert "Expand" not in op_names(net) and "Shape" not in op_names(net)
    assert op_names(net) == op_names(int8rt.onnx.import_model(without))
    for threads in (1, 2):
        a, b = _fp32(with_expand, threads), _fp32(without, threads)
        for n in (1, 3):
            assert a.run({"x": _x(n)})["y"].tobytes() == b.run({"x": _x(n)})["y"].tobytes(), (reader, threads, n)
    int8rt.set_num_threads(1)


def test_a_batch_taken_from_another_tensor_of_the_same_batch_and_a_constant_target():
    # the target's batch read from the gate's input rather than the network input
    net = int8rt.onnx.import_model(eca(batch_from="r"))
    assert "Expand" not in op_names(net)
    ours, ref = _fp32(eca(batch_from="r")), _fp32(eca(expand=False))
    assert ours.run({"x": _x(3)})["y"].tobytes() == ref.run({"x": _x(3)})["y"].tobytes()
    # a constant target [2, C, H, W]: its 2 is no entry of r's dynamic batch: kept
    assert "Expand" in op_names(int8rt.onnx.import_model(eca(target="const")))


def test_int8_gate_mul_runs_on_int8_data_with_the_bytes_of_the_model_without_expand():
    with_expand, without = _int8(eca()), _int8(eca(expand=False))
    layers = {layer["name"]: layer for layer in with_expand.layers()}
    assert layers["gate_op"]["op"] == "int8rt.QChannelMul", layers["gate_op"]
    assert not any(layer["op"] == "Expand" for layer in with_expand.layers())
    assert [(la["op"], la["precision"]) for la in with_expand.layers()] == \
        [(la["op"], la["precision"]) for la in without.layers()]
    for threads in (1, 2):
        int8rt.set_num_threads(threads)
        a, b = with_expand.create_execution_context(), without.create_execution_context()
        for n in (1, 3, 8):
            x = _x(n)
            assert a.run({"x": x})["y"].tobytes() == b.run({"x": x})["y"].tobytes(), (threads, n)
    int8rt.set_num_threads(1)


def _ort(m, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(
        ["y"], {"x": x})[0]


@pytest.mark.parametrize("case", ["wide", "non_broadcast_reader", "graph_output", "static_batch_other",
                                  "two_expands"])
def test_expands_that_change_a_shape_stay(case):
    kw = {"wide": dict(other="g2"), "non_broadcast_reader": dict(reader="Concat"),
          "graph_output": dict(also_output=True), "static_batch_other": dict(other="ones"),
          "two_expands": dict(second_expand=True)}[case]
    m = eca(**kw)
    names = op_names(int8rt.onnx.import_model(m))
    assert names.count("Expand") == 1, (case, names)
    ctx = _fp32(m)
    for n in (1, 3):
        x = _x(n)
        got, want = ctx.run({"x": x})["y"], _ort(m, x)
        assert got.shape == want.shape, (case, n, got.shape, want.shape)
        # float32 conv / mean summation order differs from ONNX Runtime's
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{case} n={n}")
