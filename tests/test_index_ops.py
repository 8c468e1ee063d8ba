"""Indexing and shape-driven layers of transformer and detector exports, one
node at a time against ONNX Runtime (tests/_ort_oracle.py): Trilu, ArgMax,
ArgMin, CumSum, GatherElements, GatherND, integer Abs / Neg / Sign, Mod, Tile, Size, TopK, ScatterND, ScatterElements, CastLike,
LpNormalization and the norm reductions ReduceL1 / ReduceL2 /
ReduceSumSquare. Exact
comparisons where the op only moves, selects or does integer arithmetic;
CumSum and float Mod on float32 compare exactly too (the same operations in
the same order as ONNX Runtime's loops: sums along the axis in order, C
fmod); the norms within a stated float32 bound."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

import int8rt
from _ort_oracle import run_ort
from int8rt._testing import run_single_op

RNG = np.random.default_rng(23)


def same_as_ort(op: str, inputs: Sequence[np.ndarray], attrs: dict[str, Any] | None = None,
                constant: Sequence[bool] = (), opset: int = 17) -> np.ndarray:
    attrs = attrs or {}
    constant = list(constant) + [False] * (len(inputs) - len(constant))
    (ours,) = run_single_op(op, list(inputs), attrs, constant, 1)
    (ref,) = run_ort(op, list(inputs), attrs, constant, 1, opset)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape, f"{op} {attrs}: {ours.dtype}{ours.shape} vs " \
                                                                f"{ref.dtype}{ref.shape}"
    np.testing.assert_array_equal(ours, ref, err_msg=f"{op} {attrs}")
    return ours


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 6, 4), (1, 7, 3)])
@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, 0, 2, -1, -9, 9])
def test_trilu(shape: tuple, upper: int, k: int | None) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    inputs = [x] if k is None else [x, np.array(k, np.int64)]
    same_as_ort("Trilu", inputs, {"upper": upper}, opset=14)
    same_as_ort("Trilu", [np.arange(np.prod(shape), dtype=np.int64).reshape(shape)] + inputs[1:], {"upper": upper},
                opset=14)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_arg_max_min(op: str, axis: int, keepdims: int, last: int, dtype: type) -> None:
    x = RNG.integers(-3, 4, (3, 5, 4)).astype(dtype)  # few values: ties happen
    same_as_ort(op, [x], {"axis": axis, "keepdims": keepdims, "select_last_index": last})


def test_argmax_picks_the_first_nan_as_numpy_does() -> None:
    x = np.array([[1.0, np.nan, 5.0, np.nan], [np.nan, 2.0, 3.0, 1.0], [0.0, 4.0, 4.0, -1.0]], np.float32)
    for op, ref in (("ArgMax", np.argmax), ("ArgMin", np.argmin)):
        (y,) = run_single_op(op, [x], {"axis": 1, "keepdims": 0}, [False], 1)
        assert y.tolist() == ref(x, axis=1).tolist()


@pytest.mark.parametrize("shape,axis", [((7,), 0), ((3, 5), 1), ((3, 5), -2), ((2, 3, 4), 1)])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_cumsum(shape: tuple, axis: int, exclusive: int, reverse: int, dtype: type) -> None:
    x = (RNG.standard_normal(shape) * 4).astype(dtype)
    same_as_ort("CumSum", [x, np.array(axis, np.int64)], {"exclusive": exclusive, "reverse": reverse})


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
def test_gather_elements(axis: int, idx_dtype: type) -> None:
    data = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    shape = [2, 3, 4]
    dim = data.shape[axis]
    shape[axis] = 6  # the axis may be longer than the data's
    idx = RNG.integers(-dim, dim, shape).astype(idx_dtype)
    same_as_ort("GatherElements", [data, idx], {"axis": axis})
    same_as_ort("GatherElements", [data.astype(np.int64), idx], {"axis": axis})


def test_gather_elements_index_out_of_range_is_named() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(GatherElements\): index 3 is outside \[-3, 3\)"):
        run_single_op("GatherElements", [np.zeros((3, 2), np.float32), np.array([[0, 3]], np.int64)], {"axis": 0},
                      [False, False], 1)


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((5,), ())])
def test_mod(fmod: int, dtype: type, shapes: tuple) -> None:
    a = RNG.integers(-20, 21, shapes[0]).astype(dtype)
    b = RNG.choice(np.array([-7, -3, -1, 2, 5], dtype), shapes[1])
    if dtype == np.float32:
        a = a + np.float32(0.25)
        if fmod == 0:  # the spec wants fmod = 1 for floats; ONNX Runtime refuses 0: numpy's mod is the reference
            (y,) = run_single_op("Mod", [a, b], {"fmod": 0}, [False, False], 1)
            np.testing.assert_array_equal(y, np.mod(a, b))
            return
    same_as_ort("Mod", [a, b], {"fmod": fmod}, opset=13)


def test_integer_mod_by_zero_is_an_error() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(Mod\): integer division by zero"):
        run_single_op("Mod", [np.array([3, 4], np.int64), np.array([1, 0], np.int64)], {}, [False, False], 1)


@pytest.mark.parametrize("op", ["Div", "Mod"])
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_integer_min_divided_by_minus_one_wraps(op: str, dtype: type) -> None:
    # Was: Div of int32/int64 MIN by -1 killed the process (SIGFPE in the hardware divide).
    # Integers wrap (engine/dtypes.h): MIN / -1 = MIN; MIN mod -1 = 0.
    info = np.iinfo(dtype)
    pairs = [(info.min, -1), (info.min, 1), (info.max, -1), (-7, -1), (7, -2), (-7, 2), (info.min, 3)]
    a = np.array([p for p, _ in pairs], dtype)
    b = np.array([q for _, q in pairs], dtype)
    (y,) = run_single_op(op, [a, b], {}, [False, False], 1)

    def div(p: int, q: int) -> int:  # truncating, wrapped to the type
        r = abs(p) // abs(q) * (1 if (p < 0) == (q < 0) else -1)
        return (r - info.min) % (1 << info.bits) + info.min

    want = [div(p, q) if op == "Div" else p - q * (p // q) for p, q in pairs]  # Mod: numpy / Python sign rule
    assert y.dtype == dtype and y.tolist() == want


@pytest.mark.parametrize("shape,repeats", [((2, 3), (1, 1)), ((2, 3), (3, 2)), ((1, 4, 2), (2, 1, 3)),
                                           ((5,), (0,)), ((2, 2), (2, 0))])
def test_tile_and_size(shape: tuple, repeats: tuple) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    same_as_ort("Tile", [x, np.array(repeats, np.int64)], constant=[False, True])
    (y,) = run_single_op("Tile", [x > 0, np.array(repeats, np.int64)], {}, [False, True], 1)
    np.testing.assert_array_equal(y, np.tile(x > 0, repeats))
    same_as_ort("Size", [x])


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("k", [0, 1, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_topk(axis: int, largest: int, k: int, dtype: type) -> None:
    x = RNG.integers(-3, 4, (3, 4, 5)).astype(dtype)  # ties: equal values come by lower index first
    if k > x.shape[axis]:
        with pytest.raises(int8rt.InvalidArgumentError, match=r"\(TopK\): K \[4\] must be one value in \[0, 3\]"):
            run_single_op("TopK", [x, np.array([k], np.int64)], {"axis": axis}, [False, True], 2)
        return
    inputs = [x, np.array([k], np.int64)]
    attrs = {"axis": axis, "largest": largest, "sorted": 1}
    ours = run_single_op("TopK", inputs, attrs, [False, True], 2)
    ref = run_ort("TopK", inputs, attrs, [False, True], 2, 17)
    for name, a, b in zip(("values", "indices"), ours, ref):
        assert a.dtype == b.dtype and a.shape == b.shape, f"TopK {attrs} k={k} {name}"
        np.testing.assert_array_equal(a, b, err_msg=f"TopK {attrs} k={k} {name}")


@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.int8, np.uint64])
def test_topk_other_dtypes(largest: int, dtype: type) -> None:
    """Against a stable NumPy sort (equal values by lower index first)."""
    x = RNG.integers(0, 6, (3, 7)).astype(dtype)
    from onnx import TensorProto, helper, numpy_helper
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, largest=largest)
    graph = helper.make_graph([node], "topk", [helper.make_tensor_value_info("x", elem, [3, 7])],
                              [helper.make_tensor_value_info("v", elem, [3, 4]),
                               helper.make_tensor_value_info("i", TensorProto.INT64, [3, 4])],
                              [numpy_helper.from_array(np.array([4], np.int64), "k")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    out = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).run({"x": x})
    values, indices = out["v"], out["i"]
    key = x.astype(np.float64)
    order = np.argsort(-key if largest else key, axis=1, kind="stable")[:, :4]
    assert values.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(values, np.take_along_axis(x, order, axis=1))


def test_topk_puts_nan_first_as_numpy_sorts_it() -> None:
    x = np.array([[1.0, np.nan, 3.0, 2.0]], np.float32)
    values, indices = run_single_op("TopK", [x, np.array([2], np.int64)], {}, [False, True], 2)
    assert indices.tolist() == [[1, 2]] and np.isnan(values[0, 0]) and values[0, 1] == 3.0


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_scatter_nd(reduction: str, dtype: type) -> None:
    data = RNG.integers(-5, 6, (4, 3, 2)).astype(dtype)
    indices = np.array([[[1], [-1]], [[0], [2]]], np.int64)  # whole [3, 2] slices; no repeats (none's order)
    updates = RNG.integers(-5, 6, (2, 2, 3, 2)).astype(dtype)
    same_as_ort("ScatterND", [data, indices, updates], {"reduction": reduction}, opset=18)
    point = np.array([[0, 1, 1], [3, 2, 0], [0, 1, 1]], np.int64)  # single elements, one repeated
    if reduction != "none":
        same_as_ort("ScatterND", [data, point, updates.reshape(-1)[:3].copy()], {"reduction": reduction}, opset=18)


def test_scatter_nd_index_out_of_range_is_named() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(ScatterND\): index 4 is outside \[-4, 4\)"):
        run_single_op("ScatterND", [np.zeros((4, 2), np.float32), np.array([[4]], np.int64),
                                    np.zeros((1, 2), np.float32)], {}, [False] * 3, 1)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
def test_scatter_elements(reduction: str, dtype: type, axis: int, idx_dtype: type) -> None:
    data = RNG.integers(-5, 6, (4, 3, 5)).astype(dtype)
    shape = [3, 2, 4]  # smaller than the data off the axis
    dim = data.shape[axis]
    if reduction == "none":  # distinct positions along each line (with repeats the order would matter)
        shape[axis] = dim - 1
        indices = np.argsort(RNG.random(data.shape), axis=axis)
        indices = indices[tuple(slice(0, k) for k in shape)] - RNG.integers(0, 2) * dim  # negative ones too
    else:  # repeats, and more updates than positions along the axis
        shape[axis] = dim + 2
        indices = RNG.integers(-dim, dim, shape)
    indices = np.ascontiguousarray(indices).astype(idx_dtype)
    updates = RNG.integers(-5, 6, indices.shape).astype(dtype)
    same_as_ort("ScatterElements", [data, indices, updates], {"axis": axis, "reduction": reduction}, opset=18)


def test_scatter_elements_bad_input_is_named() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(ScatterElements\): index -5 is outside \[-4, 4\)"):
        run_single_op("ScatterElements", [np.zeros((4, 2), np.float32), np.array([[-5, 0]], np.int64),
                                          np.zeros((1, 2), np.float32)], {}, [False] * 3, 1)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"updates are \[1, 1\], expected the indices' shape"):
        run_single_op("ScatterElements", [np.zeros((4, 2), np.float32), np.array([[1, 0]], np.int64),
                                          np.zeros((1, 1), np.float32)], {}, [False] * 3, 1)


def test_scatter_elements_on_constants_folds_as_beit_exports_it() -> None:
    """BEiT's relative position index (transformers' generate_relative_position_index:
    ``index[1:, 1:] = coords.sum(-1)`` and friends) exports as chains of
    ScatterElements on constants, which used to refuse the import; the chain
    folds and the bias it selects from a table matches ONNX Runtime's."""
    from onnx import TensorProto, helper, numpy_helper

    from _ort_oracle import ort

    n = 5
    coords = RNG.integers(0, 9, (n, n, 1)).astype(np.int64)
    col = np.broadcast_to(np.arange(n, dtype=np.int64).reshape(1, n, 1) % 2, (n, n, 1)).copy()
    table = RNG.standard_normal((32, 1)).astype(np.float32)  # indices up to 3 x 8
    nodes = [
        helper.make_node("ScatterElements", ["base", "col", "coords"], ["index0"], axis=2),
        helper.make_node("ScatterElements", ["index0", "col", "coords2"], ["index"], axis=2, reduction="add"),
        helper.make_node("ReduceSum", ["index", "axes"], ["flat_idx"], keepdims=0),  # relative_coords.sum(-1)
        helper.make_node("Gather", ["table", "flat_idx"], ["bias3"]),
        helper.make_node("Squeeze", ["bias3", "axes"], ["bias"]),
        helper.make_node("Add", ["x", "bias"], ["y"]),
        # and one on run-time data: x's rows scattered by a constant permutation
        helper.make_node("ScatterElements", ["y", "perm", "x"], ["z"], axis=1, reduction="max"),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in {
        "base": np.zeros((n, n, 2), np.int64), "col": col, "coords": coords, "coords2": coords[::-1].copy(),
        "axes": np.array([2], np.int64), "table": table,
        "perm": np.tile(RNG.permutation(n).astype(np.int64), (3, n, 1)).transpose(0, 2, 1).copy()}.items()]
    graph = helper.make_graph(nodes, "beit_index",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, n, n])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3, n, n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    x = RNG.standard_normal((3, n, n)).astype(np.float32)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    out = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32")).run({"x": x})["z"]
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("data_shape,idx_shape,batch_dims", [
    ((4, 3, 2), (5, 1), 0),        # whole [3, 2] slices
    ((4, 3, 2), (2, 3, 2), 0),     # [2] slices
    ((4, 3, 2), (7, 3), 0),        # single elements
    ((3, 4, 5), (3, 2, 1), 1),     # per batch: [5] slices
    ((2, 3, 4, 5), (2, 3, 6, 1), 2),
    ((2, 1, 1, 6), (2, 1, 1, 2), 0)])  # transformers' mask[batch_idx, kv_idx] on [N, S]-like data
