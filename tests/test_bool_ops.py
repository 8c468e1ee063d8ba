"""Bool tensors and the comparison / logic / selection layers, one node at a
time against ONNX Runtime (tests/_ort_oracle.py), compared exactly (every op
here selects or compares, no rounding): Equal, Greater, GreaterOrEqual,
Less, LessOrEqual, And, Or, Xor, Not, Where, IsNaN, IsInf, Cast to and from
bool, ConstantOfShape and Range. Then bool through the public surface: a
Network with bool inputs, constants and outputs, numpy bool arrays in and
out, an engine file round trip, and the errors for wrong dtypes."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

import int8rt
from _ort_oracle import run_ort
from int8rt._testing import run_single_op

RNG = np.random.default_rng(11)
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (3, 1)), ((1, 3, 1, 5), (2, 1, 4, 1)), ((4, 5), ()), ((), (2, 3))]


def same_as_ort(op: str, inputs: Sequence[np.ndarray], attrs: dict[str, Any] | None = None,
                constant: Sequence[bool] = (), opset: int = 17) -> np.ndarray:
    attrs = attrs or {}
    constant = list(constant) + [False] * (len(inputs) - len(constant))
    (ours,) = run_single_op(op, list(inputs), attrs, constant, 1)
    (ref,) = run_ort(op, list(inputs), attrs, constant, 1, opset)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape, f"{op}: {ours.dtype}{ours.shape} vs {ref.dtype}{ref.shape}"
    np.testing.assert_array_equal(ours, ref, err_msg=f"{op} {attrs} on {[x.dtype for x in inputs]}")
    return ours


def operands(dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == np.bool_:
        return RNG.integers(0, 2, shape).astype(np.bool_)
    if dtype == np.float32:  # few distinct values so that equality happens, plus NaN and infinities
        return RNG.choice(np.array([-np.inf, -1.5, 0.0, -0.0, 1.5, 2.0, np.inf, np.nan], np.float32), shape)
    return RNG.integers(-3, 4, shape).astype(dtype)


@pytest.mark.parametrize("op", ["Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
@pytest.mark.parametrize("shapes", SHAPES)
def test_comparisons(op: str, dtype: type, shapes: tuple) -> None:
    a, b = operands(dtype, shapes[0]), operands(dtype, shapes[1])
    y = same_as_ort(op, [a, b])
    assert y.dtype == np.bool_


def test_equal_on_bool_and_a_constant_operand() -> None:
    a, b = operands(np.bool_, (3, 5)), operands(np.bool_, (5,))
    same_as_ort("Equal", [a, b])
    same_as_ort("Less", [operands(np.int64, (3, 5)), np.array(1, np.int64)], constant=[False, True])


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
@pytest.mark.parametrize("shapes", SHAPES)
def test_logic(op: str, shapes: tuple) -> None:
    same_as_ort(op, [operands(np.bool_, shapes[0]), operands(np.bool_, shapes[1])])


def test_not_isnan_isinf() -> None:
    same_as_ort("Not", [operands(np.bool_, (4, 7))])
    x = operands(np.float32, (5, 9))
    same_as_ort("IsNaN", [x])
    for neg, pos in ((1, 1), (0, 1), (1, 0), (0, 0)):
        same_as_ort("IsInf", [x], {"detect_negative": neg, "detect_positive": pos})


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("shapes", [((2, 3, 4),) * 3, ((3, 1), (1, 4), (2, 1, 1)), ((), (5,), (2, 1)),
                                    ((1, 1, 4), (2, 3, 4), ())])
def test_where(dtype: type, shapes: tuple) -> None:
    c, x, y = operands(np.bool_, shapes[0]), operands(dtype, shapes[1]), operands(dtype, shapes[2])
    if dtype == np.bool_:  # ONNX Runtime has no bool Where: numpy's is the reference
        (ours,) = run_single_op("Where", [c, x, y], {}, [False] * 3, 1)
        np.testing.assert_array_equal(ours, np.where(c, x, y))
        assert ours.dtype == np.bool_
    else:
        same_as_ort("Where", [c, x, y])


@pytest.mark.parametrize("to,src", [(9, np.float32), (9, np.int64), (9, np.int32), (1, np.bool_), (7, np.bool_),
                                    (6, np.bool_), (6, np.int64), (6, np.float32), (9, np.bool_)])
def test_cast_to_and_from_bool(to: int, src: type) -> None:
    x = operands(src, (3, 6))
    if src == np.float32:
        x = np.nan_to_num(x, posinf=5.0, neginf=-5.0)  # float -> int of inf is undefined in ONNX; NaN -> bool is True
        x[0, 0] = np.nan if to == 9 else 0.0
    same_as_ort("Cast", [x], {"to": to})


def test_constant_of_shape_and_range_at_run_time() -> None:
    # Their inputs are constants here, as in a shape chain the engine evaluates.
    y = run_single_op("ConstantOfShape", [np.array([2, 3], np.int64), np.array([True])], {}, [True, True], 1)[0]
    assert y.dtype == np.bool_ and y.shape == (2, 3) and y.all()
    y = run_single_op("ConstantOfShape", [np.array([4], np.int64)], {}, [True], 1)[0]
    assert y.dtype == np.float32 and np.array_equal(y, np.zeros(4, np.float32))
    for start, limit, delta in ((0, 7, 2), (10, 1, -3), (3, 3, 1), (5, 1, 1), (-4, 4, 3)):
        for dt in (np.int64, np.float32):
            args = [np.array(v, dt) for v in (start, limit, delta)]
            same_as_ort("Range", args, constant=[True] * 3, opset=17)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(Range\): delta must be non-zero"):
        run_single_op("Range", [np.array(0, np.int64), np.array(4, np.int64), np.array(0, np.int64)], {},
                      [True] * 3, 1)


def test_dtype_errors_name_the_layer() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(Greater\): operands are float32 and int64"):
        run_single_op("Greater", [np.zeros(3, np.float32), np.zeros(3, np.int64)], {}, [False, False], 1)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(And\): input 1 must be bool, got int64"):
        run_single_op("And", [np.zeros(3, np.bool_), np.zeros(3, np.int64)], {}, [False, False], 1)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(Where\): input 0 must be bool, got float32"):
        run_single_op("Where", [np.zeros(3, np.float32)] * 3, {}, [False] * 3, 1)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(Where\): X is float32 and Y is int64"):
        run_single_op("Where", [np.zeros(3, np.bool_), np.zeros(3, np.float32), np.zeros(3, np.int64)], {},
                      [False] * 3, 1)


def mask_network() -> int8rt.Network:
    """bool mask in, float x in: y = Where(mask & keep, x, -1); also outputs Not(mask) (bool)."""
    net = int8rt.Network()
    x = net.add_input("x", [-1, 4], "float32")
    mask = net.add_input("mask", [-1, 4], "bool")
    keep = net.add_constant("keep", np.array([True, True, False, True]))
    fill = net.add_constant("fill", np.array(-1.0, np.float32))
    (both,) = net.add_node("And", "and", [mask, keep], {}, ["both"])
    (y,) = net.add_node("Where", "where", [both, x, fill], {}, ["y"])
    (inv,) = net.add_node("Not", "not", [mask], {}, ["inverted"])
    net.mark_output(y)
    net.mark_output(inv)
    return net


def test_bool_inputs_constants_outputs_and_the_engine_file(tmp_path) -> None:
    net = mask_network()
    assert net.tensor(net.find_tensor("keep"))["dtype"] == "bool"
    assert net.constant_data("keep").dtype == np.bool_
    engine = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    mask = RNG.integers(0, 2, (3, 4)).astype(np.bool_)
    want_y = np.where(mask & np.array([True, True, False, True]), x, np.float32(-1))
    path = tmp_path / "mask.i8rt"
    engine.save(path)
    for e in (engine, int8rt.Engine.load(path)):
        out = e.run({"x": x, "mask": mask})
        assert out["inverted"].dtype == np.bool_
        np.testing.assert_array_equal(out["inverted"], ~mask)
        np.testing.assert_array_equal(out["y"], want_y)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"input 'mask': expected bool, got int64"):
        engine.run({"x": x, "mask": mask.astype(np.int64)})
    with pytest.raises(int8rt.InvalidArgumentError, match=r"input 'x': expected float32, got bool"):
        engine.run({"x": mask, "mask": mask})


def test_bool_bytes_other_than_0_and_1_read_as_true() -> None:
    """numpy reads any non-zero byte of a bool array as True; so do int8rt's
    constants and inputs (the layers compute on 0 / 1)."""
    odd = np.array([0, 2, 255, 1], np.uint8).view(np.bool_)
    net = int8rt.Network()
    m = net.add_input("m", [4], "bool")
    c = net.add_constant("c", odd)
    assert net.constant_data("c").view(np.uint8).tolist() == [0, 1, 1, 1]
    (y,) = net.add_node("Xor", "xor", [m, c], {}, ["y"])
    net.mark_output(y)
    engine = int8rt.build_engine(net, int8rt.BuilderConfig(precision="fp32"))
    np.testing.assert_array_equal(engine.run({"m": odd})["y"], np.zeros(4, np.bool_))


def test_batch_dependent_shape_through_equal_and_where_runs_as_a_shape_tensor() -> None:
    """torch's expand(-1 ...) pattern with a dynamic batch: Where(Equal(target,
    -1), 1, target) over a batch-dependent target. The bool Equal output is a
    shape tensor too, so inference evaluates the chain for each batch size."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    def c(name: str, vals: list) -> Any:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(vals, np.int64), name))

    nodes = [helper.make_node("Shape", ["x"], ["s"]), c("zero", [0]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0), c("four", [4]),
             helper.make_node("Concat", ["n", "four"], ["target"], axis=0), c("minus", [-1, -1]),
             helper.make_node("Equal", ["target", "minus"], ["eq"]), c("ones", [1, 1]),
             helper.make_node("Where", ["eq", "ones", "target"], ["fixed"]),
             helper.make_node("Expand", ["row", "fixed"], ["y"])]
    row = np.arange(4, dtype=np.float32).reshape(1, 4)
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(row, "row")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    assert {"Equal", "Where", "Expand"} <= {n["op"] for n in int8rt.onnx.import_model(model).nodes()}
    engine = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32"))
    for batch in (1, 3):
        y = engine.run({"x": np.zeros((batch, 3), np.float32)})["y"]
        np.testing.assert_array_equal(y, np.broadcast_to(row, (batch, 4)))
