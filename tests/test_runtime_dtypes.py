"""Run-time tensors of float64, float16, int8, int16 and the unsigned integer
types (engine/dtypes.h): numpy arrays of the dtype in, the same dtype out,
through one-node ONNX models and the FP32 engine. Expected values are numpy's
(ONNX's reference): exact (==) for integer arithmetic with wraparound, for
float64 arithmetic, for float16 (computed in float32 and rounded once, which
equals numpy's float16 result for + - * /), for comparisons and for Cast
between all pairs; a wrong feed dtype is a clear InvalidArgumentError."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import int8rt

RNG = np.random.default_rng(2026)
INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]


def onnx_type(dtype: type) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def run_op(op: str, inputs: list[np.ndarray], out_dtype: type, attrs: dict | None = None) -> np.ndarray:
    names = [f"x{i}" for i in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], **(attrs or {}))
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, onnx_type(a.dtype), list(a.shape)) for n, a in zip(names, inputs)],
        # symbolic dims of the broadcast rank (every op here keeps it)
        [helper.make_tensor_value_info("y", onnx_type(out_dtype), [f"d{i}" for i in range(max(a.ndim for a in inputs))])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    (y,) = engine.run(dict(zip(names, inputs))).values()
    return y


def ints(dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op,f", [("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply)])
def test_integer_arithmetic_wraps_as_numpy(dtype: type, op: str, f) -> None:
    a, b = ints(dtype, (3, 5)), ints(dtype, (5,))  # broadcast; full range, so sums and products wrap
    with np.errstate(over="ignore"):
        expected = f(a, b)
    y = run_op(op, [a, b], dtype)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, expected, err_msg=f"{op} {np.dtype(dtype).name}")


@pytest.mark.parametrize("dtype", INTS)
def test_integer_div_truncates_and_mod_follows_the_divisor(dtype: type) -> None:
    a = ints(dtype, (40,))
    b = ints(dtype, (40,))
    b[b == 0] = 3
    if np.issubdtype(dtype, np.signedinteger):  # MIN / -1 overflows; ONNX leaves it undefined
        b[b == -1] = 5
    # truncation toward zero, in Python integers (exact for 64-bit values too)
    expected_div = np.array([abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
                             for x, y in zip(a.tolist(), b.tolist())], dtype)
    np.testing.assert_array_equal(run_op("Div", [a, b], dtype), expected_div)
    np.testing.assert_array_equal(run_op("Mod", [a, b], dtype), np.mod(a, b))  # fmod = 0: the divisor's sign


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("op,f", [("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply), ("Div", np.divide)])
def test_float16_and_float64_arithmetic_is_numpys(dtype: type, op: str, f) -> None:
    a = RNG.standard_normal((4, 6)).astype(dtype) * 30
    b = RNG.standard_normal((1, 6)).astype(dtype)
    y = run_op(op, [a, b], dtype)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, f(a, b), err_msg=f"{op} {np.dtype(dtype).name}")


@pytest.mark.parametrize("dtype", INTS + FLOATS)
@pytest.mark.parametrize("op,f", [("Less", np.less), ("Equal", np.equal), ("GreaterOrEqual", np.greater_equal)])
def test_comparisons_on_every_dtype(dtype: type, op: str, f) -> None:
    if np.issubdtype(dtype, np.integer):
        a, b = ints(dtype, (5, 4)), ints(dtype, (4,))
        a[0] = b  # some equal pairs
    else:
        a = RNG.choice(np.array([-np.inf, -1.5, 0.0, 1.5, 2.0, np.nan], dtype), (5, 4))
        b = RNG.choice(np.array([-1.5, 0.0, 2.0, np.nan], dtype), (4,))
    np.testing.assert_array_equal(run_op(op, [a, b], np.bool_), f(a, b))


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_min_max_on_every_dtype(dtype: type) -> None:
    a = ints(dtype, (3, 4)) if np.issubdtype(dtype, np.integer) else RNG.standard_normal((3, 4)).astype(dtype)
    b = ints(dtype, (4,)) if np.issubdtype(dtype, np.integer) else RNG.standard_normal((4,)).astype(dtype)
    np.testing.assert_array_equal(run_op("Max", [a, b], dtype), np.maximum(a, b))
    np.testing.assert_array_equal(run_op("Min", [a, b], dtype), np.minimum(a, b))


def cast_source(dtype: type) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):  # in every integer type's range once truncated, plus halfway cases
        return np.array([0.0, 1.5, 2.5, -0.0, 100.75, 65504.0, 1e-7, 3.0e-5, 0.1, 126.9], dtype)
    if dtype == np.bool_:
        return np.array([True, False, True], np.bool_)
    return ints(dtype, (16,))


@pytest.mark.parametrize("src", INTS + FLOATS + [np.bool_])
@pytest.mark.parametrize("dst", INTS + FLOATS + [np.bool_])
def test_cast_between_all_dtypes_is_numpys(src: type, dst: type) -> None:
    x = cast_source(src)
    if np.issubdtype(src, np.floating) and np.issubdtype(dst, np.unsignedinteger):
        x = np.abs(x)  # numpy leaves negative float -> unsigned undefined
    if np.issubdtype(src, np.floating) and np.issubdtype(dst, np.integer) and np.iinfo(dst).max < 65504:
        x = x[np.abs(x.astype(np.float64)) < np.iinfo(dst).max]
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x.astype(dst)
    y = run_op("Cast", [x], dst, {"to": onnx_type(dst)})
    assert y.dtype == np.dtype(dst)
    np.testing.assert_array_equal(y, expected, err_msg=f"{np.dtype(src).name} -> {np.dtype(dst).name}")


def test_float64_to_float16_rounds_once() -> None:
    # 1 + 2^-11 + 2^-40 is just above the halfway point between two halves; through
    # float32 it would round to the halfway point and then to even (1.0).
    x = np.array([1 + 2.0 ** -11 + 2.0 ** -40, 65519.99, 65520.0, 2.0 ** -25, 2.0 ** -25 + 2.0 ** -40], np.float64)
    y = run_op("Cast", [x], np.float16, {"to": onnx_type(np.float16)})
    np.testing.assert_array_equal(y.view(np.uint16), x.astype(np.float16).view(np.uint16))


@pytest.mark.parametrize("dtype", [np.float16, np.uint16, np.float64, np.uint8])
def test_data_movement_is_dtype_generic(dtype: type) -> None:
    x = (RNG.standard_normal((2, 3, 4)) * 100).astype(dtype)
    np.testing.assert_array_equal(run_op("Transpose", [x], dtype, {"perm": [2, 0, 1]}), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(run_op("Concat", [x, x[:, :1]], dtype, {"axis": 1}),
                                  np.concatenate([x, x[:, :1]], 1))
    np.testing.assert_array_equal(run_op("Identity", [x], dtype), x)
    cond = RNG.integers(0, 2, (3, 1)).astype(np.bool_)
    np.testing.assert_array_equal(run_op("Where", [cond, x, x[::-1].copy()], dtype), np.where(cond, x, x[::-1]))


def test_cumsum_float64() -> None:
    x = RNG.standard_normal((3, 7))
    y = run_op("CumSum", [x, np.array(1, np.int64)], np.float64)
    np.testing.assert_array_equal(y, np.cumsum(x, 1))


@pytest.mark.parametrize("feed,error", [
    (np.zeros((2, 3), np.float32), r"input 'x0': expected uint16, got float32"),
    (np.zeros((2, 3), np.int16), r"input 'x0': expected uint16, got int16"),
    (np.zeros((2, 3), np.complex64), r"input 'x0': expected float32 \(or the dtype an input declared"),
])
def test_a_feed_of_the_wrong_dtype_is_a_clear_error(feed: np.ndarray, error: str) -> None:
    node = helper.make_node("Identity", ["x0"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x0", onnx_type(np.uint16), [2, 3])],
                              [helper.make_tensor_value_info("y", onnx_type(np.uint16), [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    with pytest.raises(int8rt.InvalidArgumentError, match=error):
        engine.run({"x0": feed})


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_float64_and_float16_constants_keep_their_dtype(dtype: type) -> None:
    from onnx import numpy_helper
    c = (np.arange(6).reshape(2, 3) / 7).astype(dtype)
    node = helper.make_node("Add", ["x", "c"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx_type(dtype), [2, 3])],
                              [helper.make_tensor_value_info("y", onnx_type(dtype), [2, 3])],
                              [numpy_helper.from_array(c, "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    x = np.ones((2, 3), dtype)
    y = engine.run({"x": x})["y"]
    assert y.dtype == np.dtype(dtype)
    # constants are held as float32 (importer): exact for float16, float32 rounding for float64
    expected = x + c.astype(np.float32).astype(dtype)
    np.testing.assert_array_equal(y, expected)


def test_engine_file_keeps_the_run_time_dtypes() -> None:
    import ml_dtypes
    node_a = helper.make_node("Cast", ["x0"], ["a"], to=helper.np_dtype_to_tensor_dtype(np.dtype(ml_dtypes.float8_e4m3fn)))
    node_b = helper.make_node("Cast", ["a"], ["y"], to=onnx_type(np.float16))
    graph = helper.make_graph([node_a, node_b], "g", [helper.make_tensor_value_info("x0", onnx_type(np.uint16), [4])],
                              [helper.make_tensor_value_info("y", onnx_type(np.float16), [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    x = np.array([0, 3, 300, 65535], np.uint16)
    expected = np.clip(x.astype(np.float32), -448, 448).astype(ml_dtypes.float8_e4m3fn).astype(np.float16)
    for e in (engine, int8rt.Engine.deserialize(engine.serialize())):
        y = e.run({"x0": x})["y"]
        assert y.dtype == np.float16
        np.testing.assert_array_equal(y, expected)