def test_gather_nd(dtype: type, data_shape: tuple, idx_shape: tuple, batch_dims: int) -> None:
    data = RNG.integers(-9, 10, data_shape).astype(dtype)
    k = idx_shape[-1]
    dims = np.array(data_shape[batch_dims:batch_dims + k])
    idx = RNG.integers(-dims, dims, idx_shape[:-1] + (k,)).astype(np.int64)  # negative entries too
    same_as_ort("GatherND", [data, idx], {"batch_dims": batch_dims}, opset=13)


def test_gather_nd_bad_input_is_named() -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"\(GatherND\): index 4 is outside \[-4, 4\) \(dimension 0"):
        run_single_op("GatherND", [np.zeros((4, 2), np.float32), np.array([[1], [4]], np.int64)], {}, [False] * 2, 1)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"must end in a dimension in \[1, 2\]"):
        run_single_op("GatherND", [np.zeros((4, 2), np.float32), np.array([[1, 1, 1]], np.int64)], {}, [False] * 2, 1)
    with pytest.raises(int8rt.InvalidArgumentError, match=r"must match \(batch_dims\)"):
        run_single_op("GatherND", [np.zeros((4, 2), np.float32), np.zeros((3, 1), np.int64)], {"batch_dims": 1},
                      [False] * 2, 1)


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8])
def test_integer_abs_neg_sign(op: str, dtype: type) -> None:
    # T5's relative-position buckets take Abs of int64 position differences;
    # the extremes wrap in two's complement as in ONNX Runtime.
    info = np.iinfo(dtype)
    x = np.concatenate([RNG.integers(info.min, info.max, 40, dtype=dtype, endpoint=True),
                        np.array([info.min, info.max, 0, 1], dtype)]).reshape(4, 11)
    same_as_ort(op, [x], opset=13)


@pytest.mark.parametrize("op", ["ReduceL1", "ReduceL2", "ReduceSumSquare"])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([-1], 0), ([0, 2], 1), ([], 1), ([0, 1], 0)])
def test_norm_reductions(op: str, axes: list, keepdims: int) -> None:
    # Same terms summed in the same (index) order as ONNX Runtime's loop only
    # for short axes; a float32 bound otherwise (a few ulps per term).
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    inputs = [x] if not axes else [x, np.array(axes, np.int64)]
    (ours,) = run_single_op(op, inputs, {"keepdims": keepdims}, [False, True], 1)
    (ref,) = run_ort(op, inputs, {"keepdims": keepdims}, [False, True], 1, 18)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6, err_msg=f"{op} axes={axes} keepdims={keepdims}")


@pytest.mark.parametrize("op,dtype", [("ReduceProd", np.float32), ("ReduceProd", np.int64), ("ReduceProd", np.int32),
                                      ("ReduceSum", np.int64), ("ReduceSum", np.int32), ("ReduceMax", np.int64),
                                      ("ReduceMin", np.int32), ("ReduceMax", np.bool_), ("ReduceMin", np.bool_)])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([-1], 0), ([0, 2], 1), ([], 1), ([0, 1], 0)])
def test_reductions_on_integers_bools_and_products(op: str, dtype: type, axes: list, keepdims: int) -> None:
    # Integers exact; product factors in {-1, 1, 2} (int64) or {-1, 1}
    # (int32) keep every product of up to 60 of them in range (ORT's
    # overflow differs from wrapping). The float32 product within a few
    # ulps (ORT may multiply in another order).
    x = RNG.integers(-3, 4, (3, 4, 5))
    if dtype is np.bool_:
        x = x > 0
    elif dtype is np.float32:
        x = RNG.uniform(0.5, 1.5, x.shape)
    elif op == "ReduceProd":
        x = RNG.choice([-1, 1, 2] if dtype is np.int64 else [-1, 1], x.shape)
    else:
        x = x * 1000
    x = x.astype(dtype)
    inputs = [x] if not axes else [x, np.array(axes, np.int64)]
    (ours,) = run_single_op(op, inputs, {"keepdims": keepdims}, [False, True], 1)
    (ref,) = run_ort(op, inputs, {"keepdims": keepdims}, [False, True], 1, 20)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, f"{ours.dtype}{ours.shape} vs {ref.dtype}{ref.shape}"
    if dtype is np.float32:
        np.testing.assert_allclose(ours, ref, rtol=1e-5, err_msg=f"{op} axes={axes}")
    else:
        np.testing.assert_array_equal(ours, ref, err_msg=f"{op} {dtype.__name__} axes={axes} keepdims={keepdims}")


@pytest.mark.parametrize("src,like", [(np.float32, np.int64), (np.int64, np.float32), (np.float32, np.bool_),
                                      (np.bool_, np.float32), (np.int32, np.int64)])
def test_cast_like(src: type, like: type) -> None:
    x = (RNG.standard_normal((3, 4)) * 3).astype(src)
    same_as_ort("CastLike", [x, np.zeros(1, like)], constant=[False, True], opset=15)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_lp_normalization(p: int, axis: int) -> None:
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    (ours,) = run_single_op("LpNormalization", [x], {"p": p, "axis": axis}, [False], 1)
    (ref,) = run_ort("LpNormalization", [x], {"p": p, "axis": axis}, [False], 1, 17)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7, err_msg=f"p={p} axis={axis}")


def test_transformers_mask_and_t5_buckets_import() -> None:
    """The two patterns that kept transformers' dynamo exports out (RESULTS_realnets,
    newnets): the attention mask indexed as mask[batch_idx, kv_idx] (GatherND on
    bool, dynamic batch and sequence) and T5's Abs of int64 position differences,
    through the ONNX importer and an FP32 engine, == ONNX Runtime."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Shape", ["mask"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
        helper.make_node("Gather", ["shape", "one"], ["s"], axis=0),
        helper.make_node("Range", ["zero", "n", "one"], ["batch"]),
        helper.make_node("Range", ["zero", "s", "one"], ["pos"]),
        helper.make_node("Unsqueeze", ["batch", "axes123"], ["b4"]),       # [N, 1, 1, 1]
        helper.make_node("Unsqueeze", ["pos", "axes012"], ["p4"]),         # [1, 1, 1, S]
        helper.make_node("Add", ["b4", "p4"], ["sum4"]),                   # [N, 1, 1, S]
        helper.make_node("Shape", ["sum4"], ["shape4"]),
        helper.make_node("Expand", ["b4", "shape4"], ["bi"]),
        helper.make_node("Expand", ["p4", "shape4"], ["pi"]),
        helper.make_node("Unsqueeze", ["bi", "minus1"], ["bi5"]),
        helper.make_node("Unsqueeze", ["pi", "minus1"], ["pi5"]),
        helper.make_node("Concat", ["bi5", "pi5"], ["idx"], axis=-1),      # [N, 1, 1, S, 2]
        helper.make_node("GatherND", ["mask", "idx"], ["m4"]),             # [N, 1, 1, S] bool
        helper.make_node("Unsqueeze", ["pos", "axes1"], ["col"]),          # [S, 1]
        helper.make_node("Sub", ["p4", "col"], ["rel"]),                   # [1, 1, S, S] int64
        helper.make_node("Abs", ["rel"], ["dist"]),
        helper.make_node("Cast", ["dist"], ["distf"], to=TensorProto.FLOAT),
        helper.make_node("Where", ["m4", "distf", "neg"], ["out"]),       # [N, 1, S, S]
    ]
    consts = [helper.make_tensor(n, TensorProto.INT64, [], [v]) for n, v in (("zero", 0), ("one", 1))]
    consts += [helper.make_tensor(n, TensorProto.INT64, [len(v)], v)
               for n, v in (("axes123", [1, 2, 3]), ("axes012", [0, 1, 2]), ("minus1", [-1]), ("axes1", [1]))]
    consts.append(helper.make_tensor("neg", TensorProto.FLOAT, [], [-1e4]))
    graph = helper.make_graph(nodes, "mask", [helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", "S"])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 1, "S", "S"])], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    engine = int8rt.build_engine(model.SerializeToString(), int8rt.BuilderConfig(precision="fp32"))
    ctx = engine.create_execution_context()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for n, s in ((1, 5), (3, 7)):
        mask = RNG.integers(0, 2, (n, s)).astype(bool)
        ours = ctx.run({"mask": mask})["out"]
        (ref,) = sess.run(None, {"mask": mask})
        assert ours.shape == ref.shape == (n, 1, s, s)
        np.testing.assert_array_equal(ours, ref)
